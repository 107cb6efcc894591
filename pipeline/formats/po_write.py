"""Writing gettext entries: msgstr lines, flags and the header of a target catalog.

An entry is re-emitted from the lines it already has: its comments, references,
``msgctxt``/``msgid``/``msgid_plural`` lines are copied byte for byte, its
flags line is written anew (``fuzzy`` added or dropped; the ``#|`` previous
strings go with a dropped ``fuzzy``, as msgmerge has them), and its msgstr
lines are the new strings, wrapped as the file wraps (``PoCatalog.width``).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import polib
from babel import UnknownLocaleError
from babel.messages.plurals import get_plural

from .po_file import Entry, PoCatalog, nplurals

__all__ = ["Forms", "entry_lines", "header_text", "plural_forms", "string_lines"]

_LARGE = (1000, 10_000, 100_000, 1_000_000, 2_000_000, 1_000_000_000)


@dataclass(frozen=True, slots=True)
class Forms:
    """A target's gettext plural forms: the header value and example counts per form."""

    header: str  # nplurals=3; plural=...;
    examples: tuple[tuple[int, ...], ...]  # per msgstr[i], up to four counts it is used for

    @property
    def count(self) -> int:
        return len(self.examples)


def plural_forms(lang: str, declared: str | None) -> Forms:
    """The target's forms: those its catalog declares, else babel's for ``lang``."""
    if declared and nplurals(declared):
        try:
            return _forms(" ".join(declared.split()))
        except ValueError:
            pass
    for tag in (lang.replace("-", "_"), lang.replace("_", "-").split("-")[0]):
        try:
            return _forms(get_plural(tag).plural_forms)
        except (UnknownLocaleError, ValueError):
            continue
    return _forms("nplurals=2; plural=(n != 1);")


@cache
def _forms(header: str) -> Forms:
    count = nplurals(header) or 1
    expression = header.partition("plural=")[2].rstrip().rstrip(";").strip() or "0"
    choose = gettext.c2py(expression)
    found: list[list[int]] = [[] for _ in range(count)]
    for n in (*range(1000), *_LARGE):
        index = choose(n)
        if 0 <= index < count and len(found[index]) < 4:
            found[index].append(n)
    return Forms(header if header.endswith(";") else header + ";", tuple(map(tuple, found)))


def string_lines(keyword: str, text: str, width: int | None, prefix: str = "") -> list[str]:
    """``msgstr "..."`` lines for ``text``: split after each ``\\n``, wrapped at ``width``."""
    escaped = [polib.escape(part) for part in _lines(text)] or [""]
    single = f'{prefix}{keyword} "{escaped[0]}"'
    if len(escaped) == 1 and (width is None or len(single) <= width):
        return [single]
    out = [f'{prefix}{keyword} ""']
    for part in escaped:
        out.extend(f'{prefix}"{chunk}"' for chunk in _wrap(part, width, len(prefix)))
    return out


def _lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` (only there: PO strings break at ``\\n`` alone)."""
    parts = [part + "\n" for part in text.split("\n")]
    parts[-1] = parts[-1][:-1]
    return [part for part in parts if part]


def _wrap(escaped: str, width: int | None, indent: int) -> list[str]:
    if width is None:
        return [escaped]
    room = max(width - indent - 2, 10)
    chunks, current = [], ""
    for token in re.findall(r"[^ ]* *|[^ ]+", escaped):
        if current and len(current) + len(token) > room:
            chunks.append(current)
            current = ""
        current += token
    if current:
        chunks.append(current)
    return chunks or [""]


def entry_lines(
    entry: Entry,
    catalog: PoCatalog,
    msgstr: Sequence[str],
    *,
    plural: bool,
    fuzzy: bool,
) -> list[bytes]:
    """``entry`` with new msgstr strings (msgstr[0..n-1] when ``plural``) and fuzzy flag."""
    newline = catalog.newline.encode()
    prefix = "#~ " if entry.obsolete else ""
    flags = [flag for flag in entry.flags if flag != "fuzzy"]
    flags = ["fuzzy", *flags] if fuzzy else flags
    out: list[bytes] = []
    flagged = False
    for raw, kind in zip(entry.lines, entry.kinds, strict=True):
        if kind in ("fl", "str", "blank") or (kind == "prev" and not fuzzy):
            continue
        if not flagged and kind in ("prev", "ctxt", "id") and flags:
            out.append(("#, " + ", ".join(flags)).encode(catalog.codec) + newline)
        flagged = flagged or kind in ("prev", "ctxt", "id")
        out.append(raw if raw.endswith(b"\n") else raw + newline)
    texts: list[str] = []
    if plural:
        for index, text in enumerate(msgstr):
            texts += string_lines(f"msgstr[{index}]", text, catalog.width, prefix)
    else:
        texts += string_lines("msgstr", msgstr[0] if msgstr else "", catalog.width, prefix)
    out += [line.encode(catalog.codec) + newline for line in texts]
    return out


def header_text(text: str, changes: dict[str, str]) -> str:
    """The header's ``Key: value`` lines with ``changes`` set (replaced in place, else added)."""
    lines = [line for line in text.split("\n") if line]
    for key, value in changes.items():
        at = next(
            (i for i, line in enumerate(lines) if line.partition(":")[0].strip() == key), None
        )
        if at is None:
            lines.append(f"{key}: {value}")
        else:
            lines[at] = f"{key}: {value}"
    return "".join(line + "\n" for line in lines)
