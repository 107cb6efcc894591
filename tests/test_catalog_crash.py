"""Crash safety for catalogs: a real SIGTERM and a real kill -9 of ``python -m pipeline
translate CATALOG --to ...`` mid-run, then the same command again.

Every target catalog seen while the run goes (polled as it goes, and after it dies) reads
whole; the re-run ends with the bytes an uninterrupted run writes; against a reference
run's per-text request counts, a SIGTERM costs no text twice and a kill -9 at most what
was in flight and the checkpoint's open batch."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.formats.registry import catalog_for
from tests.conftest import DATA, ROOT, Sim, mtpipe_env

CONCURRENCY = 4


@dataclass(frozen=True)
class Case:
    source: Path  # the real catalog
    name: str  # where it goes under the test's folder
    langs: str
    latency: str  # the simulator's, so a run lasts a few seconds


CASES = {
    "po": Case(DATA / "l10n/po/wtforms.pot", "locale/messages.pot", "de,ru,ar", "0.08"),
    "android": Case(
        DATA / "l10n/android/aosp-calendar/values/strings.xml",
        "res/values/strings.xml",
        "de,ru",
        "0.03",
    ),
}


def _args(case: Case, sim: Sim) -> list[str]:
    return [
        *("translate", case.name, "--to", case.langs, "--base-url", sim.base_url),
        *("--concurrency", str(CONCURRENCY), "--pack", "off", "--no-cache"),
    ]


def _start(folder: Path, case: Case, sim: Sim) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *_args(case, sim)],
        env=mtpipe_env(PYTHONPATH=str(ROOT)),
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    code = process.wait(timeout=60)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return code, stderr


def _folder(tmp_path: Path, name: str, case: Case) -> Path:
    folder = tmp_path / name
    (folder / case.name).parent.mkdir(parents=True)
    shutil.copyfile(case.source, folder / case.name)
    return folder


def _catalogs(folder: Path, case: Case) -> dict[str, bytes]:
    """Every catalog the run wrote, by relative path; each one parses whole."""
    fmt = catalog_for(folder / case.name)
    assert fmt is not None
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".mtpipe" not in path.parts and path != folder / case.name:
            if path.name.startswith("."):
                continue  # a temporary file (a kill -9 while it was written leaves it)
            data = path.read_bytes()
            fmt.parse(data, path)  # a half-written catalog raises here
            found[str(path.relative_to(folder))] = data
    return found


def _reference(sim: Sim, tmp_path: Path, case: Case) -> tuple[dict[str, bytes], Counter[str], int]:
    """What an uninterrupted run writes, how often it sends each text, its cells."""
    folder = _folder(tmp_path, "reference", case)
    code, stderr = _finish(_start(folder, case, sim))
    assert code == 0, stderr
    report = json.loads(_state(folder, case, ".report.json").read_text(encoding="utf-8"))
    return _catalogs(folder, case), Counter(sim.stats()["texts"]), int(report["cells"])


def _state(folder: Path, case: Case, suffix: str) -> Path:
    """The run's checkpoint or report, in ``.mtpipe/`` where the format's layout starts."""
    root = folder / case.name.split("/")[0]
    return root / ".mtpipe" / f"{Path(case.name).name}{suffix}"


def _wait_and_watch(sim: Sim, n: int, folder: Path, case: Case) -> None:
    """Until the simulator has seen ``n`` requests, reading the targets as they come."""
    deadline = time.monotonic() + 60
    while sim.stats()["requests"] < n:
        assert time.monotonic() < deadline, "the run sent nothing in 60 s"
        _catalogs(folder, case)
        time.sleep(0.02)


def _rerun(folder: Path, case: Case, sim: Sim) -> dict[str, bytes]:
    code, stderr = _finish(_start(folder, case, sim))
    assert code == 0, stderr
    return _catalogs(folder, case)


def _done(folder: Path, case: Case) -> int:
    path = (
        folder / case.name.split("/")[0] / ".mtpipe" / f"{Path(case.name).name}.checkpoint.sqlite"
    )
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(db.execute("SELECT count(*) FROM results WHERE status='done'").fetchone()[0])


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("moment", [0.1, 0.6])
def test_sigterm_mid_run_then_rerun_pays_nothing_twice(
    sim_factory: Callable[..., Sim], tmp_path: Path, name: str, moment: float
) -> None:
    """SIGTERM once ``moment`` of the reference's requests were sent (in the first target
    language, or a later one): the run stops with 130 and its targets whole; the re-run
    writes what an uninterrupted run writes, and no text was sent twice."""
    case = CASES[name]
    reference, counts, cells = _reference(sim_factory(), tmp_path, case)
    slow = sim_factory("--latency", case.latency)
    folder = _folder(tmp_path, "run", case)
    process = _start(folder, case, slow)
    _wait_and_watch(slow, max(8, int(moment * counts.total())), folder, case)
    process.send_signal(signal.SIGTERM)
    code, stderr = _finish(process)
    # 130: stopped by its handler (the targets so far written); -SIGTERM: it came between
    # two target languages, where no request is in flight and every answer is committed
    assert code in (130, -signal.SIGTERM), stderr
    interrupted = _catalogs(folder, case)
    assert interrupted != reference  # it stopped mid-run
    assert not [p for p in folder.rglob(".*.tmp-*")]  # no temporary file left behind
    sent = Counter(slow.stats()["texts"])
    assert 0 < sent.total() < counts.total()
    if code == 130:  # the summary counts every target's cells, and names those written
        _check_summary(stderr, cells, folder, interrupted)
    assert _rerun(folder, case, slow) == reference
    assert Counter(slow.stats()["texts"]) == counts  # each text as often as without a stop


def _check_summary(stderr: str, cells: int, folder: Path, written: dict[str, bytes]) -> None:
    summary = re.search(
        r"(\d+)/(\d+) cells translated \(0 reused, (\d+) new, 0 failed, (\d+) not sent "
        r"\(interrupted\)\) .*; stopped: interrupted -> (.*)$",
        stderr,
        re.M,
    )
    assert summary, stderr
    translated, total, new, unsent = map(int, summary.groups()[:4])
    assert (total, translated + unsent, new) == (cells, cells, translated), stderr
    named = summary.group(5).split(", ")
    assert named and sorted(named) == sorted(written)


@pytest.mark.parametrize("name", sorted(CASES))
def test_kill_9_at_random_moments_then_rerun(
    sim_factory: Callable[..., Sim], tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    reference, counts, _cells = _reference(sim_factory(), tmp_path, case)
    slow = sim_factory("--latency", case.latency)
    folder = _folder(tmp_path, "run", case)
    rng = random.Random(1234)
    kills, done = 0, [0]
    for _ in range(3):
        seen = slow.stats()["requests"]
        process = _start(folder, case, slow)
        _wait_and_watch(slow, seen + 1, folder, case)  # sending: not Python's start-up
        time.sleep(rng.uniform(0.1, 1.5))
        if process.poll() is not None:
            break
        os.kill(process.pid, signal.SIGKILL)
        _finish(process)
        kills += 1
        _catalogs(folder, case)  # whole, or not there
        done.append(_done(folder, case))
    assert kills >= 2 and done == sorted(done) and done[-1] > 0
    assert _rerun(folder, case, slow) == reference
    sent = Counter(slow.stats()["texts"])
    assert set(sent) == set(counts)
    # lost per kill: the requests in flight and the open batch (the checkpoint commits
    # within 0.1 s of an answer, 0.5 s on a loaded machine), as for a table
    repeated = (sent - counts).total()
    assert repeated <= kills * (CONCURRENCY + 60), repeated
