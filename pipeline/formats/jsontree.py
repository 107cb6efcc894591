"""JSON parsed with every value's span: the tree of a catalog file, and its style.

``decode`` builds a tree of ``JObject`` / ``JArray`` / ``JString`` / ``JScalar``
nodes, each knowing its ``start:end`` span in the decoded text, in a
``JDoc`` that also records how the file writes (newline, indent, ``": "``,
ASCII escapes), so an edit (``jsontext``) adds in the file's own style.
A syntax error names its line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .catalog import CatalogError

__all__ = ["JArray", "JDoc", "JMember", "JNode", "JObject", "JScalar", "JString", "Style", "decode"]

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
