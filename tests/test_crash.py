"""Crash safety: a real kill -9 at random moments, and graceful SIGTERM."""

from __future__ import annotations

import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT, Sim, corpus, mtpipe, mtpipe_env

CONCURRENCY = 4


def _source(tmp_path: Path, n: int = 400) -> Path:
    path = tmp_path / "news.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for row in corpus("news.jsonl", n):
            w.writerow([row["id"], row["text"]])
    return path


def _start(src: Path, out: Path, sim: Sim) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "translate",
            str(src),
            "--to",
            "de",
            "-o",
            str(out),
            "--base-url",
            sim.base_url,
            "--concurrency",
            str(CONCURRENCY),
            "--pack",
            "off",
        ],
        env=mtpipe_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _done(checkpoint: Path) -> int:
    with sqlite3.connect(checkpoint) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(db.execute("SELECT count(*) FROM results WHERE status='done'").fetchone()[0])


def test_kill_9_at_random_moments_then_resume(
    sim_factory: Callable[..., Sim], tmp_path: Path
) -> None:
    src = _source(tmp_path)
    fast = sim_factory()
    reference = tmp_path / "reference.csv"
    args = ("--to", "de", "--pack", "off", "--base-url")
    assert mtpipe("translate", src, *args, fast.base_url, "-o", reference).code == 0

    slow = sim_factory("--latency", "0.04")
    out = tmp_path / "out.csv"
    checkpoint = tmp_path / "out.csv.checkpoint.sqlite"
    rng = random.Random(1234)
    kills, done_before = 0, []
    for _ in range(3):
        seen = slow.stats()["requests"]
        process = _start(src, out, slow)
        _wait_for_requests(slow, seen + 1)  # sending: Python's start-up is no moment to test
        time.sleep(rng.uniform(0.1, 1.2))
        if process.poll() is not None:
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
        kills += 1
        assert not out.exists()  # no half-written output, ever
        done_before.append(_done(checkpoint))
    assert kills >= 2 and done_before == sorted(done_before) and done_before[-1] > 0

    final = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "-o",
        out,
        "--base-url",
        slow.base_url,
        "--concurrency",
        str(CONCURRENCY),
        "--pack",
        "off",
    )
    assert final.code == 0, final.stderr
    assert pl.read_csv(out, infer_schema=False).equals(pl.read_csv(reference, infer_schema=False))

    # Work lost per kill is bounded by what was in flight plus the open batch
    # (the checkpoint commits within 0.1 s of an answer, 0.5 s on a loaded
    # machine; at 0.04 s latency and concurrency 4 that is at most ~50 results).
    texts = slow.stats()["texts"]
    repeated = sum(n - 1 for n in texts.values())
    assert repeated <= kills * (CONCURRENCY + 60), repeated
    assert len(texts) == len({row for row in pl.read_csv(src, infer_schema=False)["text"]})


def _wait_for_requests(sim: Sim, n: int) -> None:
    """Until the simulator has seen ``n`` requests: on a loaded machine the start-up of
    Python alone can take longer than any fixed sleep."""
    deadline = time.monotonic() + 60
    while sim.stats()["requests"] < n:
        assert time.monotonic() < deadline, "the run sent nothing in 60 s"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_gracefully(
    sim_factory: Callable[..., Sim], tmp_path: Path, signum: signal.Signals
) -> None:
    src = _source(tmp_path)
    slow = sim_factory("--latency", "0.05")
    out = tmp_path / "out.csv"
    process = _start(src, out, slow)
    _wait_for_requests(slow, 8)  # mid-run: not while Python starts (no handler yet)
    process.send_signal(signum)
    code = process.wait(timeout=20)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert code == 130, stderr  # interrupted, after the output is written
    frame = pl.read_csv(out, infer_schema=False)
    translated = frame["text_de"].drop_nulls().len()
    assert 0 < translated < frame.height
    unsent = frame.height - translated
    assert f"{translated}/{frame.height} cells translated" in stderr
    assert f"(0 reused, {translated} new, 0 failed, {unsent} not sent (interrupted))" in stderr
    assert (frame["mt_error"].drop_nulls() == "text_de: interrupted").all()
    # every translation that reached the output is in the checkpoint
    assert _done(tmp_path / "out.csv.checkpoint.sqlite") == translated


@pytest.mark.parametrize(
    ("moment", "again"), [(0.3, None), (1.2, None), (2.0, None), (3.0, None), (1.5, 0.4)]
)
def test_sigterm_then_resume_pays_nothing_twice_and_loses_no_cell(
    sim_factory: Callable[..., Sim], tmp_path: Path, moment: float, again: float | None
) -> None:
    """Every answer received before the process exits is in the checkpoint: after a
    SIGTERM (at several moments: while starting, mid-run, later) and a resume, each
    unique text was sent exactly once and every cell is translated.  A signal that comes
    before mtpipe has installed its handler (Python still starting) ends it at once,
    before anything was sent.  ``again``: a second SIGTERM that long after the first,
    once the requests in flight have been answered (while the last results are
    committed, or the output written)."""
    src = _source(tmp_path, 300)
    slow = sim_factory("--latency", "0.08")
    out = tmp_path / "out.csv"
    process = _start(src, out, slow)
    time.sleep(moment)
    process.send_signal(signal.SIGTERM)
    if again is not None:
        time.sleep(again)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert code in (0, 130, -signal.SIGTERM), stderr
    args = ("--to", "de", "--pack", "off", "--concurrency", str(CONCURRENCY))
    resumed = mtpipe("translate", src, *args, "--base-url", slow.base_url, "-o", out)
    assert resumed.code == 0, resumed.stderr
    texts = slow.stats()["texts"]
    unique = {row for row in pl.read_csv(src, infer_schema=False)["text"]}
    assert {t: n for t, n in texts.items() if n > 1} == {}
    assert len(texts) == len(unique)
    frame = pl.read_csv(out, infer_schema=False)
    assert frame["text_de"].null_count() == 0 and frame["mt_error"].null_count() == frame.height
