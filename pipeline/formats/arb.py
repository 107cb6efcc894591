"""Flutter ARB catalogs (``app_en.arb``): messages, ``@key`` metadata, ``@@locale``.

Every top-level key not starting with ``@`` is a message (ICU syntax); its
``@key`` object's ``description`` and placeholder names are its context, and
a placeholder the message uses but ``placeholders`` does not declare is an
error with the line. ``@@`` keys are the file's own (``@@locale``,
``@@last_modified``). ICU plurals are split per CLDR category of the target
and assembled again; Flutter's legacy ``...Zero``/``...One`` keys are plain
messages.

A new target ``app_LANG.arb`` has ``@@locale`` set to the target, the
translated messages in the source's order with their ``@key`` metadata, and
the other ``@@`` keys; into an existing target translations are spliced and
missing messages inserted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import icu, jsonmsg, jsontext
from .catalog import CatalogError, Target
from .jsonmsg import JsonCatalog, Key, Leaf
from .jsontext import JMember, JObject, JString

__all__ = ["ArbFormat"]

_STEM = re.compile(r"^(?P<name>.*?)_(?P<lang>[a-z]{2,3}(?:_[A-Za-z0-9]+)*)$")


def arb_locale(lang: str) -> str:
    """``pt-BR`` -> ``pt_BR``: how ARB files and their names spell a language."""
    return lang.replace("-", "_")


def _context(key: str, meta: JObject | None) -> dict[str, str]:
    context = {"key": key}
    description = meta.get("description") if meta else None
    if isinstance(description, JString) and description.value:
        context["description"] = description.value
    declared = meta.get("placeholders") if meta else None
    if isinstance(declared, JObject) and declared.members:
        context["placeholders"] = ", ".join(m.key.value for m in declared.members)
    return context


def _check_placeholders(catalog: JsonCatalog, root: JObject) -> None:
    """A message using ``{name}`` its ``@key.placeholders`` does not declare is an error."""
    for leaf in catalog.leaves:
        meta = root.get(f"@{leaf.id}")
        declared = meta.get("placeholders") if isinstance(meta, JObject) else None
        if not isinstance(declared, JObject):
            continue
        try:
            used = icu.arguments(leaf.node.value)
        except ValueError as exc:
            line = catalog.doc.text.count("\n", 0, leaf.node.start) + 1
            raise CatalogError(catalog.path, line, f"{leaf.id}: {exc}; balance the braces") from exc
        missing = sorted(used - {m.key.value for m in declared.members})
        if missing:
            line = catalog.doc.text.count("\n", 0, leaf.node.start) + 1
            raise CatalogError(
                catalog.path,
                line,
                f"{leaf.id} uses placeholder {', '.join(missing)} that @{leaf.id} does not "
                "declare; add it to its placeholders",
            )


def _with_metadata(
    source: JsonCatalog, existing: JsonCatalog, out: dict[Key, str]
) -> dict[Key, str]:
    """``out`` plus the ``@key`` metadata of each message new to ``existing``, as it is."""
    added = dict(out)
    root, there = source.doc.root, existing.doc.root
    assert isinstance(root, JObject) and isinstance(there, JObject)
    for key, *_ in out:
        meta = root.get(f"@{key}")
        if meta is not None and there.get(str(key)) is None and there.get(f"@{key}") is None:
            added[(f"@{key}",)] = jsontext.Raw(source.doc.text[meta.start : meta.end])
    return added


class ArbFormat(jsonmsg.JsonFormat):
    """Flutter Application Resource Bundle (``.arb``)."""

    name = "arb"
    extensions = (".arb",)

    def parse(self, data: bytes, path: Path) -> JsonCatalog:
        doc = jsontext.decode(data, path)
        if not isinstance(doc.root, JObject):
            raise CatalogError(path, 1, "an ARB file is a JSON object; wrap the messages in {}")
        root = doc.root
        leaves = []
        for member in root.members:
            key = member.key.value
            if not key.startswith("@") and isinstance(member.value, JString):
                meta = root.get(f"@{key}")
                context = _context(key, meta if isinstance(meta, JObject) else None)
                leaves.append(Leaf(key, (key,), member.value, context))
        catalog = JsonCatalog(path, doc, tuple(leaves))
        jsonmsg.check_icu(catalog)
        _check_placeholders(catalog, root)
        return catalog

    def render(
        self,
        source: JsonCatalog,
        lang: str,
        existing: JsonCatalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        out = jsonmsg.values(source, lang, existing, translations)
        locale = arb_locale(lang)
        doc = source.doc

        def hook(path: Key, member: JMember) -> Sequence[str] | None:
            key = member.key.value
            if key == "@@locale":
                return [doc.text[member.key.start : member.value.start] + doc.string(locale)]
            if key.startswith("@") and not key.startswith("@@"):
                return None if (key[1:],) in out or not source_has(key[1:]) else []
            return None

        def source_has(key: str) -> bool:
            return any(leaf.id == key for leaf in source.leaves)

        if existing is not None:
            out = _with_metadata(source, existing, out)
        rendered = jsonmsg.render(source, lang, existing, out, hook)
        if existing is not None or not isinstance(doc.root, JObject) or doc.root.get("@@locale"):
            return rendered
        new = jsontext.decode(rendered, source.path)
        assert isinstance(new.root, JObject)
        edit = jsontext.insertion(new, new.root, None, {"@@locale": locale})
        return new.encode(jsontext.splice(new.text, [edit]))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``app_en.arb`` -> ``app_de.arb``; ``strings.arb`` -> ``strings_de.arb``."""
        found = _STEM.match(source_path.stem)
        name = found["name"] if found and jsonmsg.lang_path(found["lang"]) else source_path.stem
        return source_path.with_name(f"{name}_{arb_locale(lang)}{source_path.suffix}")
