"""End to end: the mtpipe command against the simulator over loopback."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT, Sim, corpus, mtpipe, mtpipe_env


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


@pytest.fixture
def ui_csv(tmp_path: Path) -> Path:
    rows = [["id", "text", "note"]]
    rows += [
        [f"{i:05d}", r["text"], "keep, me"] for i, r in enumerate(corpus("ui_strings.jsonl", 40))
    ]
    rows += [["00998", "", "blank"], ["00999", "   ", "spaces"], ["01000", rows[1][1], "dupe"]]
    return write_csv(tmp_path / "ui.csv", rows)


def test_translate_csv_end_to_end(sim: Sim, ui_csv: Path, tmp_path: Path) -> None:
    sim.reset()
    run = mtpipe("translate", ui_csv, "--to", "de,ja", "--base-url", sim.base_url, "--pack", "off")
    assert run.code == 0, run.stderr
    out = tmp_path / "ui.translated.csv"
    frame = read_csv(out)
    source = read_csv(ui_csv)
    assert frame.columns == [
        *source.columns,
        "text_de",
        "text_ja",
        "mt_prompt_tokens",
        "mt_completion_tokens",
        "mt_error",
        "mt_flags",
    ]
    assert frame.select(source.columns).equals(source)  # input columns unchanged, 00123 kept
    assert frame["id"][0] == "00000"
    assert frame["text_de"][0] != frame["text"][0] and frame["text_de"][0]
    assert any("\u30a0" <= ch <= "\u30ff" for ch in frame["text_ja"][0])  # katakana
    assert frame["mt_error"].null_count() == frame.height
    # blank cells are neither sent nor billed; duplicates are requested once
    stats = sim.stats()
    assert stats["requests"] == 2 * 40 - 2 * (40 - len(set(source["text"][:40])))
    assert max(stats["texts"].values()) == 2  # once per language
    assert frame["text_de"][40] is None and frame["text_de"][41] is None  # not translated
    report = json.loads((tmp_path / "ui.translated.csv.report.json").read_text())
    assert report["cells"] == 2 * 41 and report["translated"] == 2 * 41
    assert report["requests"] == stats["requests"]
    assert frame["mt_prompt_tokens"].cast(pl.Int64).sum() == report["prompt_tokens"]
    assert frame["mt_completion_tokens"].cast(pl.Int64).sum() == report["completion_tokens"]
    assert frame["mt_prompt_tokens"].cast(pl.Int64)[42] == 0  # the duplicate row reuses row 0
    assert (tmp_path / "ui.translated.csv.checkpoint.sqlite").exists()

    # the same command again: nothing is requested, everything is reused
    sim.reset()
    again = mtpipe("translate", ui_csv, "--to", "de,ja", "--base-url", sim.base_url)  # packing on
    assert again.code == 0, again.stderr
    assert sim.stats()["requests"] == 0
    report = json.loads((tmp_path / "ui.translated.csv.report.json").read_text())
    assert report["reused"] == 2 * 41 and report["requests"] == 0
    assert read_csv(out).equals(frame)


def test_sim_flag_needs_no_key(ui_csv: Path, tmp_path: Path) -> None:
    env = mtpipe_env()
    del env["ROUTESCOPE_API_KEY"]
    out = tmp_path / "o.csv"
    run = mtpipe("translate", ui_csv, "--to", "fr", "--sim", "-o", out, env=env)
    assert run.code == 0, run.stderr
    frame = read_csv(out)
    assert frame["text_fr"].null_count() == 2  # the empty and the whitespace-only row
    assert "cells translated" in run.stderr.splitlines()[-1]


def test_missing_key_is_one_line_exit_2(ui_csv: Path, tmp_path: Path) -> None:
    env = mtpipe_env()
    del env["ROUTESCOPE_API_KEY"]
    run = mtpipe("translate", ui_csv, "--to", "de", env=env)
    assert run.code == 2
    assert (
        run.stderr.count("\n") == 1 and "ROUTESCOPE_API_KEY" in run.stderr and "--sim" in run.stderr
    )
    assert not (tmp_path / "ui.translated.csv").exists()


def test_bad_column_and_language(sim: Sim, ui_csv: Path, tmp_path: Path) -> None:
    run = mtpipe("translate", ui_csv, "--to", "de", "--column", "txt", "--base-url", sim.base_url)
    assert run.code == 2 and "Traceback" not in run.stderr
    assert "txt" in run.stderr and "text" in run.stderr
    bad = mtpipe("translate", ui_csv, "--to", "germn", "--base-url", sim.base_url)
    assert bad.code == 2 and "german" in bad.stderr.lower()
    assert not (tmp_path / "ui.translated.csv").exists()


def test_fatal_key_error_stops_fast_with_exit_4(sim: Sim, ui_csv: Path) -> None:
    sim.reset()
    started = time.monotonic()
    run = mtpipe(
        "translate",
        ui_csv,
        "--to",
        "de",
        "--base-url",
        sim.base_url,
        "--pack",
        "off",
        "--concurrency",
        "4",
        env=mtpipe_env(ROUTESCOPE_API_KEY="sk-invalid"),
    )
    assert run.code == 4, run.stderr
    assert time.monotonic() - started < 10  # generous for a loaded CI box; no retry waits
    assert sim.stats()["requests"] <= 4  # the requests in flight, none retried
    assert "API key" in run.stderr and "sk-invalid" not in run.stderr
    assert run.stderr.count("\n") == 1


def test_unknown_model_exit_4(sim: Sim, ui_csv: Path) -> None:
    run = mtpipe(
        "translate", ui_csv, "--to", "de", "--model", "qwen-sim-missing", "--base-url", sim.base_url
    )
    assert run.code == 4 and "qwen-sim-missing" in run.stderr


def test_permanent_failure_kept_until_retry_failed(sim: Sim, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "m.csv", [["text"], ["Fine text"], ["Bad [[sim:moderation]]"]])
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url)
    first = mtpipe(*args)
    assert first.code == 3
    out = read_csv(tmp_path / "m.translated.csv")
    assert out["mt_error"].to_list()[1].startswith("text_de: moderation")
    assert out["text_de"][1] is None and out["text_de"][0]
    sim.reset()
    assert mtpipe(*args).code == 3
    assert sim.stats()["requests"] == 0  # permanent: not re-sent
    assert mtpipe(*args, "--retry-failed").code == 3
    assert sim.stats()["texts"] == {"Bad [[sim:moderation]]": 1}


def test_transient_failure_retried_on_next_run(sim: Sim, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "f.csv", [["text"], ["Flaky one [[sim:flaky]]"]])
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url)
    assert run.code == 0, run.stderr  # the 500 was retried within the run
    report = json.loads((tmp_path / "f.translated.csv.report.json").read_text())
    assert report["retries"] == {"http_500": 1}


def test_template_missing_variable_fails_before_requests(
    sim: Sim, ui_csv: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.txt"
    template.write_text("Translate into {target_lang}, context {title}:\n\n{text}")
    sim.reset()
    run = mtpipe(
        "translate", ui_csv, "--to", "de", "--template", template, "--base-url", sim.base_url
    )
    assert run.code == 2 and "title" in run.stderr
    assert sim.stats()["requests"] == 0


def test_template_with_row_context_and_options_style(
    sim: Sim, ui_csv: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.txt"
    template.write_text("Translate the following text into {target_lang}. Note: {note}.\n\n{text}")
    out = tmp_path / "t.csv"
    run = mtpipe(
        "translate",
        ui_csv,
        "--to",
        "de",
        "--template",
        template,
        "-o",
        out,
        "--base-url",
        sim.base_url,
    )
    assert run.code == 0, run.stderr
    assert read_csv(out)["text_de"].null_count() == 2  # the two blank rows
    opt = tmp_path / "o.csv"
    run = mtpipe(
        "translate",
        ui_csv,
        "--to",
        "ja",
        "--style",
        "options",
        "-o",
        opt,
        "--base-url",
        sim.base_url,
    )
    assert run.code == 0, run.stderr
    assert any("\u30a0" <= ch <= "\u30ff" for ch in read_csv(opt)["text_ja"][0])


def test_parquet_types_preserved(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "c.parquet"
    frame = pl.DataFrame(
        {
            "sku": pl.Series([2**62, 7], dtype=pl.Int64),
            "text": ["Add to cart", "Remove"],
            "tags": [["a"], ["b", "c"]],
            "meta": [{"w": 1}, {"w": 2}],
            "cat": pl.Series(["x", "y"], dtype=pl.Categorical),
        }
    )
    frame.write_parquet(src)
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url)
    assert run.code == 0, run.stderr
    out = pl.read_parquet(tmp_path / "c.translated.parquet")
    assert out.select(frame.columns).equals(frame)
    assert out.schema["sku"] == pl.Int64 and out.schema["cat"] == pl.Categorical
    assert out["mt_prompt_tokens"].dtype == pl.Int64


def test_jsonl_dotted_column_and_long_document(sim: Sim, tmp_path: Path) -> None:
    doc = corpus("long_docs.jsonl")[5]["text"]
    big = ("A sentence that goes on. " * 2400).strip()  # 60,000 characters
    rows = [
        {"id": 2**60 + 1, "meta": {"body": doc, "n": 1}},
        {"id": 2, "meta": {"body": big}},
        {"id": 3, "meta": {}},
    ]
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "--column",
        "meta.body",
        "--base-url",
        sim.base_url,
        "--chunk-chars",
        "3000",
    )
    assert run.code == 0, run.stderr
    lines = (tmp_path / "d.translated.jsonl").read_text().splitlines()
    out = [json.loads(line) for line in lines]
    assert out[0]["id"] == 2**60 + 1
    assert {k: v for k, v in out[0]["meta"].items() if k != "body_de"} == rows[0]["meta"]
    translated = out[0]["meta"]["body_de"]  # inside the object the text came from
    assert translated.count("\n\n") == doc.count("\n\n")  # paragraphs kept in order
    assert len(out[1]["meta"]["body_de"]) > len(big)  # never truncated
    assert out[2]["meta"]["body_de"] is None
    report = json.loads((tmp_path / "d.translated.jsonl.report.json").read_text())
    assert report["requests"] > 20  # chunked


def test_stream_with_whole_text_chunks(sim: Sim, ui_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    plain = tmp_path / "p.csv"
    for extra, path in ((("--stream",), out), ((), plain)):
        run = mtpipe(
            "translate",
            ui_csv,
            "--to",
            "de",
            "--model",
            "qwen-mt-turbo",
            "-o",
            path,
            "--base-url",
            sim.base_url,
            *extra,
        )
        assert run.code == 0, run.stderr
    assert read_csv(out)["text_de"].to_list() == read_csv(plain)["text_de"].to_list()


@pytest.mark.parametrize("pack", [["--pack", "off"], ["--pack-segments", "4"]])
def test_faults_are_retried_to_completion(
    sim_factory: Callable[..., Sim], ui_csv: Path, tmp_path: Path, pack: list[str]
) -> None:
    faulty = sim_factory(
        "--faults",
        "429=0.1,500=0.05,503=0.03,reset=0.03,badjson=0.03,length=0.03,envelope=0.03",
        "--seed",
        "7",
    )
    run = mtpipe(
        "translate",
        ui_csv,
        "--to",
        "de,ja",
        "--base-url",
        faulty.base_url,
        "--concurrency",
        "8",
        *pack,
    )
    assert run.code == 0, run.stderr
    frame = read_csv(tmp_path / "ui.translated.csv")
    assert frame["mt_error"].null_count() == frame.height  # none lost
    assert frame["text_de"].null_count() == 2  # the two blank rows, not sent
    report = json.loads((tmp_path / "ui.translated.csv.report.json").read_text())
    stats = faulty.stats()
    faults = sum(stats["faults"].values())
    assert faults > 0 and sum(report["retries"].values()) == faults  # each fault retried once
    # every request beyond the planned ones was the retry of a fault: nothing finished
    # was requested again
    assert stats["requests"] == report["requests"] + faults
    if pack == ["--pack", "off"]:
        assert report["requests"] == report["units"]
    assert set(report["retries"]) <= {
        "rate_limit_requests",
        "http_500",
        "http_503",
        "connection",
        "invalid_json",
        "truncated",
        "no_content",
    }


def test_hung_request_times_out_and_is_retried(sim_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hung = sim_factory("--faults", "hang=0.3", "--seed", "3")
    src = write_csv(tmp_path / "h.csv", [["text"], *[[f"Line {i}"] for i in range(6)]])
    run = mtpipe("translate", src, "--to", "de", "--base-url", hung.base_url, "--timeout", "0.5")
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / "h.translated.csv.report.json").read_text())
    assert report["retries"].get("timeout", 0) >= 1


def test_output_may_not_be_input(sim: Sim, ui_csv: Path) -> None:
    run = mtpipe("translate", ui_csv, "--to", "de", "-o", ui_csv, "--base-url", sim.base_url)
    assert run.code == 2 and "overwrite" in run.stderr


def test_help_lists_commands() -> None:
    run = mtpipe("--help")
    assert run.code == 0
    for command in ("translate", "serve-sim"):
        assert command in run.stdout


def test_packing_sends_few_requests_and_splits_back(sim: Sim, ui_csv: Path, tmp_path: Path) -> None:
    single, packed = tmp_path / "single.csv", tmp_path / "packed.csv"
    assert (
        mtpipe(
            "translate",
            ui_csv,
            "--to",
            "de,ja",
            "-o",
            single,
            "--pack",
            "off",
            "--base-url",
            sim.base_url,
        ).code
        == 0
    )
    sim.reset()
    run = mtpipe(
        "translate",
        ui_csv,
        "--to",
        "de,ja",
        "-o",
        packed,
        "--pack",
        "on",  # a fixed size: --pack auto starts small and grows
        "--pack-segments",
        "16",
        "--base-url",
        sim.base_url,
        "--no-cache",  # the first run's translations, else: packing would send nothing
    )
    assert run.code == 0, run.stderr
    units = 2 * len({r["text"] for r in corpus("ui_strings.jsonl", 40)})
    assert sim.stats()["requests"] == 2 * -(-units // 2 // 16)  # ceil(units per language / 16)
    a, b = read_csv(single), read_csv(packed)
    assert a["text_de"].to_list() == b["text_de"].to_list()
    assert a["text_ja"].to_list() == b["text_ja"].to_list()
    report = json.loads((tmp_path / "packed.csv.report.json").read_text())
    assert b["mt_prompt_tokens"].cast(pl.Int64).sum() == report["prompt_tokens"]
    assert report["prompt_tokens"] < a["mt_prompt_tokens"].cast(pl.Int64).sum() / 2


@pytest.mark.parametrize("ext", ["csv", "tsv", "parquet", "jsonl"])
def test_whitespace_only_cells_are_not_sent_and_left_empty(
    sim: Sim, tmp_path: Path, ext: str
) -> None:
    blanks = ["\t", "   ", "\n", " \t\n "]
    src = tmp_path / "w.csv"
    rows = [["id", "text"], ["0", "Save"], *([str(i + 1), b] for i, b in enumerate(blanks))]
    write_csv(src, rows)
    out = tmp_path / f"w.out.{ext}"
    sim.reset()
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url, "-o", out)
    assert run.code == 0, run.stderr
    assert sim.stats()["requests"] == 1  # only "Save" is sent
    if ext == "parquet":
        column = pl.read_parquet(out)["text_de"].to_list()
    elif ext == "jsonl":
        column = [json.loads(line).get("text_de") for line in out.read_text().splitlines()]
    else:
        delimiter = "\t" if ext == "tsv" else ","
        with out.open(newline="", encoding="utf-8") as f:
            column = [row["text_de"] for row in csv.DictReader(f, delimiter=delimiter)]
    assert column[0] and column[0] != "Save"
    empty = "" if ext in ("csv", "tsv") else None
    assert column[1:] == [empty] * len(blanks)  # no whitespace copied, no "'\t"


def test_an_empty_input_is_refused_and_leaves_nothing(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_bytes(b"")
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url)
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "file is empty" in lines[0], run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv"]  # no output, no checkpoint
    header_only = write_csv(tmp_path / "h.csv", [["id", "text"]])
    assert mtpipe("translate", header_only, "--to", "de", "--base-url", sim.base_url).code == 0


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("base_url", "host", "cause"),
    [
        (None, "127.0.0.1:", "connection refused"),
        ("http://nosuchhost.invalid/v1", "nosuchhost.invalid", "cannot reach"),
    ],
    ids=["closed-port", "unresolvable-host"],
)
def test_unreachable_endpoint_stops_with_exit_4(
    ui_csv: Path, tmp_path: Path, base_url: str | None, host: str, cause: str
) -> None:
    url = base_url or f"http://127.0.0.1:{_closed_port()}/v1"
    run = mtpipe(
        "translate", ui_csv, "--to", "de", "--base-url", url, "--allow-insecure-http", timeout=30
    )
    assert run.code == 4, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert host in run.stderr and cause in run.stderr and "--base-url" in run.stderr


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """``mtpipe estimate ... | head``: the pipe's reader exits before mtpipe writes; mtpipe
    ends with 141 (what a shell shows for SIGPIPE) and nothing on stderr, no traceback."""
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,Hello\n", encoding="utf-8")
    command = f"{sys.executable} -m pipeline estimate {src} --to de | true; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=mtpipe_env(), capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (141, "")
