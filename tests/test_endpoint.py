"""The library's run: ``sim`` means what it means on the command line and in job files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import pipeline
from pipeline.options import build_job


def test_the_library_run_honours_sim(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nHello world\nGood night\n", encoding="utf-8")
    values = {"input": source, "to": "de,ja", "sim": True, "progress": False}
    # No key anywhere and the real API's default base URL: only the simulator can answer.
    job = build_job(values | {"max_attempts": 1, "timeout": 5}, env={})
    report = pipeline.run(job)
    assert (report.translated, report.failed, report.exit_code) == (4, 0, 0)
    out = pl.read_csv(tmp_path / "in.translated.csv")
    assert out["text_de"].null_count() == 0 and out["text_ja"].null_count() == 0
    assert report.prompt_tokens == int(out["mt_prompt_tokens"].sum())
