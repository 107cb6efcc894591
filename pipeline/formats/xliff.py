"""XLIFF 1.2 and 2.0: one message per trans-unit (1.2) or segment (2.0), targets written in place.

Read: ``<trans-unit>`` (1.2) and ``<unit>``/``<segment>`` (2.0) in files and
nested groups, their notes (into ``context["note"]``), ``resname`` (the
``key``), ``translate="no"`` (on a unit, group or file: not sent). Inline
codes (``<x/>``, ``<g>``, ``<bx/>``/``<ex/>``, ``<ph>``, ``<pc>``, ...) stay in
``Message.text`` as their literal XML and are listed in ``placeholders``; a
translation that loses, adds or mis-nests one is refused and its unit left as
it was. Message ids are the unit ids (``unit/segment`` for a unit of several
segments), prefixed with ``FILE/`` (its ``original`` or ``id``) when the
document holds several ``<file>`` elements.

Written: the target document is the existing target (or the source) with
only the changed spans replaced: each translated unit's ``<target>``, its
``state`` (1.2: ``translated`` or ``needs-review-translation`` on the target;
2.0: ``translated`` on the segment, with ``subState="mtpipe:needs-review"``
when QA flagged it, since 2.0 has no needs-review state of its own), and the
target language (1.2 ``target-language`` on each file, 2.0 ``trgLang``).
An existing target is a human translation, kept unless ``overwrite``, when it
is non-empty, its source is unchanged and its state is not ``new``/``needs-*``
(1.2) or ``initial``/a needs-review subState (2.0). A source file whose own
target language is the one asked for is its own existing catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog, CatalogError, CatalogFormat, Message, Target
from .xliffdoc import Segment, Writer, XliffCatalog
from .xmltext import Document, Node, load, pieces, splice

__all__ = ["XliffCatalog", "XliffFormat"]

_LOCALE_SUFFIX = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class XliffFormat:
    name: str = "xliff"
    extensions: tuple[str, ...] = (".xlf", ".xliff", ".xlf2")

    def parse(self, data: bytes, path: Path) -> XliffCatalog:
        doc = load(data, path)
        root = doc.root
        if root.name != "xliff":
            raise CatalogError(
                path, root.line, f"the root is <{root.name}>, not <xliff>; is this XLIFF?"
            )
        version = root.get("version") or ""
        major = {"1": 1, "2": 2}.get(version.partition(".")[0])
        if major is None:
            raise CatalogError(
                path, root.line, f"XLIFF version {version!r}; mtpipe reads 1.2 and 2.0"
            )
        files = list(root.kids("file"))
        segments: list[Segment] = []
        for index, file in enumerate(files, 1):
            prefix = (
                "" if len(files) == 1 else f"{file.get('original') or file.get('id') or index}/"
            )
            walk = _Walk(doc, path, major, prefix, segments)
            walk.children(file, file.get("translate") != "no")
        seen: dict[str, Segment] = {}
        for segment in segments:
            if segment.key in seen:
                raise CatalogError(
                    path,
                    segment.unit.line,
                    f"duplicate unit id {segment.key!r}; ids must be unique",
                )
            seen[segment.key] = segment
        target = (
            root.get("trgLang")
            if major == 2
            else next((f.get("target-language") for f in files if f.get("target-language")), None)
        )
        return XliffCatalog(path, doc, major, tuple(segments), target)

    def serialize(self, catalog: Catalog) -> bytes:
        return _mine(catalog).doc.data

    def messages(
        self, source: Catalog, lang: str, existing: Catalog | None, *, overwrite: bool = False
    ) -> list[Message]:
        src = _mine(source)
        own = _own(src, lang, _mine(existing) if existing is not None else None)
        index = {s.key: s for s in own.segments} if own else {}
        out = []
        for segment in src.segments:
            if not segment.translate:
                continue
            old = index.get(segment.key)
            human = (
                old is not None
                and own is not None
                and old.text == segment.text
                and _human(old, own.version)
            )
            out.append(
                Message(
                    id=segment.key,
                    text=segment.text,
                    context=segment.context,
                    existing=old.target_text if old else None,
                    keep=human and not overwrite,
                    placeholders=segment.placeholders,
                )
            )
        return out

    def render(
        self,
        source: Catalog,
        lang: str,
        existing: Catalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        src = _mine(source)
        if existing is not None and not translations:
            return _mine(existing).doc.data
        own = _own(src, lang, _mine(existing) if existing is not None else None)
        base = own or src
        writer = Writer(src, base, lang, foreign=own is None)
        edits = writer.language()
        for segment in src.segments:
            if segment.translate:
                edits += writer.segment(segment, translations.get(segment.key))
        edits += writer.new_units(translations)
        return base.doc.encode(splice(base.doc.text, edits))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``messages.xlf`` -> ``messages.fr.xlf``; a language suffix is replaced:
        ``validators.en.xlf`` -> ``validators.pt-BR.xlf`` (Angular, Symfony)."""
        stem, dot, suffix = source_path.stem.rpartition(".")
        if dot and _LOCALE_SUFFIX.match(suffix) and _is_locale(suffix):
            return source_path.with_name(f"{stem}.{lang}{source_path.suffix}")
        return source_path.with_name(f"{source_path.stem}.{lang}{source_path.suffix}")


