"""Xcode string catalogs (``Localizable.xcstrings``): one JSON file, every language.

Each key of ``strings`` is an entry; its source text is the source
language's ``stringUnit`` value (or the key itself), or, for a plural, its
``variations.plural`` forms, and its ``comment`` is context. A target is a
``localizations`` member of the same file: a ``stringUnit`` with ``state``
``translated`` is a human translation and kept; ``new``, ``needs_review`` or
a missing one is sent. Rendering splices values and states in place, adds the
target's ``localizations`` in the file's style (a sibling's shape, keys in
Xcode's alphabetical order), ``needs_review`` when QA flagged the text, and
keeps every other language as it is. ``shouldTranslate: false`` entries and
``device`` variations are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import jsontext
from .apple import printf_placeholders
from .catalog import CatalogError, Message, Target, plural_categories
from .counts import count_examples
from .jsontext import JDoc, JObject, JScalar, JString

__all__ = ["XcstringsCatalog", "XcstringsFormat"]


@dataclass(frozen=True, slots=True)
class XcstringsCatalog:
    path: Path
    doc: JDoc
    source_language: str
    strings: JObject


def _at(node: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, JObject):
            return None
        node = node.get(key)
    return node


def _unit(loc: object) -> tuple[str, str] | None:
    """``(state, value)`` of a localization's ``stringUnit``, or None."""
    state, value = _at(loc, "stringUnit", "state"), _at(loc, "stringUnit", "value")
    if isinstance(value, JString):
        return (state.value if isinstance(state, JString) else "translated"), value.value
    return None


def _forms(loc: object) -> dict[str, tuple[str, str]]:
    plural = _at(loc, "variations", "plural")
    if not isinstance(plural, JObject):
        return {}
    units = {m.key.value: _unit(m.value) for m in plural.members}
    return {cat: unit for cat, unit in units.items() if unit is not None}


