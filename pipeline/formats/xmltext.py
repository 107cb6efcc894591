"""XML catalogs kept as their bytes: lxml checks and names the elements, offsets splice.

lxml re-serializes a document its own way (quotes, entities, the declaration),
so an XML catalog is never written back through lxml. ``load`` parses the
bytes with lxml (well-formedness, namespaces, attribute values, line numbers)
and maps every element to its character span in the decoded text with a light
tokenizer; a writer then replaces only the spans it changes (``splice``) and
encodes the text back exactly as it came (``Document.encode``: BOM, encoding).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .catalog import CatalogError

__all__ = ["Document", "Node", "escape", "fragment", "load", "pieces", "set_attr", "splice"]

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_TOKEN = re.compile(
    r"<!--.*?-->"
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<\?.*?\?>"
    r"|<!DOCTYPE(?:[^\[>]*\[.*?\])?[^>]*>"
    r"|</(?P<close>[^\s>]+)\s*>"
    r"|<(?P<open>[^\s/>]+)(?:\s+[^\s=]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(?P<empty>/?)>",
    re.S,
)
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


@dataclass(frozen=True, slots=True)
class Node:
    """One element: its local name, attributes (lxml's keys) and its spans in the text."""

    name: str
    attrs: dict[str, str]
    start: int  # the "<" of the start tag
    open_end: int  # just after the start tag
    close_start: int  # the "</" of the end tag (open_end for an empty element)
    end: int  # just after the element
    line: int
    children: tuple[Node, ...]

    @property
    def empty(self) -> bool:
        return self.open_end == self.end

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def kids(self, *names: str) -> Iterator[Node]:
        return (child for child in self.children if child.name in names)

    def first(self, name: str) -> Node | None:
        return next(self.kids(name), None)


@dataclass(frozen=True, slots=True)
class Document:
    """The decoded text of an XML file, how to encode it back, and its element tree."""

    data: bytes
    text: str
    bom: bytes
    encoding: str
    root: Node
    newline: str

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.encoding)

    def raw(self, start: int, end: int) -> str:
        return self.text[start:end]

    def inner(self, node: Node) -> str:
        return self.text[node.open_end : node.close_start]

    def start_tag(self, node: Node) -> str:
        return self.text[node.start : node.open_end]

    def namespaces(self) -> str:
        """The root's ``xmlns`` declarations, to parse a fragment of this document."""
        declared = re.findall(
            r"""\sxmlns(?::[^\s=]+)?\s*=\s*(?:"[^"]*"|'[^']*')""", self.start_tag(self.root)
        )
        return "".join(declared)


def load(data: bytes, path: Path) -> Document:
    """Parse ``data`` with lxml and map its elements to spans; ``CatalogError`` if it is not XML."""
    try:
        tree = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        what = re.sub(r", line \d+, column (\d+)$", r" (column \1)", str(exc.msg))
        line = exc.lineno if exc.lineno else None
        raise CatalogError(path, line, f"not well-formed XML: {what}; fix the file") from exc
    bom, encoding = next(((b, e) for b, e in _BOMS if data.startswith(b)), (b"", ""))
    if not encoding:
        declared = _DECLARED.match(data)
        encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    try:
        text = data[len(bom) :].decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise CatalogError(path, None, f"cannot decode as {encoding}: {exc}") from exc
    elements = [el for el in tree.iter() if isinstance(el.tag, str)]
    root = _tree(text, iter(elements), path)
    newline = "\r\n" if "\r\n" in text else "\n"
    return Document(data=data, text=text, bom=bom, encoding=encoding, root=root, newline=newline)


def _tree(text: str, elements: Iterator[etree._Element], path: Path) -> Node:
    """Pair the tokenizer's tags with lxml's elements (both in document order)."""
    stack: list[tuple[etree._Element, int, int, list[Node]]] = []
    done: list[Node] = []
    for match in _TOKEN.finditer(text):
        if match.group("open"):
            element = next(elements, None)
            if element is None or etree.QName(element).localname != _local(match.group("open")):
                raise CatalogError(path, None, "cannot map the XML elements to the text")
            if match.group("empty"):
                node = _node(element, match.start(), match.end(), match.end(), match.end(), [])
                (stack[-1][3] if stack else done).append(node)
            else:
                stack.append((element, match.start(), match.end(), []))
        elif match.group("close") and stack:
            element, start, open_end, children = stack.pop()
            node = _node(element, start, open_end, match.start(), match.end(), children)
            (stack[-1][3] if stack else done).append(node)
    if stack or len(done) != 1:
        raise CatalogError(path, None, "cannot map the XML elements to the text")
    return done[0]


