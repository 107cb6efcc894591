"""i18next and FormatJS JSON catalogs: nested keys, ``_one``/``_other`` plurals, ICU.

Keys are flattened to dotted ids (``menu.file.open``); an object's keys
``base_one`` ... ``base_other`` (with ``_other`` present) are one plural,
written back with the target's CLDR categories (``base_few``, ``base_many``
for ru). ``_ordinal_*`` and legacy ``_plural`` keys are plain strings. A
value with a typed ICU argument is an ICU message: one top-level plural is
split per target category and assembled again. FormatJS's extracted shape
``{"id": {"defaultMessage": ..., "description": ...}}`` reads the description
as context and writes the same shape. Arrays of strings are translated item
by item (``key.0``).

A new target holds only what was translated (i18next falls back to the
source language for the rest), in the source's order and layout; into an
existing target translations are spliced and missing keys inserted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import jsonmsg, jsontext
from .catalog import CatalogError, Target
from .jsonmsg import Group, JsonCatalog, Key, Leaf
from .jsontext import JArray, JMember, JNode, JObject, JString

__all__ = ["I18nextFormat"]

_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<cat>zero|one|two|few|many|other)$")


def _walk(node: JNode, path: Key, leaves: list[Leaf], groups: list[Group]) -> None:
    if isinstance(node, JString):
        leaves.append(Leaf(".".join(map(str, path)), path, node, {"key": ".".join(map(str, path))}))
    elif isinstance(node, JArray):
        for index, item in enumerate(node.items):
            _walk(item, (*path, index), leaves, groups)
    elif isinstance(node, JObject):
        message = node.get("defaultMessage")
        if isinstance(message, JString):
            context = {"key": ".".join(map(str, path))}
            description = node.get("description")
            if isinstance(description, JString) and description.value:
                context["description"] = description.value
            leaves.append(Leaf(context["key"], (*path, "defaultMessage"), message, context))
            return
        plural = _plurals(node, path)
        groups += plural.values()
        grouped = {leaf.path for group in plural.values() for leaf in group.forms.values()}
        for member in node.members:
            here = (*path, member.key.value)
            if here not in grouped:
                _walk(member.value, here, leaves, groups)


def _plurals(node: JObject, path: Key) -> dict[str, Group]:
    forms: dict[str, dict[str, Leaf]] = {}
    for member in node.members:
        found = _SUFFIX.match(member.key.value)
        if found and isinstance(member.value, JString) and not found["base"].endswith("_ordinal"):
            here = (*path, member.key.value)
            dotted = ".".join(map(str, (*path, found["base"])))
            leaf = Leaf(".".join(map(str, here)), here, member.value, {"key": dotted})
            forms.setdefault(found["base"], {})[found["cat"]] = leaf
    return {
        base: Group(".".join(map(str, (*path, base))), path, base, cats)
        for base, cats in forms.items()
        if "other" in cats and len(cats) > 1
    }


def _with_descriptions(
    source: JsonCatalog, existing: JsonCatalog, entries: set[Key], out: dict[Key, str]
) -> dict[Key, str]:
    """``out`` plus the description of each FormatJS entry new to ``existing``."""
    added = dict(out)
    for path in entries:
        entry = jsonmsg.find(source.doc.root, path)
        if (*path, "defaultMessage") in out and jsonmsg.find(existing.doc.root, path) is None:
            assert isinstance(entry, JObject)
            for member in entry.members:
                if isinstance(member.value, JString) and member.key.value != "defaultMessage":
                    added[(*path, member.key.value)] = member.value.value
    return added


class I18nextFormat(jsonmsg.JsonFormat):
    """i18next / FormatJS JSON (``.json``)."""

    name = "i18next"
    extensions = (".json",)

    def parse(self, data: bytes, path: Path) -> JsonCatalog:
        doc = jsontext.decode(data, path)
        if not isinstance(doc.root, JObject):
            raise CatalogError(
                path, 1, "an i18next/FormatJS catalog is a JSON object; wrap the keys in {}"
            )
        leaves: list[Leaf] = []
        groups: list[Group] = []
        _walk(doc.root, (), leaves, groups)
        catalog = JsonCatalog(path, doc, tuple(leaves), tuple(groups))
        jsonmsg.check_icu(catalog)
        return catalog

    def render(
        self,
        source: JsonCatalog,
        lang: str,
        existing: JsonCatalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        out = jsonmsg.values(source, lang, existing, translations)
        entries = {
            leaf.path[:-1] for leaf in source.leaves if leaf.path[-1:] == ("defaultMessage",)
        }
        if existing is not None:
            out = _with_descriptions(source, existing, entries, out)

        def hook(path: Key, member: JMember) -> Sequence[str] | None:
            if path in entries and (*path, "defaultMessage") not in out:
                return []  # a FormatJS entry nobody translated: not in the new target
            return None

        return jsonmsg.render(source, lang, existing, out, hook)

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``en.json`` -> ``de.json``; ``en/translation.json`` -> ``de/translation.json``."""
        if jsonmsg.lang_path(source_path.stem):
            return source_path.with_name(lang + source_path.suffix)
        if jsonmsg.lang_path(source_path.parent.name):
            return source_path.parent.parent / lang / source_path.name
        return source_path.parent / lang / source_path.name
