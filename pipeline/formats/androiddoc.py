"""The Android resource model and the edits that write translated entries (used by ``android``).

A new entry goes after the entry that precedes it in the source (or first),
on a line of its own with the source's indentation; an entry the target has
gets only its texts replaced, and a plural form it lacks is added after its
last item. A plural or array is written whole only once every form is there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .androidtext import encode
from .catalog import Target, plural_categories
from .xmltext import Document, Node

__all__ = ["AndroidCatalog", "Entry", "Item", "Writer", "forms"]

Edits = list[tuple[int, int, str]]


@dataclass(frozen=True, slots=True)
class Item:
    """One text: a ``<string>``, one plural ``<item>`` or one array ``<item>``."""

    key: str
    node: Node
    text: str
    tags: tuple[str, ...]
    comment: str
    quantity: str | None
    reference: bool  # "@string/other": nothing to translate


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # "string" | "plurals" | "string-array"
    name: str  # with "@product" for a product variant: custom@tablet
    node: Node
    translatable: bool
    comment: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class AndroidCatalog:
    path: Path
    doc: Document
    entries: tuple[Entry, ...]

    def find(self, kind: str, name: str) -> Entry | None:
        return next((e for e in self.entries if (e.kind, e.name) == (kind, name)), None)


def forms(entry: Entry, lang: str) -> list[tuple[str, Item, str | None]]:
    """(message id, source item, target quantity) per text the target's entry holds."""
    if entry.kind != "plurals":
        return [(item.key, item, None) for item in entry.items]
    forms = {item.quantity: item for item in entry.items}
    return [
        (f"{entry.name}#{q}", forms.get(q) or forms["other"], q) for q in plural_categories(lang)
    ]


class Writer:
    """The edits that put the translated entries of ``src`` into ``base``."""

    def __init__(
        self,
        src: AndroidCatalog,
        base: AndroidCatalog,
        lang: str,
        translations: Mapping[str, Target],
    ) -> None:
        self.src, self.base, self.lang, self.translations = src, base, lang, translations
        self.namespaces = src.doc.namespaces()
        self.at = base.doc.root.open_end  # where a new entry goes: after its predecessor

    def entry(self, entry: Entry) -> Edits:
        old = self.base.find(entry.kind, entry.name)
        if old is not None:
            self.at = old.node.end
            return self._update(entry, old)
        element = self._element(entry)
        if element is None:
            return []
        return [
            (
                self.at,
                self.at,
                _line(self.src.doc.space_before(entry.node), self.base.doc.newline) + element,
            )
        ]

    def _value(self, item: Item, key: str) -> str | None:
        target = self.translations.get(key)
        return encode(target.text, item.tags, self.namespaces) if target is not None else None

    def _contents(self, entry: Entry) -> list[tuple[str, Item, str | None]]:
        """(message id, source item, new content or None) per item the target should have."""
        wanted = forms(entry, self.lang)
        return [
            (key, item, None if item.reference else self._value(item, key))
            for key, item, _ in wanted
        ]

    def _element(self, entry: Entry) -> str | None:
        """A whole new element, or None unless every one of its texts is translated."""
        doc, wanted = self.src.doc, self._contents(entry)
        values = [doc.inner(item.node) if item.reference else value for _, item, value in wanted]
        translated = any(not item.reference for _, item, _ in wanted)
        if not translated or any(value is None for value in values):
            return None
        if entry.kind == "string":
            return f"{doc.start_tag(entry.node)}{values[0]}</string>"
        first, nl = entry.items[0].node, self.base.doc.newline
        indent, close = _line(doc.space_before(first), nl), _line(_closing(doc, entry.node), nl)
        body = "".join(
            f"{indent}{_item_tag(key, item)}{value}</item>"
            for (key, item, _), value in zip(wanted, values, strict=True)
        )
        return f"{doc.start_tag(entry.node)}{body}{close}</{entry.kind}>"

    def _update(self, entry: Entry, old: Entry) -> Edits:
        """The translated texts of an entry the target already has, each in its place."""
        edits: Edits = []
        doc = self.base.doc
        last = old.items[-1].node if old.items and entry.kind != "string" else None
        for key, item, value in self._contents(entry):
            if value is None:
                continue
            there = next((i for i in old.items if i.key == key), None)
            if there is None and last is not None:
                tag = _item_tag(key, item)
                edits.append(
                    (
                        last.end,
                        last.end,
                        _line(doc.space_before(last), doc.newline) + f"{tag}{value}</item>",
                    )
                )
            elif there is not None and there.node.empty:
                start = re.sub(r"\s*/>$", ">", doc.start_tag(there.node))
                edits.append(
                    (there.node.start, there.node.end, f"{start}{value}</{there.node.name}>")
                )
            elif there is not None:
                edits.append((there.node.open_end, there.node.close_start, value))
        return edits


def _item_tag(key: str, item: Item) -> str:
    """``<item quantity="few">`` for the target's quantity (from the message id), or ``<item>``."""
    return f'<item quantity="{key.rpartition("#")[2]}">' if item.quantity else "<item>"


def _closing(doc: Document, node: Node) -> str:
    """The white space before an element's end tag."""
    end = node.close_start
    while end > node.open_end and doc.text[end - 1] in " \t\r\n":
        end -= 1
    return doc.text[end : node.close_start]


def _line(indent: str, newline: str) -> str:
    """White space that starts a new line: a newline and the indentation of ``indent``."""
    return newline + indent.rpartition("\n")[2]
