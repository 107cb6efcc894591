"""The outputs of a run: unit results -> the table with its added columns, and side files.

Written block by block: each block of rows looks up the results of its own
cells in the result store (``store.ResultStore``: the checkpoint), computes
the row columns (wide: a column per language; long: a row per source row and
language), and is appended to the output, so no stage holds the results of
the whole table.  Counts what ended how (``Written``), records the glossary
entries applied (matched in the key stage, carried by the plan), and writes
``--failed-out``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import polars as pl

from .cells import CellPlan
from .formats import Table, TableWriter, write_frame
from .merge import NOT_TRANSLATED, failed_cells, merge_results
from .specs import WriteSpec
from .stats import Written
from .store import ResultStore

__all__ = ["BLOCK_ROWS", "Owns", "applied_terms", "write_outputs"]

BLOCK_ROWS = 100_000  # rows written per block: bounds the memory of the output stage

# Which of these unit keys' billed usage this table shows (a bool per key): a table that
# is one block of a larger dataset shows only the units no other block showed first.
Owns = Callable[[pl.Series], pl.Series]


def write_outputs(
    spec: WriteSpec,
    table: Table,
    plan: CellPlan,
    store: ResultStore,
    *,
    missing: str = NOT_TRANSLATED,
    block_rows: int | None = None,
    owns: Owns | None = None,
) -> Written:
    """Write the output block by block; count what ended how.  ``missing``: the reason
    given to cells without a result (why sending stopped, if it did)."""
    block_rows = block_rows or BLOCK_ROWS
    failed: list[pl.DataFrame] = []
    flags: Counter[str] = Counter()
    writer = TableWriter(
        spec.output,
        source=table,
        format=spec.format,
        escape_formulas=spec.escape_formulas,
        escape_columns=_translated_columns(spec.layout, plan),
    )
    with writer as out:
        for start in range(0, max(plan.rows, 1), block_rows):
            cells, rows = plan.slice(start, block_rows), table.slice(start, block_rows)
            results = store.lookup(pl.concat(cells.keys)) if cells.keys else None
            if results is None:
                out.write(rows, pl.DataFrame())
                continue
            failed.append(_failed(cells, results, missing, start, rows))
            flags.update(_flag_counts(cells, results))
            terms = _applied_terms(cells)
            out.write(*_added(spec.layout, rows, _billed(cells, owns), results, missing, terms))
    every = pl.concat(failed) if failed else pl.DataFrame()
    if spec.failed_out is not None:
        write_frame(every, spec.failed_out)
    reasons = Counter(every["reason"].to_list() if every.height else [])
    return Written(failed=every.height, failures=reasons, flags=flags)


def _added(
    layout: str,
    rows: Table,
    cells: CellPlan,
    results: pl.DataFrame,
    missing: str,
    terms: list[pl.Series] | None,
) -> tuple[Table, pl.DataFrame]:
    """The rows of a block and the columns added to them, in ``layout``."""
    if layout == "long":
        return _long(rows, cells, results, missing, terms)
    added = merge_results(
        cells.pairs, cells.keys, results, first=cells.first, missing=missing, terms=terms
    )
    return rows, added


def _billed(cells: CellPlan, owns: Owns | None) -> CellPlan:
    """``cells`` with ``first`` kept only on the units whose usage ``owns`` gives this table."""
    if owns is None:
        return cells
    first = []
    for keys, mask in zip(cells.keys, cells.first, strict=True):
        kept = owns(keys.filter(mask))
        first.append(mask.clone().scatter(mask.arg_true(), kept) if len(kept) else mask)
    return replace(cells, first=tuple(first))


def _translated_columns(layout: str, plan: CellPlan) -> list[str]:
    """The added columns that hold text from the model: formulas there are defused."""
    if layout == "long":
        return list(dict.fromkeys(f"{column}_translated" for column, _ in plan.pairs))
    return [f"{column}_{lang}" for column, lang in plan.pairs]


def _failed(
    cells: CellPlan, results: pl.DataFrame, missing: str, start: int, rows: Table
) -> pl.DataFrame:
    """The failed cells of a block: the input's id columns, then ``row`` (0-based) and more."""
    failed = failed_cells(cells.pairs, cells.keys, results, missing=missing)
    if not failed.width:
        return failed
    failed = failed.with_columns(pl.col("row") + start)
    if not rows.ids:
        return failed
    taken = set(failed.columns)
    ids = pl.DataFrame(  # Series, not names: an id column named "*" is not a pattern
        [rows.frame.get_column(n).alias(f"input_{n}" if n in taken else n) for n in rows.ids]
    )
    return pl.concat([ids[failed["row"] - start], failed], how="horizontal")


def _applied_terms(cells: CellPlan) -> list[pl.Series] | None:
    """Per pair, the glossary entries sent with each cell (matched in the key stage,
    carried by the plan): ``page=Seite, tree=Baum``."""
    if cells.terms is None:
        return None
    return [applied_terms(terms) for terms in cells.terms]


def applied_terms(terms: pl.Series) -> pl.Series:
    """``terms`` (JSON ``[[source, target], ...]`` per cell, null: none) as the text of
    the ``mt_terms`` column: ``page=Seite, tree=Baum``."""
    pairs = terms.str.json_decode(pl.List(pl.List(pl.String)))
    return pairs.list.eval(pl.element().list.join("=")).list.join(", ").alias(terms.name)


def _flag_counts(cells: CellPlan, results: pl.DataFrame) -> Counter[str]:
    """QA flags by kind, counted over cells."""
    flags = results.select("key", "flags").filter(pl.col("flags") != "")
    counts: Counter[str] = Counter()
    if not flags.height:
        return counts
    for keys in cells.keys:
        joined = keys.alias("key").to_frame().join(flags, on="key", how="inner")
        counts.update(f for each in joined["flags"].to_list() for f in each.split(","))
    return counts


def _long(
    table: Table,
    cells: CellPlan,
    results: pl.DataFrame,
    missing: str,
    terms: list[pl.Series] | None,
) -> tuple[Table, pl.DataFrame]:
    """One row per source row and language: the rows repeated, one language per copy."""
    langs = list(dict.fromkeys(lang for _, lang in cells.pairs))
    rows = table.frame.height
    parts = []
    for lang in langs:
        chosen = [i for i, (_, code) in enumerate(cells.pairs) if code == lang]
        pairs = [cells.pairs[i] for i in chosen]
        added = merge_results(
            pairs,
            [cells.keys[i] for i in chosen],
            results,
            first=[cells.first[i] for i in chosen],
            missing=missing,
            terms=[terms[i] for i in chosen] if terms is not None else None,
        ).rename({f"{column}_{lang}": f"{column}_translated" for column, _ in pairs})
        parts.append(added.with_columns(pl.lit(lang).alias("mt_lang")))
    order = [j * rows + i for i in range(rows) for j in range(len(langs))]
    added = pl.concat(parts)[order]
    return table.take([i for i in range(rows) for _ in langs]), added
