"""Glossaries, QA modes and layouts end to end through the simulator."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from tests.conftest import Sim, mtpipe


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_glossary_terms_are_part_of_the_key_and_recorded(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "g.csv", [["text"], ["Edit the page tree"], ["Save draft"], ["Pages"]])
    glossary = _csv(
        tmp_path / "terms.csv", [["source", "target", "lang"], ["page tree", "Seitenbaum", "de"]]
    )
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url, "--pack", "off")
    assert mtpipe(*args).code == 0
    sim.reset()
    run = mtpipe(*args, "--glossary", glossary)
    assert run.code in (0, 3), run.stderr
    # only the cell the glossary applies to is translated again
    assert list(sim.stats()["texts"]) == ["Edit the page tree"]
    out = pl.read_csv(tmp_path / "g.translated.csv", infer_schema=False)
    assert out["mt_terms"].to_list() == ["text_de: page tree=Seitenbaum", None, None]


def test_long_layout_has_a_row_per_language(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "l.csv", [["id", "text"], ["1", "Hello"], ["2", "World"]])
    out = tmp_path / "l.out.csv"
    run = mtpipe(
        "translate", src, "--to", "de,ja", "--layout", "long", "-o", out, "--base-url", sim.base_url
    )
    assert run.code == 0, run.stderr
    frame = pl.read_csv(out, infer_schema=False)
    assert frame["id"].to_list() == ["1", "1", "2", "2"]
    assert frame["mt_lang"].to_list() == ["de", "ja", "de", "ja"]
    assert frame["text_translated"].null_count() == 0
    assert "text_de" not in frame.columns
    assert frame["mt_prompt_tokens"].cast(pl.Int64).sum() > 0
