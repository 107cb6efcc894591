"""The engine of the JSON catalogs (i18next, FormatJS, ARB): leaves, plurals, targets.

A format finds its ``Leaf`` strings (and i18next's ``key_one``/``key_other``
``Group`` plurals) in a ``JDoc``; this module turns them into ``Message``
units per target language (an ICU plural: one per CLDR category of the
target, plus its ``=N`` branches) and writes translations back: into an
existing target by splicing values at their spans and inserting missing keys
in the file's style, or as a new file rebuilt from the source's own text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import icu, jsontext
from .catalog import CatalogError, Message, Target, plural_categories
from .counts import count_examples
from .jsontext import JArray, JDoc, JMember, JNode, JObject, JString

__all__ = ["Group", "JsonCatalog", "Leaf", "find", "lang_path", "messages", "render", "values"]

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
        text, now = leaf.node.value, _existing(existing, leaf.path)
        if not text.strip():
            continue
        plural = icu.plural(text) if icu.is_icu(text) else None
        if plural is None:
            message = Message(
                leaf.id,
                text,
                leaf.context,
                None,
                now,
                bool(now) and not overwrite,
                icu.placeholders(text),
            )
            units.append((leaf.node.start, message))
            continue
        old = icu.plural(now) if now and icu.is_icu(now) else None
        for sel in [*plural.exact(), *plural_categories(lang)]:
            part = (
                plural.prefix + dict(plural.branches)[sel] + plural.suffix
                if sel[0] == "="
                else plural.branch(sel)
            )
            had = dict(old.branches).get(sel) if old else None
            context = _plural_context(leaf.context, lang, sel)
            message = Message(
                f"{leaf.id}#{sel}",
                part,
                context,
                sel,
                had,
                bool(had) and not overwrite,
                icu.placeholders(part),
            )
            units.append((leaf.node.start, message))
    for group in source.groups:
        start = min(leaf.node.start for leaf in group.forms.values())
        for cat in plural_categories(lang):
            text = (group.forms.get(cat) or group.forms["other"]).node.value
            now = _existing(existing, group.key(cat))
            context = _plural_context({"key": group.id}, lang, cat)
            message = Message(
                f"{group.id}#{cat}",
                text,
                context,
                cat,
                now,
                bool(now) and not overwrite,
                icu.placeholders(text),
            )
            units.append((start, message))
    return [message for _, message in sorted(units, key=lambda unit: unit[0])]


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


def _order(source: JsonCatalog, lang: str) -> dict[Key, list[str]]:
    """Per object path, its keys in the target's order (plural groups expanded)."""
    order: dict[Key, list[str]] = {}

    def walk(node: JObject, path: Key) -> None:
        order[path] = [member.key.value for member in node.members]
        for member in node.members:
            if isinstance(member.value, JObject):
                walk(member.value, (*path, member.key.value))

    if isinstance(source.doc.root, JObject):
        walk(source.doc.root, ())
    for group in source.groups:
        keys = order[group.parent]
        forms = {f"{group.base}_{cat}" for cat in group.forms}
        at = min(keys.index(key) for key in forms)
        new = [f"{group.base}_{cat}" for cat in plural_categories(lang)]
        keys[:] = (
            [k for k in keys[:at] if k not in forms]
            + new
            + [k for k in keys[at:] if k not in forms]
        )
    return order


def render(
    source: JsonCatalog, lang: str, existing: JsonCatalog | None, out: Mapping[Key, str], hook: Hook
) -> bytes:
    """The target's bytes: ``out`` spliced into ``existing``, or a new file from the source."""
    if existing is not None:
        return existing.doc.encode(_into(existing.doc, out, _order(source, lang)))
    return source.doc.encode(_rebuild(source, lang, out, hook))


def _into(doc: JDoc, out: Mapping[Key, str], order: Mapping[Key, list[str]]) -> str:
    edits: list[tuple[int, int, str]] = []
    additions: dict[str, Any] = {}
    for path, text in out.items():
        node = find(doc.root, path)
        if isinstance(node, JString) and not isinstance(text, jsontext.Raw):
            edits.append((node.start, node.end, doc.string(text)))
        elif node is None and all(isinstance(step, str) for step in path):
            tree = additions
            for step in path[:-1]:
                tree = tree.setdefault(str(step), {})
            tree[str(path[-1])] = text
    if isinstance(doc.root, JObject):
        _insert(doc, doc.root, (), additions, order, edits)
    return jsontext.splice(doc.text, edits)


def _insert(
    doc: JDoc,
    node: JObject,
    path: Key,
    adds: dict[str, Any],
    order: Mapping[Key, list[str]],
    edits: list[tuple[int, int, str]],
) -> None:
    keys = order.get(path, [])
    groups: dict[int, dict[str, object]] = {}
    anchors: dict[int, JMember | None] = {}
    members = {member.key.value: member for member in node.members}
    for key, value in adds.items():
        member = members.get(key)
        if member is not None:
            if isinstance(member.value, JObject) and isinstance(value, dict):
                _insert(doc, member.value, (*path, key), value, order, edits)
            continue
        before = keys[: keys.index(key)] if key in keys else keys
        anchor = next((members[k] for k in reversed(before) if k in members), None)
        spot = -1 if anchor is None else anchor.value.end
        anchors[spot] = anchor
        groups.setdefault(spot, {})[key] = value
    for spot, chunk in groups.items():
        edits.append(jsontext.insertion(doc, node, anchors[spot], chunk))


def _rebuild(source: JsonCatalog, lang: str, out: Mapping[Key, str], hook: Hook) -> str:
    doc, text = source.doc, source.doc.text
    leaves = {leaf.path for leaf in source.leaves}
    firsts = {
        min(g.forms.values(), key=lambda leaf: leaf.node.start).path: g for g in source.groups
    }
    grouped = {leaf.path for g in source.groups for leaf in g.forms.values()}

    def edit(path: Key, member: JMember) -> Sequence[str] | None:
        colon = text[member.key.end : member.value.start]
        if (hooked := hook(path, member)) is not None:
            return hooked
        if path in firsts:
            group = firsts[path]
            keys = [(cat, group.key(cat)) for cat in plural_categories(lang)]
            return [
                doc.string(f"{group.base}_{cat}") + colon + doc.string(out[k])
                for cat, k in keys
                if k in out
            ]
        if path in grouped:
            return []
        if path in leaves:
            return (
                [text[member.key.start : member.value.start] + doc.string(out[path])]
                if path in out
                else []
            )
        if isinstance(member.value, JArray):
            inner = [
                (leaf.node.start, leaf.node.end, doc.string(out.get(leaf.path, "")))
                for leaf in source.leaves
                if leaf.path[: len(path)] == path
            ]
            if not any(
                leaf.path in out for leaf in source.leaves if leaf.path[: len(path)] == path
            ):
                return []
            shifted = [(s - member.key.start, e - member.key.start, t) for s, e, t in inner]
            return [jsontext.splice(text[member.key.start : member.value.end], shifted)]
        return None

    if not isinstance(doc.root, JObject):
        return text
    rebuilt = jsontext.rebuild(doc, doc.root, edit)
    assert rebuilt is not None
    return text[: doc.root.start] + rebuilt + text[doc.root.end :]


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
