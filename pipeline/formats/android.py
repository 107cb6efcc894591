"""Android ``res/values/strings.xml``: strings, plurals per target quantity, string arrays.

Read: ``<string>``, ``<plurals>`` (``<item quantity=...>``) and
``<string-array>`` items, as aapt2 reads their text (``androidtext``);
``translatable="false"`` and resource references (``@string/x``) are not
sent. The comments just before an element (and before a plural item) go into
``context["comment"]``, its ``name`` into ``context["key"]``. Message ids: the
name (``name@product`` for a ``product`` variant), ``name#quantity`` for a
plural form, ``name[i]`` for an array item.
``placeholders`` lists the ``<xliff:g>`` spans and other markup (protected:
a translation that breaks them is refused) and ``%1$s``/``%d`` specifiers.

Plurals are asked in the target's CLDR quantities (``plural_categories``: ru
one/few/many/other, ar all six), each its own message with the count's
examples (``context["count"]``: ``2, 3, 4, 22, …``), from the source's item of
that quantity, else its ``other``.

Written: ``values-LANG[-rREGION]/strings.xml`` beside the source's
``values/`` (``pt-BR`` -> ``values-pt-rBR``; a tag with a script or a
three-letter language -> the BCP 47 qualifier ``values-b+zh+Hant``). A new
target holds the source's prolog (declaration, header comment) and only the
translated entries, in the source's order; an existing target keeps every
byte except the entries translated now. Android targets carry no source text,
so an existing non-empty translation counts as a human one (kept unless
``overwrite``); a plural or array is written only once all its forms are there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from .androiddoc import AndroidCatalog, Entry, Item, Writer, forms
from .androidtext import decode
from .catalog import Catalog, CatalogError, CatalogFormat, Message, Target, narrow
from .xmltext import Document, Node, load, pieces, splice

__all__ = ["AndroidCatalog", "AndroidFormat"]

KINDS = ("string", "plurals", "string-array")
_FORMAT = re.compile(r"%(?:\d+\$)?[-#+ 0,(]*\d*(?:\.\d+)?[a-zA-Z]")
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)


@dataclass(frozen=True, slots=True)
class AndroidFormat:
    name: str = "android"
    extensions: tuple[str, ...] = (".xml",)

    def parse(self, data: bytes, path: Path) -> AndroidCatalog:
        doc = load(data, path)
        if doc.root.name != "resources":
            raise CatalogError(
                path, doc.root.line, f"the root is <{doc.root.name}>, not <resources>"
            )
        entries: list[Entry] = []
        for child, comment in _commented(doc, doc.root):
            if child.name in KINDS:
                entry = _entry(doc, path, child, comment)
                if any((e.kind, e.name) == (entry.kind, entry.name) for e in entries):
                    raise CatalogError(
                        path, child.line, f"duplicate <{entry.kind} name={entry.name!r}>; keep one"
                    )
                entries.append(entry)
        return AndroidCatalog(path, doc, tuple(entries))

    def serialize(self, catalog: Catalog) -> bytes:
        return narrow(catalog, AndroidCatalog).doc.data

    def messages(
        self, source: Catalog, lang: str, existing: Catalog | None, *, overwrite: bool = False
    ) -> list[Message]:
        src, old = (
            narrow(source, AndroidCatalog),
            narrow(existing, AndroidCatalog) if existing is not None else None,
        )
        out = []
        wanted = [(e, *form) for e in src.entries if e.translatable for form in forms(e, lang)]
        for entry, key, item, quantity in wanted:
            if item.reference:
                continue
            have = _existing(old, entry, key)
            context = {"key": entry.name}
            if comment := "\n".join(c for c in (entry.comment, item.comment) if c):
                context["comment"] = comment
            if quantity is not None:
                context |= {"plural": quantity, "count": _examples(lang, quantity)}
            message = Message(
                id=key,
                text=item.text,
                context=context,
                plural=quantity,
                existing=have.text if have else None,
                keep=bool(have and have.text.strip()) and not overwrite,
                placeholders=_placeholders(item),
            )
            out.append(message)
        return out

    def render(
        self,
        source: Catalog,
        lang: str,
        existing: Catalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        src = narrow(source, AndroidCatalog)
        if existing is not None and not translations:
            return narrow(existing, AndroidCatalog).doc.data
        base = narrow(existing, AndroidCatalog) if existing is not None else _skeleton(self, src)
        writer = Writer(src, base, lang, translations)
        edits = [
            edit for entry in src.entries if entry.translatable for edit in writer.entry(entry)
        ]
        return base.doc.encode(splice(base.doc.text, edits))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``res/values/strings.xml`` -> ``res/values-pt-rBR/strings.xml``."""
        folder = source_path.parent
        res = folder.parent if folder.name.startswith("values") else folder
        return res / f"values-{qualifier(lang)}" / source_path.name


