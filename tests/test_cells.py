"""Tests for pipeline.cells: unit keys, the columnar plan and its blocks of units."""

from __future__ import annotations

import polars as pl

from pipeline.cells import cell_keys, fingerprint, plan_cells
from pipeline.models import Settings

SETTINGS = Settings(model="qwen-mt-turbo", style="prompt", template="", source_lang="auto")


def test_fingerprint_changes_with_output_settings_only() -> None:
    base = fingerprint(SETTINGS)
    assert fingerprint(Settings("qwen-mt-plus", "prompt", "", "auto")) != base
    assert fingerprint(Settings("qwen-mt-turbo", "options", "", "auto")) != base
    assert (
        fingerprint(Settings("qwen-mt-turbo", "prompt", "", "auto", (("temperature", 0.2),)))
        != base
    )
    # max_tokens, stream, user do not change the translation: same key
    extra = Settings("qwen-mt-turbo", "prompt", "", "auto", (), (("max_tokens", 99),))
    assert fingerprint(extra) == base


def test_cell_keys_skip_blank_and_dedupe() -> None:
    texts = pl.Series("text", ["Hello", None, "", "  \n", "Hello", "World"])
    keys = cell_keys(texts, fp="f", lang="German").to_list()
    assert keys[1] is None and keys[2] is None and keys[3] is None
    assert keys[0] == keys[4] != keys[5]
    other = cell_keys(texts, fp="f", lang="Japanese").to_list()
    assert other[0] != keys[0]


def test_plan_cells_counts_cells_per_unit() -> None:
    texts = {"a": pl.Series(["x", "y", None]), "b": pl.Series(["y", "x", "z"])}
    plan = plan_cells(texts, [("de", "German"), ("ja", "Japanese")], fp="f")
    assert plan.pairs == (("a", "de"), ("a", "ja"), ("b", "de"), ("b", "ja"))
    units = pl.concat(plan.units())
    assert units.height == 6  # x, y, z per language
    assert units["cells"].sum() == 10
    assert units.filter(pl.col("text") == "z")["cells"].to_list() == [1, 1]
    # each unit stands on its first cell in row-major, column, language order:
    # row 0 holds x (column a) and y (column b, before y in row 1 of column a)
    assert [f.to_list() for f in plan.first] == [[True, False, False]] * 2 + [
        [True, False, True]
    ] * 2


def test_units_come_block_by_block_less_the_skipped() -> None:
    texts = {"text": pl.Series([f"t{i % 7}" if i % 5 else None for i in range(100)])}
    plan = plan_cells(texts, [("de", "German")], fp="f")
    blocks = list(plan.units(block_rows=10))
    assert all(b.height <= 10 for b in blocks) and len(blocks) > 1
    units = pl.concat(blocks)
    assert sorted(units["text"].to_list()) == [f"t{i}" for i in range(7)]
    assert units["cells"].sum() == 80  # every non-blank cell, once
    skipped = units.filter(pl.col("text").is_in(["t1", "t2"]))["key"]
    rest = pl.concat(plan.units(plan.pending(skipped)))
    assert sorted(rest["text"].to_list()) == ["t0", "t3", "t4", "t5", "t6"]
