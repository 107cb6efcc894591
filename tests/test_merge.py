from __future__ import annotations

import polars as pl

from pipeline.cells import first_cells
from pipeline.checkpoint import RESULT_SCHEMA
from pipeline.merge import merge_results


def _results(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")


def test_merge_puts_each_units_usage_on_its_first_row() -> None:
    results = _results(
        [
            ("k1", "done", "Hallo", 50, 5, 1, None, None, ""),
            ("k2", "done", "Welt", 60, 6, 1, None, None, "echo,script"),
            ("k3", "failed_permanent", None, 40, 0, 1, "moderation", "blocked", ""),
        ]
    )
    keys = [pl.Series(["k1", "k2", None, "k1"]), pl.Series(["k2", "k3", "k1", None])]
    first, _ = first_cells(keys, ["German", "German"])
    added = merge_results([("a", "de"), ("b", "de")], keys, results, first=first)
    assert added.columns == [
        "a_de",
        "b_de",
        "mt_prompt_tokens",
        "mt_completion_tokens",
        "mt_error",
        "mt_flags",
    ]
    assert added["a_de"].to_list() == ["Hallo", "Welt", None, "Hallo"]  # a blank cell: null
    assert added["b_de"].to_list() == ["Welt", None, "Hallo", None]
    # k1 billed on row 0, k2 on row 0 (column a comes first), k3 on row 1
    assert added["mt_prompt_tokens"].to_list() == [110, 40, 0, 0]
    assert added["mt_prompt_tokens"].sum() == 150  # == what was billed
    assert added["mt_completion_tokens"].to_list() == [11, 0, 0, 0]
    assert added["mt_error"].to_list() == [None, "b_de: moderation (blocked)", None, None]
    assert added["mt_flags"].to_list() == [
        "b_de: echo,script",
        "a_de: echo,script",
        None,
        None,
    ]


def test_merge_marks_cells_without_result() -> None:
    keys = [pl.Series(["k9"])]
    added = merge_results(
        [("text", "ja")],
        keys,
        _results([]),
        first=first_cells(keys, ["Japanese"])[0],
    )
    assert added["text_ja"].to_list() == [None]
    assert added["mt_error"].to_list() == ["text_ja: not translated"]
    assert added["mt_prompt_tokens"].to_list() == [0]