def _node(
    el: etree._Element, start: int, open_end: int, close: int, end: int, kids: list[Node]
) -> Node:
    attrs = {str(key): str(value) for key, value in el.attrib.items()}
    name = etree.QName(el).localname
    line = int(getattr(el, "sourceline", None) or 0)  # lxml-stubs mistype it
    return Node(name, attrs, start, open_end, close, end, line, tuple(kids))


def _local(qname: str) -> str:
    return qname.rpartition(":")[2]


def unescape(raw: str) -> str:
    """Character data as the parser reads it: entity and character references resolved."""

    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _NAMED[ref]

    return _ENTITY.sub(one, raw)


def escape(text: str, *, quote: bool = False) -> str:
    """Character data (or, with ``quote``, a double-quoted attribute value) for XML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def pieces(doc: Document, node: Node, *, whole: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The content of ``node`` as ``("text", chars)``, ``("cdata", chars)`` and ``("tag", raw)``.

    Text is unescaped; a tag (start, end or empty tag, comment, processing
    instruction) is its literal XML; an element named in ``whole`` is one tag
    piece with everything inside it.
    """
    whole = set(whole)
    spans = {child.start: child for child in _descendants(node) if child.name in whole}
    out: list[tuple[str, str]] = []
    position, end = node.open_end, node.close_start
    for match in _TOKEN.finditer(doc.text, position, end):
        if match.start() < position:
            continue  # inside a whole element already taken
        if match.start() > position:
            out.append(("text", unescape(doc.text[position : match.start()])))
        if match.group("cdata") is not None:
            out.append(("cdata", match.group("cdata")))
            position = match.end()
        elif match.start() in spans:
            position = spans[match.start()].end
            out.append(("tag", doc.text[match.start() : position]))
        else:
            out.append(("tag", match.group()))
            position = match.end()
    if position < end:
        out.append(("text", unescape(doc.text[position:end])))
    return out


def _descendants(node: Node) -> Iterator[Node]:
    for child in node.children:
        yield child
        yield from _descendants(child)


def fragment(
    text: str, tags: tuple[str, ...], namespaces: str, *, escaper: Callable[[str], str] = escape
) -> str | None:
    """``text`` as XML content: ``tags`` (literal XML) kept, the rest through ``escaper``.

    None when the tags in ``text`` are not exactly ``tags`` (as a multiset) or
    do not nest: a translation that broke its inline elements is refused.
    """
    parts = _split(text, tags)
    found = Counter(part for kind, part in parts if kind == "tag")
    if found != Counter(tags):
        return None
    xml = "".join(part if kind == "tag" else escaper(part) for kind, part in parts)
    return xml if well_formed(xml, namespaces) else None


def _split(text: str, tags: Iterable[str]) -> list[tuple[str, str]]:
    """``text`` cut at every occurrence of one of ``tags``: ``("tag", t)`` and ``("text", s)``."""
    unique = sorted(set(tags), key=len, reverse=True)
    if not unique:
        return [("text", text)] if text else []
    out: list[tuple[str, str]] = []
    position = 0
    for match in re.finditer("|".join(map(re.escape, unique)), text):
        if match.start() > position:
            out.append(("text", text[position : match.start()]))
        out.append(("tag", match.group()))
        position = match.end()
    if position < len(text):
        out.append(("text", text[position:]))
    return out


def well_formed(xml: str, namespaces: str) -> bool:
    try:
        etree.fromstring(f"<r{namespaces}>{xml}</r>".encode(), _PARSER)
    except etree.XMLSyntaxError:
        return False
    return True


def set_attr(tag: str, name: str, value: str | None) -> str:
    """A start tag with attribute ``name`` set to ``value`` (removed when None), else as it was."""
    pattern = re.compile(rf"""(\s+){re.escape(name)}\s*=\s*(?:"[^"]*"|'[^']*')""")
    found = pattern.search(tag)
    if value is None:
        return pattern.sub("", tag, count=1) if found else tag
    attribute = f'{name}="{escape(value, quote=True)}"'
    if found:
        return tag[: found.start()] + found.group(1) + attribute + tag[found.end() :]
    close = re.search(r"\s*/?>$", tag)
    at = close.start() if close else len(tag)
    return f"{tag[:at]} {attribute}{tag[at:]}"


def splice(
    text: str, edits: Iterable[tuple[int, int, str]], start: int = 0, end: int | None = None
) -> str:
    """``text[start:end]`` with each ``(from, to, replacement)`` applied; insertions at one
    offset keep their order. Edits must not overlap."""
    end = len(text) if end is None else end
    out: list[str] = []
    position = start
    for begin, stop, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        if begin < start or stop > end:
            continue
        out.append(text[position:begin])
        out.append(replacement)
        position = stop
    out.append(text[position:end])
    return "".join(out)
