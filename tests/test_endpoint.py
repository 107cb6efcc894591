"""The library's run: ``sim`` means what it means on the command line and in job files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import pipeline
from pipeline.options import build_job
from tests.conftest import mtpipe


def test_the_library_run_honours_sim(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nHello world\nGood night\n", encoding="utf-8")
    values = {"input": source, "to": "de,ja", "sim": True, "progress": False}
    # No key anywhere and the real API's default base URL: only the simulator can answer.
    # env={} has no XDG_CACHE_HOME: without a cache of its own the run would read (and
    # fill) the user's ~/.cache and could pass on cached cells without sending anything.
    options = {"max_attempts": 1, "timeout": 5, "cache": tmp_path / "cache.sqlite"}
    job = build_job(values | options, env={})
    report = pipeline.run(job)
    assert (report.translated, report.failed, report.exit_code) == (4, 0, 0)
    assert (report.new, report.cached, report.requests) == (4, 0, 4)  # the simulator answered
    out = pl.read_csv(tmp_path / "in.translated.csv")
    assert out["text_de"].null_count() == 0 and out["text_ja"].null_count() == 0
    assert report.prompt_tokens == int(out["mt_prompt_tokens"].sum())


def test_an_unknown_model_under_a_budget_is_refused_before_any_request(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\n" + "".join(f"Row {i} of the table\n" for i in range(50)))
    out = tmp_path / "out.csv"
    args = ("translate", source, "--to", "de", "--sim", "-o", out, "--model", "qwen-mt-trubo")
    refused = mtpipe(*args, "--max-cost", "0.001")
    assert refused.code == 2, refused.stderr
    assert "'qwen-mt-trubo' is not in the price table (did you mean qwen-mt-turbo?)" in (
        refused.stderr
    )
    assert not out.exists() and not list(tmp_path.glob("out.csv.*"))
    # With prices the budget holds: the run stops before passing it.
    prices = ("--price-in", "1", "--price-out", "2", "--pack", "off")
    priced = mtpipe(*args, "--max-cost", "0.0002", *prices)
    assert priced.code == 3, priced.stderr
    report = json.loads((tmp_path / "out.csv.report.json").read_text(encoding="utf-8"))
    assert report["stopped"] == "budget" and report["cost_usd"] > 0
    assert report["cost_usd"] == pytest.approx(
        (report["prompt_tokens"] * 1 + report["completion_tokens"] * 2) / 1e6, abs=1e-6
    )


def test_an_unknown_model_without_a_budget_is_warned_about(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nHello world\n", encoding="utf-8")
    run = mtpipe("translate", source, "--to", "de", "--sim", "--model", "my-finetune")
    assert run.code == 0, run.stderr
    assert "warning: model 'my-finetune' is not in the price table" in run.stderr
    known = mtpipe("translate", source, "--to", "ja", "--sim")
    assert known.code == 0 and "warning" not in known.stderr
