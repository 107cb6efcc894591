"""The engine of the JSON catalogs (i18next, FormatJS, ARB): messages and values per target.

A format finds its ``Leaf`` strings (and i18next's ``key_one``/``key_other``
``Group`` plurals) in a ``JDoc`` (``jsoncatalog``); this module turns them
into ``Message`` units per target language (an ICU plural: one per CLDR
category of the target, plus its ``=N`` branches) and the translations into
the value to write at each path; ``jsonwrite.render`` writes them back.  The
names of ``jsoncatalog`` and ``render`` are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import icu
from .catalog import Message, Target, plural_categories
from .counts import count_examples
from .jsoncatalog import Group, Hook, JsonCatalog, Key, Leaf, check_icu, find, lang_path
from .jsontree import JString
from .jsonwrite import render

__all__ = [
    "Group",
    "Hook",
    "JsonCatalog",
    "JsonFormat",
    "Key",
    "Leaf",
    "check_icu",
    "find",
    "lang_path",
    "messages",
    "render",
    "values",
]


def _existing(existing: JsonCatalog | None, path: Key) -> str | None:
    node = find(existing.doc.root, path) if existing else None
    return node.value if isinstance(node, JString) else None


def _plural_context(base: Mapping[str, str], lang: str, category: str) -> dict[str, str]:
    return {
        **base,
        "plural": category,
        "count": count_examples(lang, category) if category[0] != "=" else category[1:],
    }


def messages(
    source: JsonCatalog, lang: str, existing: JsonCatalog | None, *, overwrite: bool = False
) -> list[Message]:
    """Per target ``lang``: one Message per leaf, per plural category of ``lang``."""
    units: list[tuple[int, Message]] = []
    for leaf in source.leaves:
        units += _leaf_messages(leaf, lang, existing, overwrite)
    for group in source.groups:
        units += _group_messages(group, lang, existing, overwrite)
    return [message for _, message in sorted(units, key=lambda unit: unit[0])]


def _message(
    id_: str,
    text: str,
    context: Mapping[str, str],
    plural: str | None,
    now: str | None,
    overwrite: bool,
) -> Message:
    keep = bool(now) and not overwrite
    return Message(id_, text, context, plural, now, keep, icu.placeholders(text))


def _leaf_messages(
    leaf: Leaf, lang: str, existing: JsonCatalog | None, overwrite: bool
) -> list[tuple[int, Message]]:
    """A leaf's message, or one per selector of its ICU plural, at the leaf's place."""
    text, now = leaf.node.value, _existing(existing, leaf.path)
    if not text.strip():
        return []
    plural = icu.plural(text) if icu.is_icu(text) else None
    if plural is None:
        return [(leaf.node.start, _message(leaf.id, text, leaf.context, None, now, overwrite))]
    old = icu.plural(now) if now and icu.is_icu(now) else None
    found = []
    for sel in [*plural.exact(), *plural_categories(lang)]:
        part = (
            plural.prefix + dict(plural.branches)[sel] + plural.suffix
            if sel[0] == "="
            else plural.branch(sel)
        )
        had = dict(old.branches).get(sel) if old else None
        context = _plural_context(leaf.context, lang, sel)
        message = _message(f"{leaf.id}#{sel}", part, context, sel, had, overwrite)
        found.append((leaf.node.start, message))
    return found


def _group_messages(
    group: Group, lang: str, existing: JsonCatalog | None, overwrite: bool
) -> list[tuple[int, Message]]:
    """An i18next plural group's messages, one per category of ``lang``."""
    start = min(leaf.node.start for leaf in group.forms.values())
    found = []
    for cat in plural_categories(lang):
        text = (group.forms.get(cat) or group.forms["other"]).node.value
        now = _existing(existing, group.key(cat))
        context = _plural_context({"key": group.id}, lang, cat)
        found.append((start, _message(f"{group.id}#{cat}", text, context, cat, now, overwrite)))
    return found


def values(
    source: JsonCatalog, lang: str, existing: JsonCatalog | None, translations: Mapping[str, Target]
) -> dict[Key, str]:
    """The string to write at each path of the target, from ``translations``."""
    out: dict[Key, str] = {}
    for leaf in source.leaves:
        text = leaf.node.value
        plural = icu.plural(text) if icu.is_icu(text) else None
        if plural is None:
            if leaf.id in translations:
                out[leaf.path] = translations[leaf.id].text
            continue
        now = _existing(existing, leaf.path)
        old = dict(icu.plural(now).branches) if now and icu.is_icu(now) and icu.plural(now) else {}  # type: ignore[union-attr]
        selectors = [*plural.exact(), *plural_categories(lang)]
        new = {
            sel: translations[f"{leaf.id}#{sel}"].text
            for sel in selectors
            if f"{leaf.id}#{sel}" in translations
        }
        merged = [(sel, new.get(sel, old.get(sel))) for sel in selectors]
        if new and dict(merged).get("other") is not None:
            out[leaf.path] = icu.assemble(
                plural.arg, [(sel, t) for sel, t in merged if t is not None]
            )
    for group in source.groups:
        for cat in plural_categories(lang):
            if f"{group.id}#{cat}" in translations:
                out[group.key(cat)] = translations[f"{group.id}#{cat}"].text
    return out


class JsonFormat:
    """What every JSON catalog format shares: its bytes as read, its messages per target."""

    def serialize(self, catalog: JsonCatalog) -> bytes:
        return catalog.doc.encode()

    def messages(
        self,
        source: JsonCatalog,
        lang: str,
        existing: JsonCatalog | None,
        *,
        overwrite: bool = False,
    ) -> list[Message]:
        return messages(source, lang, existing, overwrite=overwrite)
