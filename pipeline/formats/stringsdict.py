"""Apple ``.stringsdict``: plural variants per target CLDR category, spliced into the plist.

Read by ``stringsdictdoc`` (the plist's keys, format keys and variants, the
bytes kept). Sent: each variable's variants in the target's
CLDR categories (``plural_categories``: ru one/few/many/other; ``zero`` too
when the source has it, since Apple uses it for 0 in every language), each
from the source's variant of that category, else its ``other``, with the
count's examples (``context["count"]``); the format key itself only when it
holds text besides its ``%#@var@`` references. Message ids: ``KEY`` for the
format key, ``KEY/VAR#category`` for a variant. ``%@``, ``%1$@``, ``%lld``,
``%d`` and ``%#@var@`` are placeholders.

Written: ``LANG.lproj/Localizable.stringsdict`` beside ``en.lproj``. A key is
written once every one of its messages has a text (translated now, or the
existing target's); its variant list becomes the target's categories in
CLDR order. A new target is the source with its complete keys translated and
the others left out; an existing target keeps every byte but the keys
translated now, and gets new keys before its closing ``</dict>``. An existing
non-empty variant is a human translation, kept unless ``overwrite``.
The format has no review state: a QA flag is not written into the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog, CatalogFormat, Message, Target, narrow
from .catalog import plural_categories as categories_of
from .counts import count_examples
from .stringsdictdoc import ORDER, REFERENCE, Entry, StringsdictCatalog, Variable, parse_stringsdict
from .xmltext import Document, Node, escape, splice

__all__ = ["StringsdictCatalog", "StringsdictFormat"]

_SPECIFIER = re.compile(
    r"%(?:\d+\$)?(?:#@\w+@|[-#+ 0']*\d*(?:\.\d+)?(?:ll|l|hh|h|q|z|t|j)?[@dDiuUxXoOfeEgGcCsSaAp])"
)


@dataclass(frozen=True, slots=True)
class StringsdictFormat:
    name: str = "stringsdict"
    extensions: tuple[str, ...] = (".stringsdict",)

    def parse(self, data: bytes, path: Path) -> StringsdictCatalog:
        return parse_stringsdict(data, path)

    def serialize(self, catalog: Catalog) -> bytes:
        return narrow(catalog, StringsdictCatalog).doc.data

    def messages(
        self, source: Catalog, lang: str, existing: Catalog | None, *, overwrite: bool = False
    ) -> list[Message]:
        src = narrow(source, StringsdictCatalog)
        old = narrow(existing, StringsdictCatalog) if existing is not None else None
        out = []
        for entry in src.entries:
            have = old.find(entry.key) if old else None
            for slot in _slots(entry, lang):
                current = _value(have, slot)
                out.append(
                    Message(
                        id=slot.id,
                        text=slot.text,
                        context=slot.context,
                        plural=slot.category,
                        existing=current,
                        keep=bool(current and current.strip()) and not overwrite,
                        placeholders=tuple(_SPECIFIER.findall(slot.text)),
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
        src = narrow(source, StringsdictCatalog)
        if existing is not None and not translations:
            return narrow(existing, StringsdictCatalog).doc.data
        old = narrow(existing, StringsdictCatalog) if existing is not None else None
        edits = [
            _new_edit(src, entry, lang, translations)
            if old is None
            else _existing_edit(src, old, entry, lang, translations)
            for entry in src.entries
        ]
        base = old or src
        return base.doc.encode(splice(base.doc.text, [e for e in edits if e is not None]))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``en.lproj/Localizable.stringsdict`` -> ``de.lproj/Localizable.stringsdict``."""
        folder = source_path.parent
        root = folder.parent if folder.suffix == ".lproj" else folder
        return root / f"{lang}.lproj" / source_path.name


@dataclass(frozen=True, slots=True)
class _Slot:
    id: str
    text: str
    context: dict[str, str]
    variable: str | None  # None: the format key itself
    category: str | None


def _slots(entry: Entry, lang: str) -> list[_Slot]:
    slots = []
    if REFERENCE.sub("", entry.format).strip():
        slots.append(_Slot(entry.key, entry.format, {"key": entry.key}, None, None))
    for variable in entry.variables:
        for category in _categories(variable, lang):
            text = variable.variants.get(category, variable.variants["other"])[2]
            count = count_examples(lang, category) or ("0" if category == "zero" else "")
            context = {"key": entry.key, "variable": variable.name, "plural": category}
            context |= {"count": count} if count else {}
            slots.append(
                _Slot(
                    f"{entry.key}/{variable.name}#{category}",
                    text,
                    context,
                    variable.name,
                    category,
                )
            )
    return slots


