"""Unit results + cell keys -> the columns added to the output table.

Row-level columns are computed here, at write time, from the cells' unit
results, so the checkpoint never depends on row positions.  Each unit's
billed usage lands on exactly one row (the first that references it, in
row-major, column, language order), so the token columns sum to what was
billed for the units the table uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["failed_cells", "merge_results"]

NOT_TRANSLATED = "not translated"


def merge_results(
    pairs: Sequence[tuple[str, str]],
    keys: Sequence[pl.Series],
    results: pl.DataFrame,
    *,
    first: Sequence[pl.Series],
    missing: str = NOT_TRANSLATED,
    terms: Sequence[pl.Series] | None = None,
) -> pl.DataFrame:
    """Columns ``{column}_{lang}`` per pair, then tokens, ``mt_error`` and ``mt_flags``.

    A blank cell (no key: empty or whitespace only, never sent) is null, as
    is a cell that failed.  ``first`` (per pair, ``CellPlan.first``) marks
    the cells whose row carries their unit's billed usage.
    ``missing`` is the reason given to cells with no result at all (the run
    stopped early: ``budget``, ``interrupted``).  ``terms`` (per pair: the
    glossary entries applied to each cell, as text) adds ``mt_terms``.
    """
    height = len(keys[0]) if keys else 0
    joined = [_join(k, results) for k in keys]
    columns = [
        _translation(frame).alias(f"{column}_{lang}")
        for (column, lang), frame in zip(pairs, joined, strict=True)
    ]
    added = pl.DataFrame(columns, height=height) if columns else pl.DataFrame(height=height)
    tokens = _tokens(joined, first, height)
    added = added.with_columns(*tokens, _errors(pairs, joined, missing), _flags(pairs, joined))
    if terms is not None:
        notes = [
            t.to_frame("t")
            .select(
                pl.when(pl.col("t").is_not_null()).then(pl.lit(f"{column}_{lang}: ") + pl.col("t"))
            )
            .to_series()
            for (column, lang), t in zip(pairs, terms, strict=True)
        ]
        added = added.with_columns(_per_row(notes, "mt_terms"))
    return added


def _join(keys: pl.Series, results: pl.DataFrame) -> pl.DataFrame:
    frame = keys.alias("key").to_frame()
    return frame.join(results, on="key", how="left", maintain_order="left")


def _translation(frame: pl.DataFrame) -> pl.Series:
    """The translation of each done cell; null elsewhere (blank cells are not translated)."""
    done = pl.col("status") == "done"
    return frame.select(pl.when(done).then(pl.col("translation"))).to_series()


def _tokens(
    joined: Sequence[pl.DataFrame], first: Sequence[pl.Series], height: int
) -> list[pl.Series]:
    """Per row, the usage of the units whose first cell is on that row."""
    names = ("prompt_tokens", "completion_tokens")
    sums = [pl.repeat(0, height, dtype=pl.Int64, eager=True) for _ in names]
    for frame, mask in zip(joined, first, strict=True):
        for i, name in enumerate(names):
            sums[i] = sums[i] + frame[name].fill_null(0) * mask.cast(pl.Int64)
    return [s.alias(f"mt_{name}") for s, name in zip(sums, names, strict=True)]


_FAILED = pl.col("key").is_not_null() & (pl.col("status").fill_null("") != "done")


def _errors(
    pairs: Sequence[tuple[str, str]], joined: Sequence[pl.DataFrame], missing: str
) -> pl.Series:
    parts = []
    for (column, lang), frame in zip(pairs, joined, strict=True):
        failed = _FAILED
        reason = pl.coalesce(pl.col("error"), pl.lit(missing))
        detail = (
            pl.when(pl.col("message").is_not_null())
            .then(pl.lit(" (") + pl.col("message") + pl.lit(")"))
            .otherwise(pl.lit(""))
        )
        parts.append(
            frame.select(
                pl.when(failed).then(pl.lit(f"{column}_{lang}: ") + reason + detail)
            ).to_series()
        )
    return _per_row(parts, "mt_error")


def _flags(pairs: Sequence[tuple[str, str]], joined: Sequence[pl.DataFrame]) -> pl.Series:
    """``text_de: echo,script; text_ja: placeholders`` for cells QA flagged."""
    parts = [
        frame.select(
            pl.when(pl.col("flags").fill_null("") != "").then(
                pl.lit(f"{column}_{lang}: ") + pl.col("flags")
            )
        ).to_series()
        for (column, lang), frame in zip(pairs, joined, strict=True)
    ]
    return _per_row(parts, "mt_flags")


def _per_row(parts: Sequence[pl.Series], name: str) -> pl.Series:
    """Join each row's non-null notes with '; ' (null when there are none)."""
    if not parts:
        return pl.Series(name, [], dtype=pl.String)
    notes = pl.DataFrame([p.alias(str(i)) for i, p in enumerate(parts)])
    text = pl.concat_str(pl.all(), separator="; ", ignore_nulls=True)
    return notes.select(pl.when(text != "").then(text).alias(name)).to_series()


def failed_cells(
    pairs: Sequence[tuple[str, str]],
    keys: Sequence[pl.Series],
    results: pl.DataFrame,
    *,
    missing: str = NOT_TRANSLATED,
) -> pl.DataFrame:
    """One row per failed cell: row (0-based), column, language, reason, message, attempts.

    Joins each cell with its status only, then the details of the few that failed.
    """
    statuses = results.select("key", "status")
    details = results.filter(pl.col("status") != "done").select(
        "key", "error", "message", "attempts"
    )
    frames = [
        k.alias("key")
        .to_frame()
        .with_row_index("row")
        .filter(pl.col("key").is_not_null())
        .join(statuses, on="key", how="left", maintain_order="left")
        .filter(pl.col("status").fill_null("") != "done")
        .join(details, on="key", how="left", maintain_order="left")
        .select(
            pl.col("row").cast(pl.Int64),
            pl.lit(column).alias("column"),
            pl.lit(lang).alias("language"),
            pl.coalesce(pl.col("error"), pl.lit(missing)).alias("reason"),
            pl.col("message"),
            pl.col("attempts").fill_null(0),
        )
        for (column, lang), k in zip(pairs, keys, strict=True)
    ]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames).sort("row", maintain_order=True)
