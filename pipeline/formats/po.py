"""gettext ``.po`` / ``.pot`` catalogs: the ``CatalogFormat`` for gettext.

Reading keeps every byte (``po_file``): ``serialize(parse(data)) == data``.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale, UnknownLocaleError

from .catalog import Catalog
from .po_file import PoCatalog, parse_po, serialize_po

__all__ = ["FORMAT", "PoFormat"]


def gettext_language(lang: str) -> str:
    """``pt-BR`` -> ``pt_BR``, ``zh-Hant`` -> ``zh_Hant``: how gettext names a language."""
    try:
        return str(Locale.parse(lang, sep="-"))
    except (ValueError, UnknownLocaleError):
        return lang.replace("-", "_")


class PoFormat:
    """gettext PO and POT files."""

    name = "po"
    extensions = (".po", ".pot")

    def parse(self, data: bytes, path: Path) -> PoCatalog:
        return parse_po(data, path)

    def serialize(self, catalog: Catalog) -> bytes:
        return serialize_po(_po(catalog))

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``locale/de.po`` beside the source, or ``locale/de/LC_MESSAGES/NAME.po`` when the
        source sits in such a tree (``locale/en/LC_MESSAGES/django.po``)."""
        name = gettext_language(lang)
        if source_path.parent.name == "LC_MESSAGES":
            root = source_path.parent.parent.parent
            return root / name / "LC_MESSAGES" / f"{source_path.stem}.po"
        return source_path.parent / f"{name}.po"


def _po(catalog: Catalog) -> PoCatalog:
    if not isinstance(catalog, PoCatalog):
        raise TypeError(f"not a gettext catalog: {catalog!r}")
    return catalog


FORMAT = PoFormat()
