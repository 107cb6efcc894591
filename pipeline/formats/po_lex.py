"""Where a PO file's entries sit: each line's kind, and the lines cut into entries.

A line is a comment (``tc`` translator, ``gc`` extracted, ``oc`` reference,
``fl`` flags, ``prev`` a ``#|`` previous string), a keyword line or its
continuation (``ctxt`` / ``id`` / ``plural`` / ``str``) or ``blank``; an
entry runs from its first comment to its last ``msgstr`` line.  Errors name
the line and what to fix; what the entries mean is polib's part (``po_file``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .catalog import CatalogError

__all__ = ["Lexed", "lex"]

_KEYWORD = re.compile(r"(msgctxt|msgid_plural|msgid|msgstr)(\[\d+\])?(?=[\s\"]|$)")
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_FIELDS = {"msgctxt": "ctxt", "msgid": "id", "msgid_plural": "plural", "msgstr": "str"}
_OPENS = {"tc", "gc", "oc", "fl", "prev", "ctxt", "id"}


@dataclass(frozen=True, slots=True)
class Lexed:
    """One entry's span of lines and their kinds."""

    start: int  # index of the first line
    stop: int
    kinds: tuple[str, ...]
    obsolete: bool
    empty_msgid: bool


def _classify(text: str) -> tuple[str, bool]:
    """A line's kind (``cont`` for a bare string) and whether it is obsolete (``#~``)."""
    body = text.strip()
    if not body:
        return "blank", False
    obsolete = body.startswith("#~")
    if obsolete:
        body = body[2:].lstrip()
        if body.startswith("|"):
            return "prev", True
        if not body or body.startswith("#"):
            raise ValueError("an empty #~ line; remove it or add the obsolete string")
    elif body.startswith("#"):
        return {"#,": "fl", "#.": "gc", "#:": "oc", "#|": "prev"}.get(body[:2], "tc"), False
    if body.startswith('"'):
        _literal(body)
        return "cont", obsolete
    keyword = _KEYWORD.match(body)
    if keyword is None:
        raise ValueError("expected msgctxt, msgid, msgstr, a quoted string or a # comment")
    rest = body[keyword.end() :].strip()
    if not rest.startswith('"'):
        raise ValueError(f"{keyword.group(0)} needs a quoted string after it")
    _literal(rest)
    return _FIELDS[keyword.group(1)], obsolete


def _literal(text: str) -> None:
    """Check that ``text`` is exactly one C string literal."""
    found = _LITERAL.match(text)
    if found is None:
        raise ValueError('unterminated string; close it with " (and escape quotes inside as \\")')
    if found.end() != len(text):
        raise ValueError('text after the closing quote; escape a quote inside a string as \\"')


def lex(texts: list[str], path: Path) -> list[Lexed]:
    """Cut the lines into entries; each entry's lines get a kind (continuations resolved)."""
    found: list[Lexed] = []
    kinds: list[str] = []
    start = last = -1
    field = ""
    for number, text in enumerate(texts):
        try:
            kind, _obsolete = _classify(text)
        except ValueError as exc:
            raise CatalogError(path, number + 1, str(exc)) from None
        if kind == "blank":
            if start >= 0:
                kinds.append(kind)
            continue
        if start >= 0 and "str" in kinds and kind in _OPENS:
            found.append(_lexed(texts, start, last + 1, kinds[: last + 1 - start]))
            start, kinds = -1, []
        if start < 0:
            start = number
        if kind == "cont":
            if not field:
                raise CatalogError(path, number + 1, "a string with no msgid or msgstr before it")
            kind = field
        field = kind if kind in _FIELDS.values() else ""
        kinds.append(kind)
        last = number
    if start >= 0 and "id" in kinds:
        if "str" not in kinds:
            raise CatalogError(path, last + 1, 'msgid without msgstr; add msgstr ""')
        found.append(_lexed(texts, start, last + 1, kinds[: last + 1 - start]))
    return found


def _lexed(texts: list[str], start: int, stop: int, kinds: list[str]) -> Lexed:
    ids = [texts[start + i].strip() for i, kind in enumerate(kinds) if kind == "id"]
    obsolete = ids[0].startswith("#~")
    literals = [text[text.index('"') :] for text in ids]
    return Lexed(start, stop, tuple(kinds), obsolete, all(lit == '""' for lit in literals))
