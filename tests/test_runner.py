"""The runner through its seams: a job in, the stages' counts added into one report.

Runs against the in-process simulator over loopback, with real files; the counts
each stage returns (stats.py) add with ``+`` and the report is built once from them.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import runner
from pipeline.config import Job
from pipeline.options import build_job
from pipeline.report import Events, Report
from pipeline.sim import SimConfig, SimThread
from pipeline.stats import Counted, Planned, Sent, Written

COUNTS = st.integers(min_value=0, max_value=1000)
REASONS = st.dictionaries(st.sampled_from(["400", "budget", "qa"]), st.integers(1, 9))


def _job(tmp_path: Path, url: str, **values: object) -> Job:
    source = tmp_path / "in.csv"
    texts = [f"Row {i % 7}" if i % 5 else None for i in range(30)]
    pl.DataFrame({"text": texts}).write_csv(source)
    given = {"input": str(source), "to": ["de", "ja"], "base_url": url, "cache": False}
    return build_job(given | values, env={"ROUTESCOPE_API_KEY": "k"})


def _run(job: Job) -> tuple[Report, list[dict[str, object]]]:
    stream = io.StringIO()
    report = runner.run(job, events=Events(fmt="json", bar=False, stream=stream))
    return report, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_estimate_is_the_run_without_translate(tmp_path: Path) -> None:
    with SimThread(SimConfig()) as url:
        job = _job(tmp_path, url)
        before = runner.estimate(job)
        report, events = _run(job)
        after = runner.estimate(job)
    start = next(e for e in events if e["event"] == "start")
    assert before["to_translate"] == start["to_translate"] == report.to_translate == 48
    assert before["requests"] == report.requests  # nothing was resent
    assert (report.cells, report.blank_cells, report.units) == (48, 12, 14)
    assert (report.translated, report.new, report.deduplicated) == (48, 48, 48 - 14)
    assert after["to_translate"] == 0 and after["done_in_checkpoint"] == 48
    saved = json.loads(job.report.read_text())
    assert saved == report.as_dict() and saved["exit_code"] == 0


def test_a_stopped_run_reports_its_unsent_cells_apart(tmp_path: Path) -> None:
    with SimThread(SimConfig()) as url:
        job = _job(tmp_path, url, max_cost=0.000_1, concurrency=1, pack="off")
        report, _ = _run(job)
    assert report.stopped == "budget" and report.exit_code == 3
    assert report.not_sent == report.failures["budget"] > 0
    assert report.translated + report.failed + report.not_sent == report.cells
    assert report.new == report.to_translate - report.not_sent


@given(COUNTS, COUNTS, COUNTS, COUNTS)
def test_counts_add(rows: int, cells: int, requests: int, tokens: int) -> None:
    one = Counted(rows=rows, cells=cells, to_translate=cells)
    assert one + Counted() == one
    assert (one + one).cells == 2 * cells and (one + one).to_translate == 2 * cells
    sent = Sent(requests, tokens, tokens, Counter({"429": 1}))
    total = sent + Sent(1, 1, 2, stopped="budget")
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (
        requests + 1,
        tokens + 1,
        tokens + 2,
    )
    assert total.retries == {"429": 1} and total.stopped == "budget"
    planned = Planned(requests, tokens, tokens)
    assert planned + planned == Planned(2 * requests, 2 * tokens, 2 * tokens)


@given(REASONS, REASONS)
def test_written_adds_and_the_report_settles_never_sent_cells(
    first: dict[str, int], second: dict[str, int]
) -> None:
    a = Written(sum(first.values()), Counter(first))
    b = Written(sum(second.values()), Counter(second))
    both = a + b
    assert both.failed == a.failed + b.failed and both.failures == Counter(first) + Counter(second)
    cells = both.failed + 5
    counted = Counted(cells=cells, to_translate=cells)
    report = Report.of(("in", "out", "qwen-mt-turbo"), counted, Sent(stopped="budget"), both)
    unsent = both.failures["budget"]
    assert (report.not_sent, report.failed, report.translated) == (
        unsent,
        both.failed - unsent,
        5,
    )
    assert report.exit_code == (0 if both.failed == 0 else 3)


@pytest.mark.parametrize(("stopped", "code"), [(None, 0), ("interrupted", 130)])
def test_the_exit_code_of_a_run_that_translated_everything(stopped: str | None, code: int) -> None:
    report = Report.of(("i", "o", "m"), Counted(cells=3), Sent(stopped=stopped), Written())
    assert (report.translated, report.exit_code) == (3, code)
