"""The outputs of a run: unit results -> the table with its added columns, and side files.

Counts what ended how into the report, computes the row columns (wide: a
column per language; long: a row per source row and language), records the
glossary entries applied, and writes the table and ``--failed-out``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import polars as pl

from .config import Job
from .merge import NOT_TRANSLATED, failed_cells, merge_results
from .planner import CellPlan, TermsFor
from .reader import Table
from .report import Report
from .writer import write_frame, write_table

__all__ = ["write_outputs"]


def write_outputs(
    job: Job,
    table: Table,
    plan: CellPlan,
    results: pl.DataFrame,
    report: Report,
    terms_for: TermsFor | None = None,
) -> None:
    missing = report.stopped or NOT_TRANSLATED
    failed = failed_cells(plan.pairs, plan.keys, results, missing=missing)
    report.failed = failed.height
    report.translated = report.cells - report.failed
    report.failures.update(failed["reason"].to_list() if failed.height else [])
    report.flags.update(_flag_counts(plan, results))
    terms = _applied_terms(job, table, plan, terms_for)
    if job.layout == "long":
        table, added = _long(table, plan, results, missing, terms)
    else:
        sources = [table.texts(column) for column, _ in plan.pairs]
        added = merge_results(plan.pairs, plan.keys, sources, results, missing=missing, terms=terms)
    escape = [name for name in added.columns if not name.startswith("mt_")]
    write_table(
        table,
        added,
        job.output,
        format=job.output_format,
        escape_formulas=job.escape_formulas,
        escape_columns=escape,
    )
    if job.failed_out is not None:
        write_frame(failed, job.failed_out)


def _applied_terms(
    job: Job, table: Table, plan: CellPlan, terms_for: TermsFor | None
) -> list[pl.Series] | None:
    """Per pair, the glossary entries sent with each cell: ``page=Seite, tree=Baum``."""
    if terms_for is None:
        return None
    names = {lang.code: lang.name for lang in job.targets}
    out = []
    for column, code in plan.pairs:
        texts = table.texts(column).to_list()
        applied = [terms_for(t, names[code]) if t and not t.isspace() else () for t in texts]
        out.append(
            pl.Series(
                [", ".join(f"{s}={t}" for s, t in a) or None for a in applied], dtype=pl.String
            )
        )
    return out


def _flag_counts(plan: CellPlan, results: pl.DataFrame) -> Counter[str]:
    """QA flags by kind, counted over cells."""
    flags = results.select("key", "flags").filter(pl.col("flags") != "")
    counts: Counter[str] = Counter()
    for keys in plan.keys:
        cells = keys.alias("key").to_frame().join(flags, on="key", how="inner")
        counts.update(f for joined in cells["flags"].to_list() for f in joined.split(","))
    return counts


def _long(
    table: Table,
    plan: CellPlan,
    results: pl.DataFrame,
    missing: str,
    terms: list[pl.Series] | None,
) -> tuple[Table, pl.DataFrame]:
    """One row per source row and language: the table repeated, one language per copy."""
    langs = list(dict.fromkeys(lang for _, lang in plan.pairs))
    rows = table.frame.height
    parts = []
    for lang in langs:
        chosen = [i for i, (_, code) in enumerate(plan.pairs) if code == lang]
        pairs = [plan.pairs[i] for i in chosen]
        added = merge_results(
            pairs,
            [plan.keys[i] for i in chosen],
            [table.texts(column) for column, _ in pairs],
            results,
            missing=missing,
            terms=[terms[i] for i in chosen] if terms is not None else None,
        ).rename({f"{column}_{lang}": f"{column}_translated" for column, _ in pairs})
        parts.append(added.with_columns(pl.lit(lang).alias("mt_lang")))
    order = [j * rows + i for i in range(rows) for j in range(len(langs))]
    added = pl.concat(parts)[order]
    repeat = [i for i in range(rows) for _ in langs]
    raw = table.raw_lines[repeat] if table.raw_lines is not None else None
    return replace(table, frame=table.frame[repeat], raw_lines=raw), added
