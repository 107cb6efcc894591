"""What makes a well-formed PO file a bad catalog: duplicate entries, wrong plural counts.

gettext's own tools refuse both (``msgfmt``: "duplicate message definition",
"nplurals = N but plural form msgstr[M] ..."); the error names the entry's line.
"""

from __future__ import annotations

from .catalog import CatalogError
from .po_file import Entry, PoCatalog, nplurals

__all__ = ["check"]


def check(catalog: PoCatalog) -> PoCatalog:
    """``catalog`` if its active entries are unique and their plural counts match the
    header's ``nplurals``; else ``CatalogError`` at the first offending entry."""
    seen: dict[tuple[str | None, str], Entry] = {}
    count = nplurals(catalog.plural_forms)
    for entry in catalog.entries():
        first = seen.setdefault(entry.key, entry)
        if first is not entry:
            where = f" (msgctxt {entry.msgctxt!r})" if entry.msgctxt is not None else ""
            message = (
                f"duplicate msgid {_short(entry.msgid)}{where}, first at line {first.line}; "
                "merge the two entries (msguniq) or give one a msgctxt"
            )
            raise CatalogError(catalog.path, _line(entry, "id"), message)
        if entry.plural and count is not None and len(entry.msgstr) != count:
            message = (
                f"msgid {_short(entry.msgid)} has {len(entry.msgstr)} plural forms but the "
                f"header's Plural-Forms says nplurals={count}; write msgstr[0] to "
                f"msgstr[{count - 1}] (or fix Plural-Forms)"
            )
            raise CatalogError(catalog.path, _line(entry, "str"), message)
    return catalog


def _line(entry: Entry, kind: str) -> int:
    """The line of ``entry``'s first line of ``kind`` (its msgid, its first msgstr)."""
    return entry.line + (entry.kinds.index(kind) if kind in entry.kinds else 0)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