@dataclass(frozen=True, slots=True)
class _Walk:
    doc: Document
    path: Path
    major: int
    prefix: str
    out: list[Segment]

    def children(self, node: Node, translate: bool) -> None:
        unit_name = "trans-unit" if self.major == 1 else "unit"
        for child in node.children:
            flag = translate if child.get("translate") is None else child.get("translate") != "no"
            if child.name in ("body", "group"):
                self.children(child, flag)
            elif child.name == unit_name:
                self.unit(child, flag)

    def unit(self, unit: Node, translate: bool) -> None:
        name = "<trans-unit>" if self.major == 1 else "<unit>"
        unit_id = unit.get("id")
        if not unit_id:
            raise CatalogError(
                self.path, unit.line, f"{name} without an id; give every unit a unique id"
            )
        notes_holder = unit if self.major == 1 else unit.first("notes")
        notes = (
            [_note(self.doc, note) for note in notes_holder.kids("note")] if notes_holder else []
        )
        context = {"key": unit.get("resname") or unit_id}
        if notes:
            context["note"] = "\n".join(notes)
        holders = [unit] if self.major == 1 else list(unit.kids("segment"))
        if not holders:
            raise CatalogError(
                self.path, unit.line, f"{name} {unit_id!r} has no <segment>; add one"
            )
        key = self.prefix + unit_id
        for number, holder in enumerate(holders, 1):
            source = holder.first("source")
            if source is None:
                raise CatalogError(
                    self.path, holder.line, f"{name} {unit_id!r} has no <source>; add one"
                )
            target = holder.first("target")
            text, tags = _content(self.doc, source)
            state_node = target if self.major == 1 else holder
            segment_key = key if len(holders) == 1 else f"{key}/{holder.get('id') or number}"
            segment = Segment(
                key=segment_key,
                unit_key=key,
                unit=unit,
                holder=holder,
                source=source,
                target=target,
                text=text,
                placeholders=tags,
                target_text=_content(self.doc, target)[0] if target is not None else None,
                state=state_node.get("state") if state_node is not None else None,
                substate=holder.get("subState"),
                translate=translate,
                context=context,
            )
            self.out.append(segment)


def _content(doc: Document, node: Node) -> tuple[str, tuple[str, ...]]:
    parts = pieces(doc, node)
    return "".join(text for _, text in parts), tuple(text for kind, text in parts if kind == "tag")


def _note(doc: Document, note: Node) -> str:
    text = "".join(text for kind, text in pieces(doc, note) if kind != "tag").strip()
    label = note.get("from") or note.get("category")
    return f"{label}: {text}" if label else text


def _mine(catalog: Catalog) -> XliffCatalog:
    if not isinstance(catalog, XliffCatalog):
        raise TypeError(f"not an XLIFF catalog: {type(catalog).__name__}")
    return catalog


def _own(source: XliffCatalog, lang: str, existing: XliffCatalog | None) -> XliffCatalog | None:
    """The catalog holding this language's targets: ``existing``, or the source if it is one."""
    if existing is not None:
        return existing
    same = source.target_lang and _norm(source.target_lang) == _norm(lang)
    return source if same else None


def _human(segment: Segment, version: int) -> bool:
    if not (segment.target_text or "").strip():
        return False
    state = segment.state or ""
    if version == 1:
        return not (state == "new" or state.startswith("needs-"))
    return state != "initial" and "needs-review" not in (segment.substate or "")


def _norm(lang: str) -> str:
    return lang.replace("_", "-").lower()


def _is_locale(tag: str) -> bool:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True


FORMAT: CatalogFormat = XliffFormat()
