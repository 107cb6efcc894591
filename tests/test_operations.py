"""What a cron job relies on: incremental re-runs, failed cells, status, locks, logs, budget."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from tests.conftest import ROOT, Sim, corpus, mtpipe, mtpipe_env


def _csv(path: Path, texts: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, t] for i, t in enumerate(texts))
    return path


def _report(out: Path) -> dict[str, object]:
    return json.loads(out.with_name(out.name + ".report.json").read_text())  # type: ignore[no-any-return]


def test_incremental_run_sends_only_new_and_changed_cells(sim: Sim, tmp_path: Path) -> None:
    texts = [r["text"] for r in corpus("news.jsonl", 30)]
    src = _csv(tmp_path / "n.csv", texts)
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url, "--pack", "off")
    assert mtpipe(*args).code == 0
    grown = [*texts[:10], texts[10] + " (edited)", *texts[11:], "A brand new sentence."]
    _csv(src, grown)
    sim.reset()
    assert mtpipe(*args).code == 0
    assert set(sim.stats()["texts"]) == {texts[10] + " (edited)", "A brand new sentence."}
    report = _report(tmp_path / "n.translated.csv")
    assert report["reused"] == 29 and report["new"] == 2 and report["requests"] == 2
    _csv(src, grown[5:])  # rows deleted from the input are gone from the output
    sim.reset()
    assert mtpipe(*args).code == 0 and sim.stats()["requests"] == 0
    out = pl.read_csv(tmp_path / "n.translated.csv", infer_schema=False)
    assert out["text"].to_list() == grown[5:]


def test_transient_failures_are_retried_on_the_next_run(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "t.csv", ["Fine", "Shaky [[sim:flaky]]"])
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url, "--pack", "off")
    first = mtpipe(*args, "--max-attempts", "1")
    assert first.code == 3
    out = pl.read_csv(tmp_path / "t.translated.csv", infer_schema=False)
    assert out["mt_error"][1].startswith("text_de: http_500 (HTTP 500 InternalError: An internal")
    sim.reset()
    second = mtpipe(*args)  # no --retry-failed needed for a transient failure
    assert second.code == 0, second.stderr
    assert list(sim.stats()["texts"]) == ["Shaky [[sim:flaky]]"]


def test_status_and_failed_out(sim: Sim, tmp_path: Path) -> None:
    src = _csv(
        tmp_path / "s.csv", ["Good one", "Bad [[sim:moderation]]", "Worse [[sim:moderation]]"]
    )
    failed = tmp_path / "failed.jsonl"
    run = mtpipe(
        "translate", src, "--to", "de,fr", "--base-url", sim.base_url, "--failed-out", failed
    )
    assert run.code == 3
    lines = [json.loads(line) for line in failed.read_text().splitlines()]
    assert len(lines) == 4
    first = lines[0]
    assert (first["row"], first["column"], first["language"], first["reason"]) == (
        1,
        "text",
        "de",
        "moderation",
    )
    assert "inappropriate content" in first["message"]
    # moderation fails at once: the packs refused and split on the way count as the pack's
    assert {line["attempts"] for line in lines} == {1}
    status = mtpipe("status", tmp_path / "s.translated.csv.checkpoint.sqlite")
    assert status.code == 0, status.stderr
    assert "2 done, 4 failed_permanent" in status.stdout
    assert "moderation (failed_permanent): 4 units" in status.stdout
    assert "Bad [[sim:moderation]]" in status.stdout and "qwen-mt-turbo" in status.stdout
    csv_out = tmp_path / "failed.csv"
    assert (
        mtpipe(
            "translate", src, "--to", "de,fr", "--base-url", sim.base_url, "--failed-out", csv_out
        ).code
        == 3
    )
    assert pl.read_csv(csv_out)["reason"].to_list() == ["moderation"] * 4


def test_second_run_on_a_held_checkpoint_exits_75(
    sim_factory: Callable[..., Sim], tmp_path: Path
) -> None:
    slow = sim_factory("--latency", "0.2")
    src = _csv(tmp_path / "l.csv", [f"Sentence number {i}." for i in range(100)])
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "translate",
        str(src),
        "--to",
        "de",
        "--base-url",
        slow.base_url,
        "--pack",
        "off",
        "--concurrency",
        "2",
    ]
    holder = subprocess.Popen(argv, env=mtpipe_env(), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        lock = tmp_path / "l.translated.csv.checkpoint.sqlite.lock"
        for _ in range(100):
            if lock.exists() and lock.read_text():
                break
            time.sleep(0.05)
        started = time.monotonic()
        second = mtpipe(*argv[3:])
        assert second.code == 75, second.stderr
        assert time.monotonic() - started < 10
        assert f"pid {holder.pid}" in second.stderr and os.uname().nodename in second.stderr
        os.kill(holder.pid, signal.SIGKILL)  # a lock left by a killed process...
        holder.wait()
        third = mtpipe(*argv[3:])  # ...is taken over without a manual step
        assert third.code == 0, third.stderr
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_json_log_lines(sim_factory: Callable[..., Sim], tmp_path: Path) -> None:
    slow = sim_factory("--latency", "0.05")
    src = _csv(tmp_path / "j.csv", [f"Line {i}" for i in range(40)])
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "--base-url",
        slow.base_url,
        "--pack",
        "off",
        "--concurrency",
        "2",
        "--log-format",
        "json",
        "--progress-seconds",
        "0.2",
    )
    assert run.code == 0, run.stderr
    events = [json.loads(line) for line in run.stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finish" and "progress" in kinds
    assert events[0]["to_translate"] == 40
    assert events[-1]["translated"] == 40 and events[-1]["exit_code"] == 0
    assert events[-1]["prompt_tokens"] > 0 and "cost_usd" in events[-1]
    assert "\r" not in run.stderr  # no progress bar when stderr is not a terminal


def test_estimate_sends_nothing(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "e.csv", ["Hello there", "Hello there", "Good bye", ""])
    sim.reset()
    run = mtpipe("estimate", src, "--to", "de,ja", "--base-url", sim.base_url)
    assert run.code == 0, run.stderr
    lines = dict(line.split(None, 1) for line in run.stdout.splitlines() if line.strip())
    assert lines["rows"] == "4" and lines["cells"] == "6" and lines["unique_cells"] == "4"
    assert lines["done_in_checkpoint"] == "0" and int(lines["prompt_tokens"]) > 0
    assert sim.stats()["requests"] == 0
    assert mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url).code == 0
    again = mtpipe("estimate", src, "--to", "de,ja", "--base-url", sim.base_url)
    assert "done_in_checkpoint   3" in again.stdout


def test_budget_stops_and_a_larger_budget_continues(sim: Sim, tmp_path: Path) -> None:
    texts = [r["text"] for r in corpus("news.jsonl", 40)]
    src = _csv(tmp_path / "b.csv", texts)
    args = (
        "translate",
        src,
        "--to",
        "de",
        "--base-url",
        sim.base_url,
        "--pack",
        "off",
        "--concurrency",
        "1",
    )
    first = mtpipe(*args, "--max-cost", "0.0002")
    assert first.code == 3, first.stderr
    report = _report(tmp_path / "b.translated.csv")
    assert report["stopped"] == "budget" and 0 < report["translated"] < 40
    unsent = 40 - report["translated"]
    counts = (report["new"], report["failed"], report["not_sent"])
    assert counts == (report["translated"], 0, unsent)
    assert f"0 failed, {unsent} not sent (budget))" in first.stderr
    assert report["cost_usd"] <= 0.0002
    out = pl.read_csv(tmp_path / "b.translated.csv", infer_schema=False)
    assert set(out["mt_error"].drop_nulls()) == {"text_de: budget"}
    second = mtpipe(*args, "--max-cost", "1")
    assert second.code == 0, second.stderr
    assert _report(tmp_path / "b.translated.csv")["reused"] == report["translated"]


def test_finished_pieces_of_a_long_cell_are_not_paid_twice(sim: Sim, tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i} talks about the page tree and its settings." for i in range(8)]
    paragraphs[5] += " [[sim:flaky]]"  # this piece fails once (HTTP 500)
    doc = "\n\n".join(paragraphs)
    src = tmp_path / "doc.jsonl"
    src.write_text(json.dumps({"id": 1, "body": doc}) + "\n", encoding="utf-8")
    args = (
        "translate",
        src,
        "--to",
        "de",
        "--column",
        "body",
        "--base-url",
        sim.base_url,
        "--chunk-chars",
        "200",
        "--pack",
        "off",
    )
    sim.reset()
    first = mtpipe(*args, "--max-attempts", "1")
    assert first.code == 3  # the unit failed on its flaky piece...
    sent_first = sim.stats()["texts"]
    assert len(sent_first) == 3  # 8 paragraphs in pieces of at most 200 characters
    sim.reset()
    second = mtpipe(*args)
    assert second.code == 0, second.stderr
    resent = list(sim.stats()["texts"])
    assert len(resent) == 1 and "[[sim:flaky]]" in resent[0]  # ...only that piece is sent again
    out = json.loads((tmp_path / "doc.translated.jsonl").read_text())
    assert out["body_de"].count("\n\n") == doc.count("\n\n")
    report = _report(tmp_path / "doc.translated.jsonl")
    assert report["translated"] == 1
    status = mtpipe("status", tmp_path / "doc.translated.jsonl.checkpoint.sqlite")
    assert "1 done" in status.stdout
