"""Messages: what each command's help says, checked against what the command does."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import polars as pl

from tests.conftest import ROOT, Sim, mtpipe, mtpipe_env


def _help(*command: str) -> str:
    run = mtpipe(*command, "--help")
    assert run.code == 0, run.stderr
    return " ".join(run.stdout.split())  # argparse wraps lines


def _csv(path: Path, *texts: str) -> Path:
    pl.DataFrame({"text": list(texts)}).write_csv(path)
    return path


def _stderr_on_a_terminal(*args: str | Path) -> str:
    """Run mtpipe with stderr on a pseudo-terminal, as a user at a shell sees it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=mtpipe_env(),
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return b"".join(chunks).decode(errors="replace")


def test_no_progress_turns_the_bar_off(tmp_path: Path) -> None:
    assert "--no-progress no progress bar" in _help("translate")
    source = _csv(tmp_path / "in.csv", *(f"Line {i}" for i in range(12)))
    args = ("translate", source, "--to", "de", "--sim", "--pack", "off")
    assert "12/12 [" in _stderr_on_a_terminal(*args)  # the bar, on a terminal
    quiet = _stderr_on_a_terminal(*args, "--no-progress", "-o", tmp_path / "q.csv")
    assert "12/12 [" not in quiet and "12/12 cells translated" in quiet


def test_no_escape_formulas_keeps_formulas_as_sent(tmp_path: Path) -> None:
    text = _help("translate")
    assert "--no-escape-formulas do not defuse translated CSV/TSV cells starting with" in text
    assert "by default they get a leading '" in text
    source = _csv(tmp_path / "in.csv", "=SUM(A1) total")
    for flags, out in (((), "a.csv"), (("--no-escape-formulas",), "b.csv")):
        run = mtpipe("translate", source, "--to", "de", "--sim", "-o", tmp_path / out, *flags)
        assert run.code == 0, run.stderr
    assert pl.read_csv(tmp_path / "a.csv")["text_de"][0].startswith("'=")
    assert pl.read_csv(tmp_path / "b.csv")["text_de"][0].startswith("=")


def test_to_is_shown_as_required_and_is(tmp_path: Path) -> None:
    text = _help("translate")
    assert text.startswith("usage: mtpipe translate INPUT --to LANGS [options]")
    assert "(required, unless INPUT is a job file naming them)" in text
    source = _csv(tmp_path / "in.csv", "Hello")
    run = mtpipe("translate", source, "--sim")
    assert run.code == 2 and "--to languages are required" in run.stderr


def test_estimate_help_names_job_files_and_takes_one(tmp_path: Path) -> None:
    assert "cost a run or a job file would take" in _help()
    text = _help("estimate")
    assert text.startswith("usage: mtpipe estimate INPUT_OR_JOB [--to LANGS] [options]")
    assert "INPUT may be a job file" in text and "or a job file (.toml)" in text
    _csv(tmp_path / "in.csv", "Hello", "World")
    job = tmp_path / "j.toml"
    job.write_text('input = "in.csv"\nto = ["de"]\n', encoding="utf-8")
    run = mtpipe("estimate", job)
    assert run.code == 0, run.stderr
    assert "cells                2" in run.stdout


def test_serve_sim_help_names_the_command() -> None:
    text = _help("serve-sim")
    assert text.startswith("usage: mtpipe serve-sim ")
    assert "--latency" in text and "--faults" in text


def test_run_help_and_what_it_says(sim: Sim, tmp_path: Path) -> None:
    """``run --help``: keys are translate's long options with underscores, relative paths
    resolve against the job file's folder, ``--set`` overrides a key (typed), repeatable."""
    text = _help("run")
    assert text.startswith("usage: mtpipe run [-h] [--set KEY=VALUE] job")
    assert "Keys are the long option names of 'mtpipe translate' with underscores" in text
    assert "relative paths resolve against the job file's folder" in text
    assert "--set KEY=VALUE override a key of the job file, repeatable" in text
    (tmp_path / "data").mkdir()
    _csv(tmp_path / "data" / "in.csv", "Hello there", "Good bye")
    job = tmp_path / "jobs" / "j.toml"
    job.parent.mkdir()
    job.write_text(
        f'input = "../data/in.csv"\nto = ["de"]\nbase_url = "{sim.base_url}"\n'
        'pack = "auto"\nfailed_out = "failed.csv"\n',
        encoding="utf-8",
    )
    sim.reset()
    run = mtpipe("run", job, "--set", "to=fr,ja", "--set", "concurrency=1", "--set", "pack=off")
    assert run.code == 0, run.stderr
    out = pl.read_csv(tmp_path / "data" / "in.translated.csv")
    assert {"text_fr", "text_ja"} <= set(out.columns) and "text_de" not in out.columns
    assert (tmp_path / "jobs" / "failed.csv").exists()  # beside the job file, not the cwd
    assert sim.stats()["requests"] == 4  # --set pack=off: one request per cell
    bad = mtpipe("run", job, "--set", "concurency=2")
    assert bad.code == 2 and "did you mean 'concurrency'" in bad.stderr


