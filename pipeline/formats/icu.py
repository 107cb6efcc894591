"""ICU MessageFormat, as far as catalogs need it: brace balance, one plural, placeholders.

A message ``{n} left {n, plural, one {# file} other {# files}}`` has one
top-level plural; per target category it becomes one text to translate (the
prefix, that category's branch, the suffix: ``{n} left # files``), and the
translations come back together as ``{n, plural, one {...} few {...} other
{...}}``, whole sentences inside each branch, as ICU recommends. Anything
richer (several plurals, ``select``, ``offset:``) is one text, sent whole.
Apostrophes quote as ICU says: ``'{'`` is a literal brace, ``''`` an apostrophe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["IcuPlural", "arguments", "assemble", "check", "is_icu", "placeholders", "plural"]

_ICU = re.compile(r"\{\s*[\w.]+\s*,\s*(?:plural|select|selectordinal|number|date|time)\b")
_PLACEHOLDER = re.compile(
    r"\{\{[^{}]*\}\}"  # i18next {{var}}, {{var, format}}
    r"|\$t\([^)]*\)"  # i18next nesting $t(key)
    r"|\{\s*[\w.]+\s*(?:,[^{}]*)?\}"  # ICU {arg}, {arg, number}
    r"|</?[A-Za-z0-9][\w-]*\s*/?>"  # rich-text and Trans tags <1>, </strong>, <br/>
)
_SELECTOR = re.compile(r"\s*(=\d+|[A-Za-z]+)\s*")


@dataclass(frozen=True, slots=True)
class IcuPlural:
    """A message with one top-level plural: text around it, its argument, its branches."""

    prefix: str
    arg: str
    branches: tuple[tuple[str, str], ...]  # (selector, message), source order
    suffix: str

    def branch(self, category: str) -> str:
        """The source text that a target ``category`` translates: the same category,
        else ``=1`` for ``one``, else ``other``."""
        found = dict(self.branches)
        text = found.get(category) or (found.get("=1") if category == "one" else None)
        return self.prefix + (text or found.get("other", "")) + self.suffix

    def exact(self) -> list[str]:
        return [sel for sel, _ in self.branches if sel.startswith("=")]


def is_icu(text: str) -> bool:
    """Whether ``text`` uses ICU arguments with a type (plural, select, number...)."""
    return bool(_ICU.search(text))


def placeholders(text: str) -> tuple[str, ...]:
    """The protected spans of a JSON catalog message: ``{{var}}``, ``{arg}``, ``#``, tags."""
    found = _PLACEHOLDER.findall(text)
    return tuple(found + (["#"] if is_icu(text) and "#" in text else []))


def _close(text: str, start: int) -> int:
    """The index just past the brace closing the ``{`` at ``start``; ValueError if none."""
    depth, pos = 0, start
    while pos < len(text):
        char = text[pos]
        if char == "'" and text[pos + 1 : pos + 2] == "'":
            pos += 2
            continue
        if char == "'" and text[pos + 1 : pos + 2] in ("{", "}", "#", "|"):
            end = text.find("'", pos + 1)
            pos = len(text) if end < 0 else end + 1
            continue
        depth += (char == "{") - (char == "}")
        pos += 1
        if depth == 0:
            return pos
        if depth < 0:
            break
    raise ValueError(f"unbalanced braces in ICU message {text[:60]!r}")


def check(text: str) -> None:
    """Raise ValueError when ``text``'s braces do not balance (quotes respected)."""
    pos = 0
    while True:
        opening, closing = text.find("{", pos), text.find("}", pos)
        if closing >= 0 and (opening < 0 or closing < opening):
            if not _quoted(text, closing):
                raise ValueError(f"a '}}' closes nothing in ICU message {text[:60]!r}")
            pos = closing + 1
            continue
        if opening < 0:
            return
        pos = opening + 1 if _quoted(text, opening) else _close(text, opening)


def _quoted(text: str, index: int) -> bool:
    """Whether the brace at ``index`` sits inside an ICU apostrophe quote."""
    quoted, pos = False, 0
    while pos < index:
        if text[pos] == "'" and text[pos + 1 : pos + 2] == "'":
            pos += 2
            continue
        if text[pos] == "'" and (quoted or text[pos + 1 : pos + 2] in ("{", "}", "#", "|")):
            quoted = not quoted
        pos += 1
    return quoted


_PLURAL_HEAD = re.compile(r"\{\s*([\w.]+)\s*,\s*plural\s*,")


def _groups(text: str) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` of each top-level ``{...}`` of ``text`` not inside a quote."""
    pos = 0
    while (start := text.find("{", pos)) >= 0:
        if _quoted(text, start):
            pos = start + 1
            continue
        pos = _close(text, start)
        yield start, pos


def plural(text: str) -> IcuPlural | None:
    """``text``'s single top-level plural, or None (none, several, or a richer form)."""
    check(text)
    found = [
        (head, end)
        for start, end in _groups(text)
        if (head := _PLURAL_HEAD.match(text, start, end)) is not None
    ]
    if len(found) != 1:
        return None
    head, end = found[0]
    branches = _branches(text[head.end() : end - 1])
    if branches is None:
        return None
    return IcuPlural(text[: head.start()], head.group(1), branches, text[end:])


_ARG = re.compile(r"\s*([\w.]+)\s*(?:,\s*(\w+)\s*(?:,(.*))?)?$", re.DOTALL)


def arguments(text: str) -> set[str]:
    """The argument names ``text`` uses, branches of plurals and selects included."""
    check(text)
    names: set[str] = set()
    for start, end in _groups(text):
        found = _ARG.match(text, start + 1, end - 1)
        if found:
            names.add(found.group(1))
            if found.group(2) in ("plural", "select", "selectordinal"):
                body = re.sub(r"^\s*offset\s*:\s*\d+", "", found.group(3) or "")
                for _, branch in _branches(body) or ():
                    names |= arguments(branch)
    return names


def _branches(body: str) -> tuple[tuple[str, str], ...] | None:
    out, pos = [], 0
    while pos < len(body.rstrip()):
        selector = _SELECTOR.match(body, pos)
        if not selector or body[selector.end() : selector.end() + 1] != "{":
            return None  # offset:, or something this reader does not split
        end = _close(body, selector.end())
        out.append((selector.group(1), body[selector.end() + 1 : end - 1]))
        pos = end
    return tuple(out) if any(sel == "other" for sel, _ in out) else None


def assemble(arg: str, branches: list[tuple[str, str]]) -> str:
    """``{arg, plural, sel {text} ...}`` from translated branches, in the order given."""
    return "{" + arg + ", plural, " + " ".join(f"{sel} {{{text}}}" for sel, text in branches) + "}"
