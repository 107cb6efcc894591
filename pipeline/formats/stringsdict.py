"""Apple ``.stringsdict``: plural variants per target CLDR category, spliced into the plist.

Read (``xmltext``: lxml checks the XML, the bytes are kept): the root
``<plist><dict>`` maps each key to a ``<dict>`` with its
``NSStringLocalizedFormatKey`` (``%#@files@ in %#@folders@``) and, per
variable it names, a ``<dict>`` of ``NSStringPluralRuleType`` variants
(``zero`` ... ``other``). Sent: each variable's variants in the target's
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

from .catalog import Catalog, CatalogError, CatalogFormat, Message, Target, narrow
from .catalog import plural_categories as categories_of
from .counts import count_examples
from .xmltext import Document, Node, escape, load, pieces, splice

__all__ = ["StringsdictCatalog", "StringsdictFormat"]

_REFERENCE = re.compile(r"%(?:\d+\$?)?#@(\w+)@")
_SPECIFIER = re.compile(
    r"%(?:\d+\$)?(?:#@\w+@|[-#+ 0']*\d*(?:\.\d+)?(?:ll|l|hh|h|q|z|t|j)?[@dDiuUxXoOfeEgGcCsSaAp])"
)
_ORDER = ("zero", "one", "two", "few", "many", "other")
_FORMAT_KEY = "NSStringLocalizedFormatKey"


@dataclass(frozen=True, slots=True)
class Variable:
    """One ``%#@name@`` of a key: its ``<dict>`` and its variants (category -> ``<string>``)."""

    name: str
    node: Node
    variants: Mapping[str, tuple[Node, Node, str]]  # category -> (<key>, <string>, text)


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    key_node: Node
    node: Node  # the key's <dict>
    format: str
    format_node: Node
    variables: tuple[Variable, ...]


@dataclass(frozen=True, slots=True)
class StringsdictCatalog:
    path: Path
    doc: Document
    entries: tuple[Entry, ...]
    top: Node  # the root <dict>

    def find(self, key: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.key == key), None)


@dataclass(frozen=True, slots=True)
class StringsdictFormat:
    name: str = "stringsdict"
    extensions: tuple[str, ...] = (".stringsdict",)

    def parse(self, data: bytes, path: Path) -> StringsdictCatalog:
        doc = load(data, path)
        top = doc.root.first("dict")
        if doc.root.name != "plist" or top is None:
            raise CatalogError(
                path, doc.root.line, "not a plist with a <dict>; is this a .stringsdict?"
            )
        entries: list[Entry] = []
        for key_node, value in _pairs(doc, path, top):
            key = _text(doc, key_node)
            if any(entry.key == key for entry in entries):
                raise CatalogError(path, key_node.line, f"duplicate key {key!r}; keep one")
            if value.name == "dict":
                entries.append(_entry(doc, path, key, key_node, value))
        return StringsdictCatalog(path, doc, tuple(entries), top)

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
        base = old or src
        edits: list[tuple[int, int, str]] = []
        for entry in src.entries:
            have = old.find(entry.key) if old else None
            slots = _slots(entry, lang)
            texts = {s.id: _chosen(s, translations, have) for s in slots}
            complete = all(text is not None for text in texts.values())
            if old is None:
                start = _line_start(src.doc, entry.key_node)
                end = entry.node.end
                if complete:
                    edits.append((start, end, _block(src.doc, entry, lang, texts)))
                else:
                    newline = src.doc.newline
                    end += len(newline) if src.doc.text.startswith(newline, end) else 0
                    edits.append((start, end, ""))
            elif complete and any(s.id in translations for s in slots):
                block = _block(src.doc, entry, lang, texts)
                if have is not None:
                    start = _line_start(base.doc, have.key_node)
                    edits.append((start, have.node.end, block))
                else:
                    at = _line_start(base.doc, base.top, close=True)
                    edits.append((at, at, block + base.doc.newline))
        return base.doc.encode(splice(base.doc.text, edits))

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
    if _REFERENCE.sub("", entry.format).strip():
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
    return [category for category in _ORDER if category in wanted]


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
        same = sorted(_REFERENCE.findall(target.text)) == sorted(_REFERENCE.findall(slot.text))
        return target.text if same else _value(have, slot)
    if target is not None:
        return target.text
    if slot.variable is None and have is None:
        return None
    current = _value(have, slot)
    return current if current else None


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


def _pairs(doc: Document, path: Path, parent: Node) -> list[tuple[Node, Node]]:
    children = parent.children
    out = []
    for index in range(0, len(children), 2):
        key = children[index]
        if key.name != "key" or index + 1 >= len(children):
            raise CatalogError(path, key.line, f"<{key.name}> where a <key> and its value belong")
        out.append((key, children[index + 1]))
    return out


def _text(doc: Document, node: Node) -> str:
    return "".join(text for kind, text in pieces(doc, node) if kind != "tag")


def _entry(doc: Document, path: Path, key: str, key_node: Node, node: Node) -> Entry:
    fields = {_text(doc, k): v for k, v in _pairs(doc, path, node)}
    format_node = fields.get(_FORMAT_KEY)
    if format_node is None or format_node.name != "string":
        raise CatalogError(path, node.line, f"key {key!r} has no {_FORMAT_KEY} <string>; add it")
    text = _text(doc, format_node)
    variables = []
    for name in dict.fromkeys(_REFERENCE.findall(text)):
        value = fields.get(name)
        if value is None or value.name != "dict":
            raise CatalogError(
                path, format_node.line, f"key {key!r} names %#@{name}@ but has no <dict> {name!r}"
            )
        variants = {
            _text(doc, k): (k, v, _text(doc, v))
            for k, v in _pairs(doc, path, value)
            if _text(doc, k) in _ORDER
        }
        if "other" not in variants:
            raise CatalogError(
                path, value.line, f"variable {name!r} of {key!r} has no 'other'; add it"
            )
        variables.append(Variable(name, value, variants))
    return Entry(key, key_node, node, text, format_node, tuple(variables))


FORMAT: CatalogFormat = StringsdictFormat()
