"""The contract of a localization catalog: parse, list what to translate per target, render.

A catalog format (one module per format in this package) parses a file's bytes
into a ``Catalog`` that keeps whatever it needs to write itself back byte for
byte, and answers three questions:

- ``messages(source, lang, existing)``: per target language, the texts to
  translate, one ``Message`` per entry and, for a plural entry, per plural
  category *as the target language counts them* (``plural_categories``), each
  with its context (key, msgctxt, comments, notes, descriptions, the count) so
  identical source texts in different contexts stay different units. An entry
  an existing target catalog already holds as a human translation (non-empty,
  not fuzzy / needs-review, its source unchanged) comes back with
  ``keep=True`` and is not sent.
- ``render(source, lang, existing, translations)``: the target catalog's bytes,
  with every ``Message.id`` of ``translations`` filled in (``Target.review``
  marks one QA flagged: fuzzy, ``needs-review-translation``, ...). Messages
  absent from ``translations`` (failed, not sent, kept) stay as they were.
  Rendering into ``existing`` with no translations gives ``existing``'s bytes.
- ``target_path(source_path, lang)``: where the target catalog goes by the
  format's convention (``de.po``, ``values-pt-rBR/strings.xml``,
  ``pt-BR.lproj/Localizable.strings``, ``app_de.arb``, ``de/translation.json``).

``serialize(parse(data)) == data`` for every file the format accepts: comments,
order, whitespace, escapes, encoding and BOM, line endings kept.

A file the format cannot read raises ``CatalogError`` with the line number:
one line saying what is wrong and what to do (exit 2, like every bad input).

Languages are BCP 47 tags as the user typed them after resolution (``de``,
``pt-BR``, ``zh-Hant``, ``sr-Latn``); each format spells them its own way.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import InputError

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogFormat",
    "Message",
    "Target",
    "catalog_folders",
    "layout_root",
    "narrow",
    "plural_categories",
]

STATE = ".mtpipe"  # under a catalog run's folder: its checkpoint and report


class CatalogError(InputError):
    """A catalog that cannot be read: ``PATH:LINE: what is wrong; what to do``."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


@dataclass(frozen=True, slots=True)
class Message:
    """One text to translate into one target language.

    ``id`` is unique within the catalog and stable across runs (the entry's
    key, with ``#category`` for a plural form); ``context`` is what a prompt
    template may show (``key``, ``msgctxt``, ``comment``, ``note``,
    ``description``, ``plural``, ``count``...) and what tells identical texts
    apart. ``placeholders`` lists the format's protected spans found in
    ``text`` (``%1$s``, ``%@``, ``{{name}}``, ``<x id="1"/>``), for QA.
    """

    id: str
    text: str
    context: Mapping[str, str] = field(default_factory=dict)
    plural: str | None = None  # the CLDR category of the target this message fills
    existing: str | None = None  # what the target catalog holds for it now
    keep: bool = False  # a human translation that is not sent (unless --overwrite)
    placeholders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    """A translation to render: its text, and whether QA asks a human to review it."""

    text: str
    review: bool = False


class Catalog(Protocol):
    """A parsed catalog; each format defines its own, holding what it needs to render."""

    @property
    def path(self) -> Path: ...  # read-only, so a frozen dataclass is a Catalog


class CatalogFormat(Protocol):
    """One localization format: registered by ``name`` and its file ``extensions``."""

    @property
    def name(self) -> str: ...  # read-only members: a frozen dataclass or class attributes

    @property
    def extensions(self) -> tuple[str, ...]: ...

    def parse(self, data: bytes, path: Path) -> Catalog: ...

    def serialize(self, catalog: Catalog) -> bytes: ...

    def messages(
        self, source: Catalog, lang: str, existing: Catalog | None, *, overwrite: bool = False
    ) -> list[Message]: ...

    def render(
        self,
        source: Catalog,
        lang: str,
        existing: Catalog | None,
        translations: Mapping[str, Target],
    ) -> bytes: ...

    def target_path(self, source_path: Path, lang: str) -> Path: ...


def layout_root(fmt: CatalogFormat, source: Path) -> Path:
    """The folder the format's target layout starts from: ``locale/`` for
    ``locale/en/LC_MESSAGES/django.po``, ``res/`` for ``res/values/strings.xml``."""
    target = fmt.target_path(source, "de")
    return Path(os.path.commonpath([source.parent, target.parent]))


def catalog_folders(
    fmt: CatalogFormat, source: Path, output: str | Path | None
) -> tuple[Path, Path, Path]:
    """Where a catalog run writes: the folder its targets' layout starts from (``output``,
    else ``layout_root`` beside the source), and the checkpoint and report in its hidden
    ``.mtpipe/`` (aapt2 and Xcode skip it)."""
    out = Path(output) if output else layout_root(fmt, source)
    out = out if out.name else out.absolute()  # "." has no name to derive files from
    state = out / STATE
    return out, state / f"{source.name}.checkpoint.sqlite", state / f"{source.name}.report.json"


@functools.cache
def plural_categories(lang: str) -> tuple[str, ...]:
    """The CLDR plural categories of ``lang`` in CLDR order (babel): ja ``other``;
    de ``one other``; ru ``one few many other``; ar ``zero one two few many other``."""
    from babel import Locale

    order = ("zero", "one", "two", "few", "many", "other")
    tags = Locale.parse(lang.replace("-", "_")).plural_form.tags | {"other"}
    return tuple(tag for tag in order if tag in tags)


_C = TypeVar("_C")


def narrow(catalog: Catalog, kind: type[_C]) -> _C:
    """``catalog`` as its format's own type: a format handed another's catalog is a bug."""
    if not isinstance(catalog, kind):
        raise TypeError(f"not a {kind.__name__}: {type(catalog).__name__}")
    return catalog
