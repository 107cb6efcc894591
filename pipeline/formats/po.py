"""gettext ``.po`` / ``.pot`` catalogs: the ``CatalogFormat`` for gettext.

Reading keeps every byte (``po_file``): ``serialize(parse(data)) == data``.

Read: every active entry (``msgctxt``, ``msgid``, ``msgid_plural``); its
``msgctxt`` (``context["msgctxt"]``), extracted comments (``#.``, ``comment``),
translator comments (``#``, ``note``), references (``#:``, ``references``)
and flags other than fuzzy (``flags``) travel as context. Obsolete (``#~``)
entries and the header are not sent and are kept as they are. Message ids:
the msgid (``msgctxt\\x04msgid`` with a context, as gettext keys them),
``#category`` for a plural form (the CLDR category of the form's counts).

Plurals are asked in the target's gettext forms: the ``Plural-Forms`` an
existing target declares, else babel's for the language (ja 1, de 2, ru 3,
ar 6), one message per ``msgstr[i]`` with the counts that take it
(``context["count"]``), from ``msgid`` for the form of 1 and ``msgid_plural``
for the others.

Written: ``LANG.po`` (``po_write``) with the header's ``Language`` and
``Plural-Forms`` set for the target and every entry's msgstr (empty until
translated). Into an existing ``LANG.po``: only the entries translated now are
re-emitted, entries new in the source are added before the obsolete ones,
every other byte is kept, but an entry the source no longer has becomes
obsolete (``#~``, as msgmerge makes it), so a changed msgid leaves its old
translation behind as obsolete and is sent anew. An existing translation is a human one, kept unless
``overwrite``, when it is non-empty, not fuzzy and its source unchanged (same
msgid, msgctxt and msgid_plural). A translation QA flagged is written fuzzy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from itertools import groupby
from pathlib import Path

from . import po_plan
from .catalog import Catalog, CatalogError, CatalogFormat, Message, Target, narrow
from .po_check import check
from .po_file import Entry, PoCatalog, nplurals, parse_po, serialize_po
from .po_plan import Slot, gettext_language
from .po_write import Forms, entry_lines, header_text, plural_forms

__all__ = ["FORMAT", "PoFormat", "gettext_language"]


class PoFormat:
    """gettext PO and POT files."""

    name = "po"
    extensions = (".po", ".pot")

    def parse(self, data: bytes, path: Path) -> PoCatalog:
        return check(parse_po(data, path))

    def serialize(self, catalog: Catalog) -> bytes:
        return serialize_po(narrow(catalog, PoCatalog))

    def messages(
        self, source: Catalog, lang: str, existing: Catalog | None, *, overwrite: bool = False
    ) -> list[Message]:
        src = narrow(source, PoCatalog)
        old = narrow(existing, PoCatalog) if existing is not None else None
        forms = plural_forms(lang, old.plural_forms if old else None)
        index = {e.key: e for e in old.entries()} if old else {}
        out = []
        for slot in po_plan.plan(src, lang, forms):
            have = index.get(slot.entry.key)
            current = po_plan.current(have, slot)
            human = have is not None and not have.fuzzy and not po_plan.stale(have, slot.entry)
            out.append(
                Message(
                    id=slot.id,
                    text=po_plan.text(slot, forms),
                    context=po_plan.context(slot),
                    plural=slot.category,
                    existing=current,
                    keep=human and bool(current) and not overwrite,
                    placeholders=po_plan.placeholders(slot.entry, po_plan.text(slot, forms)),
                )
            )
        return out

    def render(
        self,
        source: Catalog,
        lang: str,
        existing: Catalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        src = narrow(source, PoCatalog)
        if existing is not None and not translations:
            return serialize_po(narrow(existing, PoCatalog))
        old = narrow(existing, PoCatalog) if existing is not None else None
        forms = plural_forms(lang, old.plural_forms if old else None)
        try:
            return _Render(src, old, lang, forms, translations).run()
        except UnicodeEncodeError as exc:
            base = old or src
            message = (
                f"a translation into {lang} has {exc.object[exc.start]!r}, which the "
                f"catalog's charset ({base.codec}) cannot hold; convert it to UTF-8"
            )
            raise CatalogError(base.path, None, message) from None

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``locale/de.po`` beside the source, or ``locale/de/LC_MESSAGES/NAME.po`` when the
        source sits in such a tree (``locale/en/LC_MESSAGES/django.po``)."""
        name = gettext_language(lang)
        if source_path.parent.name == "LC_MESSAGES":
            root = source_path.parent.parent.parent
            return root / name / "LC_MESSAGES" / f"{source_path.stem}.po"
        return source_path.parent / f"{name}.po"