class XcstringsFormat:
    """Xcode string catalog (``.xcstrings``)."""

    name = "xcstrings"
    extensions = (".xcstrings",)

    def parse(self, data: bytes, path: Path) -> XcstringsCatalog:
        doc = jsontext.decode(data, path)
        language, strings = _at(doc.root, "sourceLanguage"), _at(doc.root, "strings")
        if not isinstance(language, JString) or not isinstance(strings, JObject):
            raise CatalogError(
                path, 1, 'not a string catalog: needs "sourceLanguage" and "strings"'
            )
        return XcstringsCatalog(path, doc, language.value, strings)

    def serialize(self, catalog: XcstringsCatalog) -> bytes:
        return catalog.doc.encode()

    def messages(
        self,
        source: XcstringsCatalog,
        lang: str,
        existing: XcstringsCatalog | None,
        *,
        overwrite: bool = False,
    ) -> list[Message]:
        held = (existing or source).strings
        out: list[Message] = []
        for member in source.strings.members:
            key, entry = member.key.value, member.value
            if lang == source.source_language or isinstance(_at(entry, "shouldTranslate"), JScalar):
                continue
            comment = _at(entry, "comment")
            context = {
                "key": key,
                **({"comment": comment.value} if isinstance(comment, JString) else {}),
            }
            src = _at(entry, "localizations", source.source_language)
            target = _at(held.get(key), "localizations", lang)
            forms = _forms(src)
            if forms:
                out += self._plural(key, forms, _forms(target), lang, context, overwrite)
            elif _at(src, "variations") is None:  # device variations: not split by this reader
                out += self._single(key, src, target, context, overwrite)
        return out

    @staticmethod
    def _single(
        key: str,
        src: object,
        target: object,
        context: Mapping[str, str],
        overwrite: bool,
    ) -> list[Message]:
        """A string without plural forms: one message, kept when the target has it translated
        (or splits it by device)."""
        text = (_unit(src) or ("", key))[1]
        if not text.strip():
            return []
        now = _unit(target)
        keep = (now is not None and now[0] == "translated" and bool(now[1])) or _at(
            target, "variations"
        ) is not None
        value = now[1] if now else None
        placeholders = printf_placeholders(text)
        return [Message(key, text, context, None, value, keep and not overwrite, placeholders)]

    @staticmethod
    def _plural(
        key: str,
        forms: Mapping[str, tuple[str, str]],
        target: Mapping[str, tuple[str, str]],
        lang: str,
        context: Mapping[str, str],
        overwrite: bool,
    ) -> list[Message]:
        out = []
        for cat in plural_categories(lang):
            text = (forms.get(cat) or forms.get("other") or ("", ""))[1]
            now = target.get(cat)
            keep = now is not None and now[0] == "translated" and bool(now[1]) and not overwrite
            here = {**context, "plural": cat, "count": count_examples(lang, cat)}
            value = now[1] if now else None
            out.append(
                Message(f"{key}#{cat}", text, here, cat, value, keep, printf_placeholders(text))
            )
        return out

    def render(
        self,
        source: XcstringsCatalog,
        lang: str,
        existing: XcstringsCatalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        base = existing or source
        missing = {
            m.key.value: m.value
            for m in source.strings.members
            if base.strings.get(m.key.value) is None and _units(m.key.value, translations)
        }
        if missing:  # entries the target file lacks: copied from the source first
            raws = {k: jsontext.Raw(source.doc.text[v.start : v.end]) for k, v in missing.items()}
            text = jsontext.splice(base.doc.text, _sorted_insert(base.doc, base.strings, raws))
            base = self.parse(base.doc.encode(text), base.path)
        edits: list[tuple[int, int, str]] = []
        for member in base.strings.members:
            key, entry = member.key.value, member.value
            units = _units(key, translations)
            if units and isinstance(entry, JObject):
                edits += _entry_edits(base.doc, entry, lang, units)
        return base.doc.encode(jsontext.splice(base.doc.text, edits))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """The catalog itself: every language lives in the one file."""
        return source_path


_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def _units(key: str, translations: Mapping[str, Target]) -> dict[str, Target]:
    """The translations of entry ``key``: ``""`` its plain text, else by plural category."""
    ids = {"": key, **{cat: f"{key}#{cat}" for cat in _CATEGORIES}}
    return {part: translations[i] for part, i in ids.items() if i in translations}


def _state(target: Target) -> str:
    return "needs_review" if target.review else "translated"


def _unit_value(target: Target) -> dict[str, object]:
    return {"stringUnit": {"state": _state(target), "value": target.text}}


def _entry_edits(
    doc: JDoc, entry: JObject, lang: str, units: Mapping[str, Target]
) -> list[tuple[int, int, str]]:
    """The edits writing ``units`` (``""`` for a plain text, a category for a plural form)."""
    locs = entry.get("localizations")
    if not isinstance(locs, JObject):
        value = {lang: _localization(doc, None, units)}
        return _sorted_insert(doc, entry, {"localizations": value})
    loc = locs.get(lang)
    if not isinstance(loc, JObject):
        sibling = next((m.value for m in locs.members if isinstance(m.value, JObject)), None)
        return _sorted_insert(doc, locs, {lang: _localization(doc, sibling, units)})
    edits = []
    plural = _at(loc, "variations", "plural")
    for cat, target in units.items():
        holder = loc if cat == "" else _at(plural, cat)
        state, value = _at(holder, "stringUnit", "state"), _at(holder, "stringUnit", "value")
        if isinstance(value, JString):
            edits.append((value.start, value.end, doc.string(target.text)))
            if isinstance(state, JString):
                edits.append((state.start, state.end, doc.string(_state(target))))
        elif cat and isinstance(plural, JObject):
            edits += _sorted_insert(doc, plural, {cat: _unit_value(target)})
    return edits


def _localization(doc: JDoc, sibling: JObject | None, units: Mapping[str, Target]) -> object:
    """A new localization, shaped like ``sibling`` when that is a plain ``stringUnit``."""
    if "" not in units:
        return {"variations": {"plural": {cat: _unit_value(units[cat]) for cat in sorted(units)}}}
    target = units[""]
    state, value = _at(sibling, "stringUnit", "state"), _at(sibling, "stringUnit", "value")
    if (
        sibling is None
        or not isinstance(state, JString)
        or not isinstance(value, JString)
        or len(sibling.members) != 1
    ):
        return _unit_value(target)
    edits = [
        (state.start, state.end, doc.string(_state(target))),
        (value.start, value.end, doc.string(target.text)),
    ]
    shifted = [(s - sibling.start, e - sibling.start, t) for s, e, t in edits]
    return jsontext.Raw(jsontext.splice(doc.text[sibling.start : sibling.end], shifted))


def _sorted_insert(
    doc: JDoc, node: JObject, members: Mapping[str, object]
) -> list[tuple[int, int, str]]:
    """Insert ``members`` where Xcode's alphabetical order puts them."""
    groups: dict[int, tuple[Any, dict[str, object]]] = {}
    for key in sorted(members):
        before = [m for m in node.members if m.key.value < key]
        anchor = max(before, key=lambda m: m.key.value) if before else None
        spot = -1 if anchor is None else anchor.value.end
        groups.setdefault(spot, (anchor, {}))[1][key] = members[key]
    return [jsontext.insertion(doc, node, anchor, chunk) for anchor, chunk in groups.values()]
