"""The XLIFF document model and the edits that write targets into it (used by ``xliff``).

``Edits`` replace spans of the base document (the existing target, or the
source): a unit's ``<target>`` and ``state``, a changed ``<source>``, the
target language; units new in the source are inserted after their
predecessor. Nothing else in the document changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import Target
from .xmltext import XML_LANG, Document, Node, fragment, set_attr, splice

__all__ = ["Segment", "Writer", "XliffCatalog"]

SUBSTATE_REVIEW = "mtpipe:needs-review"
Edits = list[tuple[int, int, str]]


@dataclass(frozen=True, slots=True)
class Segment:
    """One translatable text: a 1.2 trans-unit, or one segment of a 2.0 unit."""

    key: str  # the message id
    unit_key: str
    unit: Node  # trans-unit / unit
    holder: Node  # the element holding source and target: trans-unit / segment
    source: Node
    target: Node | None
    text: str
    placeholders: tuple[str, ...]
    target_text: str | None
    state: str | None  # 1.2: the target's state; 2.0: the segment's
    substate: str | None
    translate: bool
    context: dict[str, str]


@dataclass(frozen=True, slots=True)
class XliffCatalog:
    path: Path
    doc: Document
    version: int  # 1 (XLIFF 1.2) or 2 (XLIFF 2.0)
    segments: tuple[Segment, ...]
    target_lang: str | None


class Writer:
    """The edits that turn ``base`` (the existing target, or the source) into the target."""

    def __init__(
        self, source: XliffCatalog, base: XliffCatalog, lang: str, *, foreign: bool
    ) -> None:
        self.source, self.base, self.lang, self.foreign = source, base, lang, foreign
        self.doc = base.doc
        self.index = {s.key: s for s in base.segments}
        self.namespaces = source.doc.namespaces()

    def language(self) -> Edits:
        root = self.doc.root
        holders, name = (
            (list(root.kids("file")), "target-language")
            if self.base.version == 1
            else ([root], "trgLang")
        )
        return [
            (node.start, node.open_end, set_attr(self.doc.start_tag(node), name, self.lang))
            for node in holders
            if node.get(name) != self.lang
        ]

    def segment(self, segment: Segment, target: Target | None) -> Edits:
        old = self.index.get(segment.key)
        if old is None:
            return []  # a unit new in the source: new_units() inserts it whole
        edits = []
        if old.text != segment.text:
            raw = self.source.doc.raw(segment.source.start, segment.source.end)
            edits.append((old.source.start, old.source.end, raw))
        inner = fragment(target.text, segment.placeholders, self.namespaces) if target else None
        if inner is not None and target is not None:
            return edits + self._target(old, inner, review=target.review)
        if old.target is not None and self.foreign:
            return edits + self._drop(old)
        if old.target is not None and old.text != segment.text:
            return edits + self._state(
                old, "needs-translation" if self.base.version == 1 else "initial", None
            )
        return edits

    def _target(self, old: Segment, inner: str, *, review: bool) -> Edits:
        if self.base.version == 2:
            edits = self._state(old, "translated", SUBSTATE_REVIEW if review else None)
            state = None
        else:
            edits, state = [], "needs-review-translation" if review else "translated"
        if old.target is None:
            indent = _indent(self.doc, old.source)
            attrs = f' state="{state}"' if state else ""
            return [
                *edits,
                (old.source.end, old.source.end, f"{indent}<target{attrs}>{inner}</target>"),
            ]
        target, tag = old.target, self.doc.start_tag(old.target)
        if target.get(XML_LANG) is not None:
            tag = set_attr(tag, "xml:lang", self.lang)
        if state:
            tag = set_attr(tag, "state", state)
        if target.empty:
            tag = re.sub(r"\s*/>$", ">", tag)
            return [*edits, (target.start, target.end, f"{tag}{inner}</target>")]
        return [
            *edits,
            (target.start, target.open_end, tag),
            (target.open_end, target.close_start, inner),
        ]

    def _state(self, old: Segment, state: str, substate: str | None) -> Edits:
        if self.base.version == 1:
            if old.target is None:
                return []
            node, tag = old.target, set_attr(self.doc.start_tag(old.target), "state", state)
        else:
            node = old.holder
            tag = set_attr(set_attr(self.doc.start_tag(node), "state", state), "subState", substate)
        return [(node.start, node.open_end, tag)]

    def _drop(self, old: Segment) -> Edits:
        """A target of another language, in a source used as the base: removed."""
        assert old.target is not None
        indent = _indent(self.doc, old.target)
        edits = [(old.target.start - len(indent), old.target.end, "")]
        if self.base.version == 2:
            tag = set_attr(
                set_attr(self.doc.start_tag(old.holder), "state", None), "subState", None
            )
            edits.append((old.holder.start, old.holder.open_end, tag))
        return edits

    def new_units(self, translations: Mapping[str, Target]) -> Edits:
        """Source units missing from the existing target, inserted after their predecessor."""
        present = {s.unit_key: s.unit for s in self.base.segments}
        if not present:
            return []
        source_writer = Writer(self.source, self.source, self.lang, foreign=True)
        at, before, edits = min(u.start for u in present.values()), True, []
        for unit_key, segments in _units(self.source.segments):
            if unit_key in present:
                at, before = present[unit_key].end, False
                continue
            unit = segments[0].unit
            unit_edits = [
                e for s in segments for e in source_writer.segment(s, translations.get(s.key))
            ]
            raw = splice(self.source.doc.text, unit_edits, unit.start, unit.end)
            indent = _indent(self.source.doc, unit) or self.doc.newline
            edits.append((at, at, raw + indent if before else indent + raw))
        return edits


def _units(segments: tuple[Segment, ...]) -> Iterator[tuple[str, list[Segment]]]:
    groups: dict[str, list[Segment]] = {}
    for segment in segments:
        groups.setdefault(segment.unit_key, []).append(segment)
    return iter(groups.items())


def _indent(doc: Document, node: Node) -> str:
    """The white space just before ``node`` (empty if text or a tag precedes it there)."""
    start = node.start
    while start > 0 and doc.text[start - 1] in " \t\r\n":
        start -= 1
    return doc.text[start : node.start]
