"""Translations written back into a JSON catalog, in the file's own bytes and style.

``render`` splices the new values into an existing target at their spans and
inserts missing keys where the source's key order puts them (in the file's
indentation style), or, without a target, rebuilds the source's own text:
its leaves translated, its i18next plural groups expanded to the target's
categories, everything untranslated left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import jsontext
from .catalog import plural_categories
from .jsoncatalog import Group, Hook, JsonCatalog, Key, find
from .jsontree import JArray, JDoc, JMember, JObject, JString

__all__ = ["render"]


def render(
    source: JsonCatalog, lang: str, existing: JsonCatalog | None, out: Mapping[Key, str], hook: Hook
) -> bytes:
    """The target's bytes: ``out`` spliced into ``existing``, or a new file from the source."""
    if existing is not None:
        return existing.doc.encode(_into(existing.doc, out, _order(source, lang)))
    return source.doc.encode(_rebuild(source, lang, out, hook))


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
    if not isinstance(doc.root, JObject):
        return text
    rebuilt = jsontext.rebuild(doc, doc.root, _Rebuild(source, lang, out, hook).edit)
    assert rebuilt is not None
    return text[: doc.root.start] + rebuilt + text[doc.root.end :]


class _Rebuild:
    """The member edits of a new target: the format's hook first, then leaves written,
    plural groups expanded to the target's categories, arrays of leaves spliced."""

    def __init__(self, source: JsonCatalog, lang: str, out: Mapping[Key, str], hook: Hook) -> None:
        self.source, self.lang, self.out, self.hook = source, lang, out, hook
        self.doc = source.doc
        self.leaves = {leaf.path for leaf in source.leaves}
        self.firsts = {
            min(g.forms.values(), key=lambda leaf: leaf.node.start).path: g for g in source.groups
        }
        self.grouped = {leaf.path for g in source.groups for leaf in g.forms.values()}

    def edit(self, path: Key, member: JMember) -> Sequence[str] | None:
        if (hooked := self.hook(path, member)) is not None:
            return hooked
        if path in self.firsts:
            return self._group(self.firsts[path], member)
        if path in self.grouped:
            return []
        if path in self.leaves:
            return self._leaf(path, member)
        if isinstance(member.value, JArray):
            return self._array(path, member)
        return None

    def _group(self, group: Group, member: JMember) -> list[str]:
        doc, out = self.doc, self.out
        colon = doc.text[member.key.end : member.value.start]
        keys = [(cat, group.key(cat)) for cat in plural_categories(self.lang)]
        return [
            doc.string(f"{group.base}_{cat}") + colon + doc.string(out[k])
            for cat, k in keys
            if k in out
        ]

    def _leaf(self, path: Key, member: JMember) -> list[str]:
        if path not in self.out:
            return []
        return [
            self.doc.text[member.key.start : member.value.start] + self.doc.string(self.out[path])
        ]

    def _array(self, path: Key, member: JMember) -> list[str]:
        inside = [leaf for leaf in self.source.leaves if leaf.path[: len(path)] == path]
        if not any(leaf.path in self.out for leaf in inside):
            return []
        start, doc = member.key.start, self.doc
        edits = []
        for leaf in inside:
            written = doc.string(self.out.get(leaf.path, ""))
            edits.append((leaf.node.start - start, leaf.node.end - start, written))
        return [jsontext.splice(doc.text[start : member.value.end], edits)]
