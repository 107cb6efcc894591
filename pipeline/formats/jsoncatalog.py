"""What a JSON catalog is: its ``Leaf`` strings and i18next ``Group`` plurals, in a ``JDoc``.

A format (i18next, FormatJS, ARB) finds these in the parsed document
(``jsontree``); ``jsonmsg`` turns them into messages and ``jsonwrite`` writes
translations back.  ``find`` follows a path of keys and array indexes;
``check_icu`` refuses an ICU message whose braces do not balance;
``lang_path`` tells a language tag in a file or folder name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import icu
from .catalog import CatalogError
from .jsontree import JArray, JDoc, JMember, JNode, JObject, JString

__all__ = ["Group", "Hook", "JsonCatalog", "Key", "Leaf", "check_icu", "find", "lang_path"]

Key = tuple[str | int, ...]
Hook = Callable[[Key, JMember], Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class Leaf:
    """One translatable string: its dotted ``id``, where it sits, what tells it apart."""

    id: str
    path: Key
    node: JString
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Group:
    """An i18next plural: ``base_one``, ``base_other``... in the object at ``parent``."""

    id: str
    parent: Key
    base: str
    forms: Mapping[str, Leaf]

    def key(self, category: str) -> Key:
        return (*self.parent, f"{self.base}_{category}")


@dataclass(frozen=True, slots=True)
class JsonCatalog:
    path: Path
    doc: JDoc
    leaves: tuple[Leaf, ...]
    groups: tuple[Group, ...] = ()


def find(node: JNode, path: Key) -> JNode | None:
    """The node at ``path`` (keys and array indexes) under ``node``, or None."""
    for step in path:
        if isinstance(node, JObject) and isinstance(step, str):
            found = node.get(step)
        elif isinstance(node, JArray) and isinstance(step, int) and step < len(node.items):
            found = node.items[step]
        else:
            return None
        if found is None:
            return None
        node = found
    return node


def check_icu(catalog: JsonCatalog) -> None:
    """Raise CatalogError, with the line, for an ICU message whose braces do not balance."""
    for leaf in catalog.leaves:
        if icu.is_icu(leaf.node.value):
            try:
                icu.plural(leaf.node.value)
            except ValueError as exc:
                line = catalog.doc.text.count("\n", 0, leaf.node.start) + 1
                raise CatalogError(
                    catalog.path, line, f"{leaf.id}: {exc}; balance the braces"
                ) from exc


_LANG = re.compile(r"^[a-z]{2}(?:[-_][A-Za-z0-9]{2,8})*$")


def lang_path(name: str) -> bool:
    """Whether a file stem or folder name is a language tag (``en``, ``en-GB``, ``pt_BR``)."""
    if not _LANG.match(name):
        return False
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True
