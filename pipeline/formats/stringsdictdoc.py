"""An Apple ``.stringsdict`` read: its keys, their format keys and plural variables.

Read with ``xmltext`` (lxml checks the XML, the bytes are kept): the root
``<plist><dict>`` maps each key to a ``<dict>`` with its
``NSStringLocalizedFormatKey`` (``%#@files@ in %#@folders@``) and, per
variable it names, a ``<dict>`` of ``NSStringPluralRuleType`` variants
(``zero`` ... ``other``).  Every node keeps its span, so ``stringsdict``
splices translations in and copies every other byte.  Errors name the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import CatalogError
from .xmltext import Document, Node, load, pieces

__all__ = ["ORDER", "REFERENCE", "Entry", "StringsdictCatalog", "Variable", "parse_stringsdict"]

REFERENCE = re.compile(r"%(?:\d+\$?)?#@(\w+)@")
ORDER = ("zero", "one", "two", "few", "many", "other")
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


def parse_stringsdict(data: bytes, path: Path) -> StringsdictCatalog:
    """The plist's keys, their format keys and plural variables; CatalogError names the line."""
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
    for name in dict.fromkeys(REFERENCE.findall(text)):
        value = fields.get(name)
        if value is None or value.name != "dict":
            raise CatalogError(
                path, format_node.line, f"key {key!r} names %#@{name}@ but has no <dict> {name!r}"
            )
        variants = {
            _text(doc, k): (k, v, _text(doc, v))
            for k, v in _pairs(doc, path, value)
            if _text(doc, k) in ORDER
        }
        if "other" not in variants:
            raise CatalogError(
                path, value.line, f"variable {name!r} of {key!r} has no 'other'; add it"
            )
        variables.append(Variable(name, value, variants))
    return Entry(key, key_node, node, text, format_node, tuple(variables))
