"""JSON that keeps its bytes: a tokenizer recording every value's span, and edits.

Python's ``json`` forgets key order quirks, indentation, ``\\u00e9`` versus
``é`` and the final newline; catalogs must come back byte for byte. ``parse``
builds a tree of ``JObject`` / ``JArray`` / ``JString`` / ``JScalar`` nodes,
each knowing its ``start:end`` span in the decoded text, so a format replaces
string values in place (``splice``), rebuilds an object keeping the gaps
between its members (``rebuild``), or inserts members in the file's own
indentation style (``insertion``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .catalog import CatalogError

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

_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")
_SPACE = re.compile(r"[ \t\r\n]*")


@dataclass(frozen=True, slots=True)
class JString:
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class JScalar:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class JMember:
    key: JString
    value: JNode


@dataclass(frozen=True, slots=True)
class JObject:
    start: int
    end: int
    members: tuple[JMember, ...]

    def get(self, key: str) -> JNode | None:
        return next((m.value for m in self.members if m.key.value == key), None)


@dataclass(frozen=True, slots=True)
class JArray:
    start: int
    end: int
    items: tuple[JNode, ...]


JNode = JObject | JArray | JString | JScalar


class Raw(str):
    """JSON text to insert as it is (a value copied from another file)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Style:
    """How the file writes what it adds: newline, one indent step, ``": "``, ASCII escapes."""

    newline: str = "\n"
    indent: str = "  "
    colon: str = ": "
    ascii: bool = False


@dataclass(frozen=True, slots=True)
class JDoc:
    """A parsed JSON file: its text (BOM apart), the tree, and the style to add in."""

    text: str
    bom: bool
    root: JNode
    style: Style

    def encode(self, text: str | None = None) -> bytes:
        return ("\ufeff" if self.bom else "").encode() + (
            self.text if text is None else text
        ).encode()

    def string(self, value: str) -> str:
        return json.dumps(value, ensure_ascii=self.style.ascii)


class _Parser:
    def __init__(self, text: str, path: Path) -> None:
        self.text, self.path, self.pos = text, path, 0

    def fail(self, what: str) -> CatalogError:
        line = self.text.count("\n", 0, self.pos) + 1
        return CatalogError(self.path, line, f"invalid JSON: {what}; fix the file's syntax")

    def space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def value(self) -> JNode:
        self.space()
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self.obj()
        if char == "[":
            return self.array()
        if char == '"':
            return self.string()
        found = _SCALAR.match(self.text, self.pos)
        if not found:
            raise self.fail(f"unexpected {char!r}" if char else "unexpected end of file")
        self.pos = found.end()
        return JScalar(found.start(), found.end())

    def string(self) -> JString:
        found = _STRING.match(self.text, self.pos)
        if not found:
            raise self.fail("unterminated or badly escaped string")
        self.pos = found.end()
        return JString(found.start(), found.end(), json.loads(found.group()))

    def expect(self, char: str) -> None:
        self.space()
        if self.text[self.pos : self.pos + 1] != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def obj(self) -> JObject:
        start, seen = self.pos, set[str]()
        members: list[JMember] = []
        self.pos += 1
        self.space()
        while self.text[self.pos : self.pos + 1] != "}":
            if members:
                self.expect(",")
                self.space()
            if self.text[self.pos : self.pos + 1] != '"':
                raise self.fail("expected a quoted key")
            key = self.string()
            if key.value in seen:
                raise self.fail(f"duplicate key {key.value!r}")
            seen.add(key.value)
            self.expect(":")
            members.append(JMember(key, self.value()))
            self.space()
        self.pos += 1
        return JObject(start, self.pos, tuple(members))

    def array(self) -> JArray:
        start, items = self.pos, list[JNode]()
        self.pos += 1
        self.space()
        while self.text[self.pos : self.pos + 1] != "]":
            if items:
                self.expect(",")
            items.append(self.value())
            self.space()
        self.pos += 1
        return JArray(start, self.pos, tuple(items))


def decode(data: bytes, path: Path) -> JDoc:
    """Parse ``data`` (UTF-8, with or without a BOM); a syntax error names its line."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3 if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError(path, line, "not UTF-8; save the file as UTF-8") from exc
    parser = _Parser(text, path)
    root = parser.value()
    parser.space()
    if parser.pos != len(text):
        raise parser.fail("text after the end of the document")
    return JDoc(text, bom, root, _style(text, root))


def _style(text: str, root: JNode) -> Style:
    newline = "\r\n" if "\r\n" in text else "\n"
    indent, colon = "  ", ": "
    if isinstance(root, JObject) and root.members:
        first = root.members[0]
        gap = text[root.start + 1 : first.key.start]
        if "\n" in gap:
            indent = gap.rsplit("\n", 1)[1] or indent
        else:
            newline, indent = "", ""
        colon = text[first.key.end : first.value.start]
    escaped = re.search(r"\\u00[89a-fA-F]|\\u0[1-9a-fA-F]|\\u[1-9a-fA-F]", text)
    literal = any(ord(char) > 127 for char in text)
    return Style(newline, indent, colon, bool(escaped) and not literal)


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
