"""The API key never appears in anything mtpipe writes, and never crosses plain http."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.options import build_job
from tests.conftest import Sim, mtpipe, mtpipe_env

CANARY = "sk-CANARY-5e3f9a1c7b2d"


def _everything_written(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_the_key_appears_nowhere(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text"], ["Hello"], ["Blocked [[sim:moderation]]"]])
    key_file = tmp_path / "key.txt"
    key_file.write_text(CANARY + "\n")
    env = mtpipe_env(ROUTESCOPE_API_KEY=CANARY, MTPIPE_DEBUG="")
    job = tmp_path / "job.toml"
    job.write_text(
        f'input = "in.csv"\nto = "de"\nbase_url = "{sim.base_url}"\noutput = "job-out.csv"\n'
    )
    runs = [
        mtpipe("translate", src, "--to", "de,ja", "--base-url", sim.base_url, env=env),
        mtpipe(
            "translate",
            src,
            "--to",
            "de",
            "--base-url",
            sim.base_url,
            "--log-format",
            "json",
            "--failed-out",
            tmp_path / "failed.jsonl",
            "-o",
            tmp_path / "o.jsonl",
            env=env,
        ),
        mtpipe(
            "translate",
            src,
            "--to",
            "fr",
            "--api-key-file",
            key_file,
            "--base-url",
            sim.base_url,
            "-o",
            tmp_path / "o2.csv",
            env=mtpipe_env(ROUTESCOPE_API_KEY=""),
        ),
        mtpipe("run", job, env=env),
        mtpipe("status", tmp_path / "in.translated.csv.checkpoint.sqlite", env=env),
        mtpipe("estimate", src, "--to", "de", env=env),
        mtpipe(
            "translate",
            src,
            "--to",
            "de",
            "--model",
            "qwen-sim-missing",
            "--base-url",
            sim.base_url,
            "-o",
            tmp_path / "o3.csv",
            env=env,
        ),
    ]
    assert [r.code for r in runs] == [3, 3, 3, 3, 0, 0, 4]
    for run in runs:
        assert CANARY not in run.stdout and CANARY not in run.stderr
    written = [p for p in _everything_written(tmp_path) if p != key_file]
    assert len(written) > 10
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path


def test_provider_error_echoing_the_key_is_redacted(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("text\nHello\n", encoding="utf-8")
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "--base-url",
        sim.base_url,
        env=mtpipe_env(ROUTESCOPE_API_KEY="sk-invalid"),
    )
    assert run.code == 4 and "sk-invalid" not in run.stderr


def test_plain_http_is_refused_off_loopback() -> None:
    values = {"input": "in.csv", "to": ["de"], "base_url": "http://api.example.com/v1"}
    with pytest.raises(UsageError, match="plain http"):
        build_job(values, env={"ROUTESCOPE_API_KEY": "k"})
    allowed = build_job(values | {"allow_insecure_http": True}, env={"ROUTESCOPE_API_KEY": "k"})
    assert allowed.base_url == "http://api.example.com/v1"
    loopback = build_job(
        values | {"base_url": "http://127.0.0.1:9/v1"}, env={"ROUTESCOPE_API_KEY": "k"}
    )
    assert loopback.base_url.startswith("http://127.0.0.1")
    with pytest.raises(UsageError, match="not an http"):
        build_job(values | {"base_url": "ftp://x"}, env={"ROUTESCOPE_API_KEY": "k"})


def test_the_key_is_not_a_command_line_option() -> None:
    run = mtpipe("translate", "x.csv", "--to", "de", "--api-key", CANARY)
    assert run.code == 2 and CANARY not in run.stderr
