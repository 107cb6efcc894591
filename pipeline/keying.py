"""The key stage: a table and what to translate -> the cells keyed, with their settings.

    keyed = key(spec, table)   # keyed.plan: a CellPlan (with its glossary terms); keyed.settings
    keyed.requests(pending, spec, sizer)   # the plan stage: the requests for what is left

A cell's key hashes the model, the settings that change the translation, the
target language, its text, its context columns and the glossary terms found in
it, so the store and the cache answer a cell only with what it would be sent.
The glossary is matched here, once per distinct text and language; the terms
travel with the cells (``CellPlan.terms``) to the planner and the output.
The template is checked against the table here, before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import polars as pl

from . import qa
from .cells import CellPlan, TermsFor, fingerprint, plan_cells
from .errors import UsageError
from .formats import Table
from .glossary import load_glossary, load_memory
from .models import Request, Settings
from .packsize import PackSizer
from .planner import Packing, plan_requests
from .specs import TranslateSpec
from .templates import check_template, context_columns, load_template

__all__ = ["Keyed", "key", "pack_sizer"]


@dataclass(frozen=True, slots=True)
class Keyed:
    plan: CellPlan
    settings: Settings

    def requests(
        self,
        pending: tuple[pl.Series, ...],
        spec: TranslateSpec,
        sizer: PackSizer | None,
        *,
        stored: Collection[str] = (),
    ) -> Iterator[Request]:
        """The requests for the cells still to send, planned block by block (lazily);
        ``stored``: the piece keys already done, not sent again."""
        pack = spec.packing
        packing = Packing(pack.enabled, pack.max_segments, pack.max_tokens, sizer=sizer)
        return plan_requests(
            self.plan.units(pending), self.settings, chunking=spec.chunking, packing=packing,
            stored_pieces=stored,
        )  # fmt: skip


def key(spec: TranslateSpec, table: Table) -> Keyed:
    settings, context = _settings(spec, table)
    return Keyed(_plan(spec, table, settings, context, _terms_for(spec)), settings)


def pack_sizer(spec: TranslateSpec, *, sending: int | None = None) -> PackSizer | None:
    """--pack auto adapts the pack size per language (packsize.py); --pack on keeps it.
    ``sending``: the unique texts the run sends, which bound the packs sent on a bet."""
    if not spec.packing.auto:
        return None
    expected = None if sending is None else sending // max(1, len(spec.targets))
    return PackSizer(ceiling=spec.packing.max_segments, model=spec.model, expected=expected)


def _settings(spec: TranslateSpec, table: Table) -> tuple[Settings, tuple[str, ...]]:
    template_text, context = "", tuple[str, ...]()
    memory = load_memory(spec.memory) if spec.memory is not None else ()
    if spec.template is not None:
        template = load_template(spec.template)
        check_template(template, table.frame.columns, origin=str(spec.template))
        template_text, context = template.text, tuple(sorted(context_columns(template)))
        guided = spec.glossary is not None or memory or spec.domain
        if guided and spec.style == "prompt" and "requirements" not in template.variables:
            raise UsageError(
                f"{spec.template}: a glossary, memory or domain is given but the template "
                "has no {requirements} variable to carry it; add {requirements}"
            )
    elif spec.context:  # the built-in prompt's context note (a catalog run's)
        missing = [c for c in spec.context if c not in table.frame.columns]
        if missing:
            raise UsageError(f"context: {', '.join(missing)} is not a column of the input")
        context = spec.context
    settings = Settings(
        model=spec.model,
        style=spec.style,
        template=template_text,
        source_lang=spec.source_lang,
        params=spec.params,
        extra=spec.extra,
        domain=spec.domain,
        memory=memory,
    )
    return settings, context


def _terms_for(spec: TranslateSpec) -> TermsFor | None:
    """The glossary entries found in a text's translatable prose (never inside a placeholder:
    ``title`` in ``%(title)s`` is not a term to translate)."""
    if spec.glossary is None:
        return None
    glossary = load_glossary(spec.glossary)
    return lambda text, lang: glossary.for_text(qa.prose(text), lang)


def _plan(
    spec: TranslateSpec,
    table: Table,
    settings: Settings,
    context: tuple[str, ...],
    terms_for: TermsFor | None,
) -> CellPlan:
    contexts = None
    if context:
        values = pl.DataFrame([table.texts(c).fill_null("").alias(c) for c in context])
        # Without a template a row with no context is text-only (it dedupes and packs).
        sparse = not settings.template
        contexts = pl.Series(
            [
                None
                if sparse and not any(row)
                else json.dumps(dict(zip(context, row, strict=True)))
                for row in values.iter_rows()
            ],
            dtype=pl.String,
        )
    texts = {column: table.texts(column) for column in table.columns}
    targets = [(lang.code, lang.name) for lang in spec.targets]
    return plan_cells(
        texts, targets, fp=fingerprint(settings), contexts=contexts, terms_for=terms_for
    )
