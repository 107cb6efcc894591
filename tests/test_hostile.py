"""Hostile input and unwritable output, end to end."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import runner
from pipeline.formats import read_table
from pipeline.options import build_job
from pipeline.report import Events
from pipeline.sim import SimConfig, SimThread
from tests.conftest import Sim, mtpipe

HOSTILE = st.sampled_from(
    [
        '=HYPERLINK("http://x")',
        "+1",
        "-2",
        "@SUM(A1)",
        "\tlead",
        "a,b;c\td",
        'say "hi"',
        "line\nbreak",
        "crlf\r\nhere",
        "👩\u200d👩\u200d👧",
        "\u202eevil\u202c",
        "e\u0301",
        "\u00e9",
        "para\u2028sep",
        "",
        " ",
        "00123",
        "1e5",
        "NULL",
        "null",
        "\\N",
    ]
)
TEXT = st.one_of(HOSTILE, st.text(max_size=30))


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with SimThread(SimConfig()) as url:
        yield url


def _translate(src: Path, out: Path, url: str) -> None:
    job = build_job(
        {"input": str(src), "output": str(out), "to": ["de"], "base_url": url, "columns": ["text"]},
        env={"ROUTESCOPE_API_KEY": "k"},
    )
    runner.run(job, events=Events(bar=False, stream=io.StringIO()))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
@given(rows=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_untranslated_columns_round_trip(
    fmt: str, rows: list[tuple[str, str]], sim_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp(fmt)
    frame = pl.DataFrame(
        {
            "id": [str(i) for i in range(len(rows))],
            "note": [r[0] for r in rows],
            "text": [r[1] for r in rows],
        }
    )
    src = tmp / f"in.{fmt}"
    if fmt == "parquet":
        frame.write_parquet(src)
    elif fmt == "jsonl":
        src.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in frame.to_dicts()),
            encoding="utf-8",
        )
    else:
        frame.write_csv(src, separator="\t" if fmt == "tsv" else ",")
    before = read_table(src, columns=["text"]).frame
    out = tmp / f"out.{fmt}"
    _translate(src, out, sim_url)
    after = read_table(out, columns=["text"]).frame.select(before.columns)
    if fmt in ("csv", "tsv"):  # null and "" are the same empty field
        before, after = before.fill_null(""), after.fill_null("")
    assert after.equals(before)


def test_unwritable_output_keeps_the_checkpoint(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("text\nHello\nWorld\n", encoding="utf-8")
    blocked = tmp_path / "out.csv"
    blocked.mkdir()  # the output path is a directory: the final write fails
    ckpt = tmp_path / "c.sqlite"
    sim.reset()
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "-o",
        blocked,
        "--checkpoint",
        ckpt,
        "--base-url",
        sim.base_url,
        "--pack",
        "off",
    )
    assert run.code == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert sim.stats()["requests"] == 2  # one a text
    assert not list(tmp_path.glob(".out.csv.tmp*"))
    sim.reset()
    fixed = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "-o",
        tmp_path / "ok.csv",
        "--checkpoint",
        ckpt,
        "--base-url",
        sim.base_url,
    )
    assert fixed.code == 0, fixed.stderr
    assert sim.stats()["requests"] == 0  # nothing paid twice


def test_bad_output_folder_is_refused_before_any_request(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("text\nHello\n", encoding="utf-8")
    (tmp_path / "file").write_text("x")
    sim.reset()
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de",
        "-o",
        tmp_path / "file" / "out.csv",
        "--base-url",
        sim.base_url,
    )
    assert run.code == 2 and "Traceback" not in run.stderr
    assert sim.stats()["requests"] == 0


def test_latin1_without_encoding_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "latin.csv"
    src.write_bytes("text\nCaf\xe9 cr\xe8me\n".encode("latin-1"))
    run = mtpipe("translate", src, "--to", "de", "--sim")
    assert run.code == 2 and "--encoding" in run.stderr and run.stderr.count("\n") == 1
    ok = mtpipe("translate", src, "--to", "de", "--sim", "--encoding", "latin-1")
    assert ok.code == 0, ok.stderr
    out = pl.read_csv(tmp_path / "latin.translated.csv", infer_schema=False)
    assert out["text"][0] == "Café crème"


def test_malformed_jsonl_line_and_skip(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "Hello"}\n{"text": oops}\n{"text": "World"}\n', encoding="utf-8")
    run = mtpipe("translate", src, "--to", "de", "--sim")
    assert run.code == 2 and "line 2" in run.stderr
    skipped = mtpipe("translate", src, "--to", "de", "--sim", "--skip-bad-lines")
    assert skipped.code == 0, skipped.stderr
    rejects = tmp_path / "in.translated.jsonl.rejects.jsonl"
    assert rejects.read_text() == '{"text": oops}\n'
    assert len((tmp_path / "in.translated.jsonl").read_text().splitlines()) == 2


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    header = tmp_path / "h.csv"
    header.write_text("id,text\n", encoding="utf-8")
    run = mtpipe("translate", header, "--to", "de", "--sim")
    assert run.code == 0, run.stderr
    assert (tmp_path / "h.translated.csv").read_text().startswith("id,text,text_de")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    run = mtpipe("translate", empty, "--to", "de", "--sim")
    assert run.code == 2 and "file is empty" in run.stderr, run.stderr  # issue 16: bad input
    assert not (tmp_path / "e.translated.csv").exists()