def qualifier(lang: str) -> str:
    """The Android resource qualifier of a BCP 47 tag: ``de``, ``pt-rBR``, ``b+sr+Latn``."""
    language, *rest = lang.replace("_", "-").split("-")
    parts = [language.lower()]
    for part in rest:
        parts.append(part.title() if len(part) == 4 and part.isalpha() else part.upper())
    legacy = len(language) == 2 and (
        not rest or (len(rest) == 1 and len(rest[0]) == 2 and rest[0].isalpha())
    )
    if legacy:
        return parts[0] + (f"-r{parts[1]}" if rest else "")
    return "b+" + "+".join(parts)


def _entry(doc: Document, path: Path, node: Node, comment: str) -> Entry:
    name = node.get("name")
    if not name:
        raise CatalogError(path, node.line, f"<{node.name}> without a name; give it name=")
    if node.get("product"):
        name = f"{name}@{node.get('product')}"
    translatable = node.get("translatable") != "false"
    if node.name == "string":
        return Entry(
            node.name, name, node, translatable, comment, (_item(doc, node, name, "", None),)
        )
    items: list[Item] = []
    for index, (child, item_comment) in enumerate(_commented(doc, node)):
        if child.name != "item":
            continue
        quantity = child.get("quantity") if node.name == "plurals" else None
        if node.name == "plurals" and not quantity:
            raise CatalogError(path, child.line, f"<item> of plurals {name!r} without a quantity")
        key = f"{name}#{quantity}" if quantity else f"{name}[{index}]"
        if any(item.key == key for item in items):
            raise CatalogError(
                path, child.line, f"plurals {name!r} has quantity {quantity!r} twice"
            )
        items.append(_item(doc, child, key, item_comment, quantity))
    if node.name == "plurals" and not any(item.quantity == "other" for item in items):
        raise CatalogError(path, node.line, f'plurals {name!r} has no quantity="other"; add it')
    return Entry(node.name, name, node, translatable, comment, tuple(items))


def _item(doc: Document, node: Node, key: str, comment: str, quantity: str | None) -> Item:
    text, tags = decode(pieces(doc, node, whole=("g",)))
    reference = doc.inner(node).strip().startswith(("@", "?"))
    return Item(key, node, text, tags, comment, quantity, reference)


def _commented(doc: Document, parent: Node) -> list[tuple[Node, str]]:
    """Each child element with the comments between it and the element before it."""
    out, position = [], parent.open_end
    for child in parent.children:
        comments = _COMMENT.findall(doc.text, position, child.start)
        out.append((child, "\n".join(" ".join(c.split()) for c in comments)))
        position = child.end
    return out


def _existing(old: AndroidCatalog | None, entry: Entry, key: str) -> Item | None:
    found = old.find(entry.kind, entry.name) if old is not None else None
    return next((item for item in found.items if item.key == key), None) if found else None


def _placeholders(item: Item) -> tuple[str, ...]:
    outside = item.text
    for tag in item.tags:
        outside = outside.replace(tag, " ")
    return item.tags + tuple(_FORMAT.findall(outside))


@cache
def _examples(lang: str, quantity: str) -> str:
    """Counts that take ``quantity`` in ``lang`` (CLDR via babel): ``1, 21, 31, 41, …``."""
    from babel import Locale

    rule = Locale.parse(lang.replace("-", "_")).plural_form
    whole = [str(n) for n in range(1000) if rule(n) == quantity]
    if whole:
        return ", ".join(whole[:4]) + (", …" if len(whole) > 4 else "")
    return ", ".join(d for d in ("0.5", "1.5", "2.5") if rule(Decimal(d)) == quantity) + ", …"


def _skeleton(fmt: AndroidFormat, src: AndroidCatalog) -> AndroidCatalog:
    """A new target: the source's prolog and ``<resources>`` start tag, no entries."""
    doc, root = src.doc, src.doc.root
    if root.empty:
        return fmt.parse(doc.data, src.path)
    text = doc.text[: root.open_end] + doc.newline + doc.text[root.close_start :]
    return fmt.parse(doc.encode(text), src.path)


FORMAT: CatalogFormat = AndroidFormat()