def _categories(variable: Variable, lang: str) -> list[str]:
    wanted = set(categories_of(lang)) | ({"zero"} if "zero" in variable.variants else set())
    return [category for category in ORDER if category in wanted]


def _value(have: Entry | None, slot: _Slot) -> str | None:
    if have is None:
        return None
    if slot.variable is None:
        return have.format
    variable = next((v for v in have.variables if v.name == slot.variable), None)
    found = variable.variants.get(slot.category or "") if variable else None
    return found[2] if found else None


def _chosen(slot: _Slot, translations: Mapping[str, Target], have: Entry | None) -> str | None:
    target = translations.get(slot.id)
    if target is not None and slot.variable is None:
        # a format key that lost (or gained) a %#@var@ would orphan its variants
        same = sorted(REFERENCE.findall(target.text)) == sorted(REFERENCE.findall(slot.text))
        return target.text if same else _value(have, slot)
    if target is not None:
        return target.text
    if slot.variable is None and have is None:
        return None
    current = _value(have, slot)
    return current if current else None


_Edit = tuple[int, int, str]


def _new_edit(
    src: StringsdictCatalog, entry: Entry, lang: str, translations: Mapping[str, Target]
) -> _Edit:
    """A new target: the source's lines of ``entry`` translated, or cut out if incomplete."""
    texts = {s.id: _chosen(s, translations, None) for s in _slots(entry, lang)}
    start, end = _line_start(src.doc, entry.key_node), entry.node.end
    if all(text is not None for text in texts.values()):
        return start, end, _block(src.doc, entry, lang, texts)
    newline = src.doc.newline
    end += len(newline) if src.doc.text.startswith(newline, end) else 0
    return start, end, ""


def _existing_edit(
    src: StringsdictCatalog,
    old: StringsdictCatalog,
    entry: Entry,
    lang: str,
    translations: Mapping[str, Target],
) -> _Edit | None:
    """An existing target: ``entry`` replaced (or added before the closing ``</dict>``) once
    it is complete and something of it was translated now; else None."""
    have = old.find(entry.key)
    slots = _slots(entry, lang)
    texts = {s.id: _chosen(s, translations, have) for s in slots}
    if not all(text is not None for text in texts.values()):
        return None
    if not any(s.id in translations for s in slots):
        return None
    block = _block(src.doc, entry, lang, texts)
    if have is not None:
        return _line_start(old.doc, have.key_node), have.node.end, block
    at = _line_start(old.doc, old.top, close=True)
    return at, at, block + old.doc.newline


def _block(doc: Document, entry: Entry, lang: str, texts: Mapping[str, str | None]) -> str:
    """The source's lines of ``entry`` with its format key and variants for the target."""
    edits = []
    if entry.key in texts:
        node = entry.format_node
        edits.append((node.open_end, node.close_start, escape(texts[entry.key] or "")))
    for variable in entry.variables:
        spans = list(variable.variants.values())
        first = min(key.start for key, _, _ in spans)
        last = max(value.end for _, value, _ in spans)
        indent = doc.space_before(min(spans, key=lambda s: s[0].start)[0]).lstrip("\r\n")
        lines = []
        for category in _categories(variable, lang):
            text = texts[f"{entry.key}/{variable.name}#{category}"] or ""
            lines.append(f"<key>{category}</key>")
            lines.append(f"<string>{escape(text)}</string>")
        edits.append((first, last, (doc.newline + indent).join(lines)))
    start = _line_start(doc, entry.key_node)
    return splice(doc.text, edits, start, entry.node.end)


def _line_start(doc: Document, node: Node, *, close: bool = False) -> int:
    """Where the line of ``node`` (or, with ``close``, of its end tag) starts: after the
    previous line break, so a block carries its indentation."""
    at = node.close_start if close else node.start
    while at > 0 and doc.text[at - 1] in " \t":
        at -= 1
    if at > 0 and doc.text[at - 1] == "\n":
        return at
    return node.close_start if close else node.start


FORMAT: CatalogFormat = StringsdictFormat()