def test_the_exit_codes_in_the_help_are_the_readme_table() -> None:
    """Every exit code README's table documents is in ``mtpipe --help``, and no other;
    each code's behaviour has its own test (130: test_crash, 4: test_unreachable, ...)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n\n", 2)[1]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert {0, 1, 2, 3, 4, 75, 130} <= documented
    epilog = _help().split("Exit codes:", 1)[1].strip()
    listed = {int(m) for m in re.findall(r"(?:^|, )(\d+) ", epilog)}
    assert listed == documented
    assert "130 interrupted" in epilog and "endpoint unreachable" in epilog


def test_serve_sim_help_names_every_fault_and_option_it_takes() -> None:
    """The fault kinds the help lists are all accepted by the simulator (they start a
    server together; one not listed is refused), and README's synopsis names every option."""
    text = _help("serve-sim")
    faults = text.split("--faults FAULTS", 1)[1].split(" --seed", 1)[0]
    kinds = re.findall(r"([\w]+)(?:,|;| --|$)", faults.split("merge=0.2;", 1)[1])
    kinds = [k for k in kinds if k not in ("request", "segment", "answer")]
    assert len(kinds) == len(set(kinds)) >= 22, kinds
    spec = ",".join(f"{kind}=0.04" for kind in kinds)  # each group adds up to at most 1
    argv = [sys.executable, "-m", "pipeline", "serve-sim", "--port", "0", "--faults", spec]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline().decode()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    assert "listening on http://127.0.0.1:" in line, line  # every kind taken; --port 0: free
    refused = mtpipe("serve-sim", "--faults", "nosuch=1")
    assert refused.code == 2 and "unknown fault kind 'nosuch'" in refused.stderr
    known = refused.stderr.split("known: ", 1)[1].strip().split(", ")
    assert sorted(known) == sorted(kinds)  # the help names every kind the simulator takes
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    synopsis = readme.split("### `mtpipe serve-sim ", 1)[1].split("`", 1)[0]
    options = set(re.findall(r"--[\w-]+", text.split("options:", 1)[1])) - {"--help"}
    assert set(re.findall(r"--[\w-]+", synopsis)) == options


def test_status_help_and_its_examples_per_reason(sim: Sim, tmp_path: Path) -> None:
    """``status --help``: a job file or a checkpoint, read without locking, examples per
    reason (default 3)."""
    text = _help("status")
    assert "without locking it" in text and "examples per reason (default 3)" in text
    source = _csv(tmp_path / "in.csv", "Good", *(f"Bad {n} [[sim:moderation]]" for n in range(5)))
    job = tmp_path / "j.toml"
    job.write_text(
        f'input = "in.csv"\nto = ["de"]\nbase_url = "{sim.base_url}"\n', encoding="utf-8"
    )
    assert mtpipe("translate", source, "--to", "de", "--base-url", sim.base_url).code == 3
    checkpoint = tmp_path / "in.translated.csv.checkpoint.sqlite"
    for target in (checkpoint, job):
        shown = mtpipe("status", target)
        assert shown.code == 0, shown.stderr
        assert "moderation (failed_permanent): 5 units" in shown.stdout
        assert shown.stdout.count("  - [German] 'Bad ") == 3
    one = mtpipe("status", checkpoint, "--examples", "1")
    assert one.code == 0 and one.stdout.count("  - [German] 'Bad ") == 1


def test_failed_out_lines_hold_what_the_help_lists(sim: Sim, tmp_path: Path) -> None:
    text = _help("translate")
    listed = text.split("--failed-out PATH write one line per failed cell (", 1)[1]
    fields = listed.split(")", 1)[0].split(", ")
    assert fields[0] == "the input's id columns"
    source = tmp_path / "in.csv"
    source.write_text("id,text\nA-1,Fine\nB-2,Bad [[sim:moderation]]\n", encoding="utf-8")
    failed = tmp_path / "failed.jsonl"
    args = ("--to", "de", "--base-url", sim.base_url, "--failed-out", failed)
    assert mtpipe("translate", source, *args).code == 3
    (line,) = [json.loads(raw) for raw in failed.read_text(encoding="utf-8").splitlines()]
    assert list(line) == ["id", *fields[1:]]
    assert (line["id"], line["row"], line["reason"]) == ("B-2", 1, "moderation")
    assert line["attempts"] == 1  # moderation fails at once
