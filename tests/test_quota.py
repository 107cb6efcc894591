"""Quota pacing end to end: mtpipe against the simulator's provider-like quota."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, Sim, mtpipe, mtpipe_env


def _csv(path: Path, n: int, tag: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        w.writerows([f"{tag} sentence number {i}."] for i in range(n))
    return path


def test_paced_run_stays_under_the_quota(sim_factory: Callable[..., Sim], tmp_path: Path) -> None:
    limited = sim_factory("--rpm", "600", "--burst")
    src = _csv(tmp_path / "a.csv", 40, "paced")
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "--pack",
        "off",
        "--concurrency",
        "16",
        "--rpm",
        "600",
        "--base-url",
        limited.base_url,
        "--log-format",
        "json",
        "--progress-seconds",
        "1",
    )
    assert run.code == 0, run.stderr
    assert limited.stats().get("throttled", {}) == {}
    progress = [json.loads(line) for line in run.stderr.splitlines()]
    shown = [e for e in progress if e["event"] == "progress"]
    assert shown and all("concurrency" in e and "rpm" in e for e in shown)


def test_unpaced_run_is_throttled_and_still_completes(
    sim_factory: Callable[..., Sim], tmp_path: Path
) -> None:
    limited = sim_factory("--rpm", "600", "--burst")
    src = _csv(tmp_path / "b.csv", 40, "unpaced")
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "--pack",
        "off",
        "--concurrency",
        "16",
        "--base-url",
        limited.base_url,
    )
    assert run.code == 0, run.stderr
    assert sum(limited.stats()["throttled"].values()) > 0
    report = json.loads((tmp_path / "b.translated.csv.report.json").read_text())
    assert set(report["retries"]) <= {"rate_limit_requests", "rate_limit_burst"}


def test_two_processes_share_one_quota(sim_factory: Callable[..., Sim], tmp_path: Path) -> None:
    limited = sim_factory("--rpm", "300")
    env = mtpipe_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "translate",
                str(_csv(tmp_path / f"{t}.csv", 20, t)),
                "--to",
                "de",
                "--pack",
                "off",
                "--rpm",
                "300",
                "--shared-quota",
                "--base-url",
                limited.base_url,
            ],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t in ("first", "second")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    stats = limited.stats()
    assert stats["ok"] == 40 and stats.get("throttled", {}) == {}
