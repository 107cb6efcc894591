"""Android string resources: the text aapt2 reads from an element, and the element for a text.

Read (``decode``) as aapt2 does: backslash escapes (``\\'``, ``\\"``, ``\\n``,
``\\t``, ``\\@``, ``\\?``, ``\\\\``, ``\\uXXXX``), double quotes that keep white
space and are dropped, runs of other white space collapsed to one space and
trimmed at both ends; CDATA is character data like any other. Markup
(``<xliff:g>`` spans whole, ``<b>``/``</b>`` tags one by one) stays literal
XML. Written (``encode``) the other way round: apostrophes, quotes and
backslashes escaped, newlines and tabs as ``\\n``/``\\t``, a leading ``@`` or
``?`` escaped, and the whole value double-quoted when it holds white space
that would otherwise collapse.
"""

from __future__ import annotations

import re

from .xmltext import escape, fragment

__all__ = ["decode", "encode"]

_ESCAPES = {"n": "\n", "t": "\t"}
_WRITE = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_SPACE = " \t\n\r"


def decode(parts: list[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
    """The text of an element's ``pieces`` and its markup (literal XML) in order."""
    tokens: list[tuple[str, str]] = []  # (chars, "plain" | "kept" | "tag")
    quoted = False
    for kind, chars in parts:
        if kind == "tag":
            if not chars.startswith(("<!--", "<?")):  # aapt2 drops comments
                tokens.append((chars, "tag"))
            continue
        chars = chars.replace("\r\n", "\n")  # XML's end-of-line handling
        position = 0
        while position < len(chars):
            char = chars[position]
            if char == "\\" and position + 1 < len(chars):
                char, position = _escaped(chars, position)
                tokens.append((char, "kept"))
                continue
            if char == '"':
                quoted = not quoted
            elif char in _SPACE and not quoted:
                tokens.append((char, "plain"))
            else:
                tokens.append((char, "kept"))
            position += 1
    return _collapse(tokens), tuple(chars for chars, kind in tokens if kind == "tag")


def _escaped(chars: str, position: int) -> tuple[str, int]:
    """The character a backslash escape at ``position`` stands for, and where it ends."""
    code = chars[position + 1]
    if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", chars[position + 2 : position + 6]):
        return chr(int(chars[position + 2 : position + 6], 16)), position + 6
    return _ESCAPES.get(code, code), position + 2


def _collapse(tokens: list[tuple[str, str]]) -> str:
    """Unquoted white space: each run becomes one space, none at either end."""
    out: list[str] = []
    pending = False
    for chars, kind in tokens:
        if kind == "plain":
            pending = True
            continue
        if pending and out:
            out.append(" ")
        pending = False
        out.append(chars)
    return "".join(out)


def encode(text: str, tags: tuple[str, ...], namespaces: str) -> str | None:
    """The element content that reads as ``text``, or None if its markup is not ``tags``."""
    xml = fragment(text, tags, namespaces, escaper=_escape)
    if xml is None:
        return None
    if xml.startswith(("@", "?")):
        xml = "\\" + xml
    spaced = text != text.strip(" ") or "  " in text
    return f'"{xml}"' if spaced else xml


def _escape(text: str) -> str:
    return escape("".join(_WRITE.get(char, char) for char in text))
