"""JSON that keeps its bytes: edits at the spans of a parsed tree (``jsontree``).

Python's ``json`` forgets key order quirks, indentation, ``\\u00e9`` versus
``é`` and the final newline; catalogs must come back byte for byte.
``decode`` (``jsontree``) builds a tree of nodes, each knowing its
``start:end`` span in the decoded text, so a format replaces string values in
place (``splice``), rebuilds an object keeping the gaps between its members
(``rebuild``), or inserts members in the file's own indentation style
(``insertion``).  The tree's names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .jsontree import JArray, JDoc, JMember, JNode, JObject, JScalar, JString, Style, decode

__all__ = [
    "JArray",
    "JDoc",
    "JMember",
    "JNode",
    "JObject",
    "JScalar",
    "JString",
    "Raw",
    "Style",
    "decode",
    "dump",
    "insertion",
    "rebuild",
    "splice",
]


class Raw(str):
    """JSON text to insert as it is (a value copied from another file)."""

    __slots__ = ()


def splice(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, new)`` span replaced (inserts: ``start == end``)."""
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        out += [text[pos:start], new]
        pos = end
    return "".join(out) + text[pos:]


Edit = Callable[[tuple[str, ...], JMember], Sequence[str] | None]


def rebuild(doc: JDoc, node: JObject, edit: Edit, path: tuple[str, ...] = ()) -> str | None:
    """``node``'s text with members replaced as ``edit`` says, the gaps kept.

    ``edit(path, member)`` returns the member texts to write in its place
    (``[]`` drops it) or None: an object is rebuilt member by member, any other
    value kept. An object left with no members is dropped (None) unless it is
    the root or was empty.
    """
    text, parts = doc.text, []
    for index, member in enumerate(node.members):
        here = (*path, member.key.value)
        out = edit(here, member)
        if out is None and isinstance(member.value, JObject) and member.value.members:
            inner = rebuild(doc, member.value, edit, here)
            out = [] if inner is None else [text[member.key.start : member.value.start] + inner]
        elif out is None:
            out = [text[member.key.start : member.value.end]]
        nxt = node.members[index + 1].key.start if index + 1 < len(node.members) else None
        sep = text[member.value.end : nxt] if nxt is not None else None
        parts += [(chunk, sep) for chunk in out]
    if not node.members:
        return text[node.start : node.end]
    tail = text[node.members[-1].value.end : node.end]
    if not parts:
        return None if path else "{" + tail
    head = text[node.start : node.members[0].key.start]
    default = next((sep for _, sep in parts if sep is not None), "," + head[1:])
    body = "".join(chunk + (sep or default) for chunk, sep in parts[:-1])
    return head + body + parts[-1][0] + tail


def dump(doc: JDoc, value: object, indent: str) -> str:
    """``value`` (str or nested dict of str) as JSON in ``doc``'s style, its lines at ``indent``."""
    if isinstance(value, Raw):
        return str(value)
    if not isinstance(value, Mapping):
        return doc.string(str(value))
    if not value:
        return "{}"
    style, inner = doc.style, indent + doc.style.indent
    gap = style.newline + inner if style.newline else " " * bool(style.colon.endswith(" "))
    members = [doc.string(k) + style.colon + dump(doc, v, inner) for k, v in value.items()]
    close = style.newline + indent if style.newline else gap
    return "{" + gap + ("," + gap).join(members) + close + "}"


def _indent_of(doc: JDoc, node: JObject) -> str:
    """The indentation of the line ``node`` opens on."""
    line_start = doc.text.rfind("\n", 0, node.start) + 1
    line = doc.text[line_start : node.start]
    return line[: len(line) - len(line.lstrip(" \t"))]


def insertion(
    doc: JDoc, node: JObject, after: JMember | None, members: Mapping[str, object]
) -> tuple[int, int, str]:
    """The edit inserting ``members`` into ``node`` after ``after`` (None: first)."""
    text, style = doc.text, doc.style
    if not node.members:
        outer = _indent_of(doc, node)
        inner = outer + style.indent
        gap = style.newline + inner if style.newline else ""
        close = style.newline + outer if style.newline else ""
        chunks = [doc.string(k) + style.colon + dump(doc, v, inner) for k, v in members.items()]
        return node.start + 1, node.end - 1, gap + ("," + gap).join(chunks) + close
    first = node.members[0]
    gap = text[node.start + 1 : first.key.start]
    inner = gap.rsplit("\n", 1)[1] if "\n" in gap else _indent_of(doc, node)
    colon = text[first.key.end : first.value.start]
    chunks = [doc.string(k) + colon + dump(doc, v, inner) for k, v in members.items()]
    if after is None:
        return first.key.start, first.key.start, "".join(chunk + "," + gap for chunk in chunks)
    return after.value.end, after.value.end, "".join("," + gap + chunk for chunk in chunks)