class _Render:
    """One target catalog's bytes: the base (existing target, else the source) re-emitted."""

    def __init__(
        self,
        src: PoCatalog,
        old: PoCatalog | None,
        lang: str,
        forms: Forms,
        translations: Mapping[str, Target],
    ) -> None:
        self.src, self.old, self.lang, self.forms = src, old, lang, forms
        self.base = old or src
        self.translations = translations
        self.position = {id(part): i for i, part in enumerate(self.base.parts)}
        self.edits: dict[int, list[bytes]] = {}
        self.added: list[list[bytes]] = []

    def run(self) -> bytes:
        index = {e.key: e for e in self.old.entries()} if self.old else {}
        for entry, group in groupby(
            po_plan.plan(self.src, self.lang, self.forms), lambda s: s.entry
        ):
            slots = list(group)
            if self.old is None:
                self.edits[self.position[id(entry)]] = self._lines(entry, slots, None)
            elif any(slot.id in self.translations for slot in slots):
                have = index.get(entry.key)
                if have is None:
                    self.added.append(self._lines(entry, slots, None))
                else:
                    self.edits[self.position[id(have)]] = self._lines(entry, slots, have)
        self._obsolete()
        self._header()
        return self._assemble()

    def _obsolete(self) -> None:
        """An existing target's entries the source no longer has become obsolete (``#~``),
        as msgmerge makes them: references and extracted comments dropped."""
        if self.old is None:
            return
        keys = {entry.key for entry in self.src.entries()}
        for entry in self.old.entries():
            if entry.key not in keys:
                lines = [
                    line if kind in ("tc", "fl", "blank") else b"#~ " + line
                    for line, kind in zip(entry.lines, entry.kinds, strict=True)
                    if kind not in ("gc", "oc", "prev")
                ]
                self.edits[self.position[id(entry)]] = lines

    def _lines(self, entry: Entry, slots: list[Slot], have: Entry | None) -> list[bytes]:
        if have is not None and po_plan.stale(have, entry):
            have = None
        texts, review, missing = [], False, False
        for slot in slots:
            target = self.translations.get(slot.id)
            if target is not None:
                texts.append(target.text)
                review = review or target.review
            else:
                texts.append((po_plan.current(have, slot) or "") if have else "")
                missing = True
        fuzzy = review or bool(have and have.fuzzy and missing)
        lines_of = have or entry
        return entry_lines(lines_of, self.base, texts, plural=entry.plural, fuzzy=fuzzy)

    def _header(self) -> None:
        header, metadata = self.base.header, self.base.metadata
        changes = {"Language": gettext_language(self.lang)}
        if header is None:
            changes["Content-Type"] = "text/plain; charset=UTF-8"
        if self.old is None or nplurals(self.old.plural_forms) is None:
            changes["Plural-Forms"] = self.forms.header
        if "charset=CHARSET" in metadata.get("Content-Type", ""):
            changes["Content-Type"] = "text/plain; charset=UTF-8"
        changes = {k: v for k, v in changes.items() if metadata.get(k) != v}
        fuzzy = header is not None and "fuzzy" in header.flags and self.old is not None
        if header is None:
            text = header_text("", changes)
            empty = replace(_EMPTY, lines=(b'msgid ""' + self.base.newline.encode(),))
            lines = entry_lines(empty, self.base, [text], plural=False, fuzzy=False)
            self.added.insert(0, lines)  # placed first by _assemble
        elif changes or (self.old is None and "fuzzy" in header.flags):
            text = header_text(header.msgstr[0], changes)
            lines = entry_lines(header, self.base, [text], plural=False, fuzzy=fuzzy)
            self.edits[self.position[id(header)]] = lines
        self.new_header = header is None

    def _assemble(self) -> bytes:
        newline = self.base.newline.encode()
        out = [self.base.bom]
        added = list(self.added)
        if self.new_header:
            out += [*added.pop(0), newline]
        first_obsolete = next(
            (i for i, p in enumerate(self.base.parts) if isinstance(p, Entry) and p.obsolete),
            None,
        )
        for i, part in enumerate(self.base.parts):
            if i == first_obsolete:
                out += [piece for lines in added for piece in (*lines, newline)]
                added = []
            out += self.edits.get(i) or (part.lines if isinstance(part, Entry) else [part])
        if added and not b"".join(out[-2:]).endswith(b"\n"):
            out.append(newline)
        out += [piece for lines in added for piece in (newline, *lines)]
        return b"".join(out)


_EMPTY = Entry(
    line=0,
    lines=(b'msgid ""\n',),
    kinds=("id",),
    msgctxt=None,
    msgid="",
    msgid_plural="",
    msgstr=("",),
    plural=False,
    flags=(),
    comment="",
    tcomment="",
    references=(),
    obsolete=False,
)

FORMAT: CatalogFormat = PoFormat()
