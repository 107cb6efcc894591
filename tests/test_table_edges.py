"""Input and output edges of tables, end to end: the mtpipe command against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import Sim, mtpipe


def translate(sim: Sim, src: Path, *args: str | Path) -> Any:
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url, *args)
    return run


# -- whitespace-only cells ------------------------------------------------------

BLANKS = ["\t", "   ", "\n", " \t\n "]


def test_whitespace_only_cells_leave_the_csv_column_empty_and_unescaped(
    sim: Sim, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    body = "".join(f'{i},"{text}"\n' for i, text in enumerate(["Hello", *BLANKS]))
    src.write_text("id,text\n" + body, encoding="utf-8")
    sim.reset()
    run = translate(sim, src)
    assert run.code == 0, run.stderr
    assert sim.stats()["requests"] == 1  # only "Hello" is sent
    written = (tmp_path / "in.translated.csv").read_text(encoding="utf-8")
    assert "'" not in written  # formula escaping never touched a blank cell
    out = pl.read_csv(tmp_path / "in.translated.csv", infer_schema=False)
    assert out["text"].to_list() == ["Hello", *BLANKS]  # the input column unchanged
    assert out["text_de"][0]
    assert out["text_de"].to_list()[1:] == [None] * len(BLANKS)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_whitespace_only_cells_leave_the_translated_value_null(
    sim: Sim, tmp_path: Path, fmt: str
) -> None:
    frame = pl.DataFrame({"id": list(range(1 + len(BLANKS))), "text": ["Hello", *BLANKS]})
    src = tmp_path / f"in.{fmt}"
    frame.write_parquet(src) if fmt == "parquet" else frame.write_ndjson(src)
    run = translate(sim, src)
    assert run.code == 0, run.stderr
    out_path = tmp_path / f"in.translated.{fmt}"
    if fmt == "parquet":
        out = pl.read_parquet(out_path)
    else:
        out = pl.DataFrame([json.loads(line) for line in out_path.read_text().splitlines()])
    assert out["text"].to_list() == ["Hello", *BLANKS]
    assert out["text_de"][0]
    assert out["text_de"].to_list()[1:] == [None] * len(BLANKS)


# -- blank physical lines -------------------------------------------------------


@pytest.mark.parametrize(("fmt", "sep", "newline"), [("csv", ",", "\n"), ("tsv", "\t", "\r\n")])
def test_a_blank_line_is_not_a_record(
    sim: Sim, tmp_path: Path, fmt: str, sep: str, newline: str
) -> None:
    records = [f"{i}{sep}Sentence number {i}" for i in range(20)]
    records[3] = f'3{sep}"two\n\nparagraphs"'  # a blank line inside quotes is data
    lines = [f"id{sep}text", *records[:5], "", *records[5:12], "", "", *records[12:], ""]
    src = tmp_path / f"in.{fmt}"
    src.write_text(newline.join(lines) + newline, encoding="utf-8")
    run = translate(sim, src, "--report", tmp_path / "report.json")
    assert run.code == 0, run.stderr
    out = pl.read_csv(tmp_path / f"in.translated.{fmt}", separator=sep, infer_schema=False)
    assert out.height == 20  # 20 records in, 20 out
    assert out["id"].to_list() == [str(i) for i in range(20)]
    assert out["text"][3] == "two\n\nparagraphs"
    assert out["text_de"].null_count() == 0
    assert json.loads((tmp_path / "report.json").read_text())["rows"] == 20


# -- empty files ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["e.csv", "e.tsv", "e.jsonl", "e.parquet", "e.xlsx"])
def test_an_empty_file_is_refused_and_a_header_only_table_is_not(
    sim: Sim, tmp_path: Path, name: str
) -> None:
    empty = tmp_path / name
    empty.write_bytes(b"")
    sim.reset()
    for command in ("translate", "estimate"):
        run = mtpipe(command, empty, "--to", "de", "--base-url", sim.base_url)
        assert run.code == 2, run.stderr
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
        assert f"{empty}: file is empty" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written
    assert sim.stats()["requests"] == 0
    header = tmp_path / "h.csv"
    header.write_text("id,text\n", encoding="utf-8")
    run = translate(sim, header)
    assert run.code == 0, run.stderr
    assert (tmp_path / "h.translated.csv").read_text().startswith("id,text,text_de")


# -- ragged rows ------------------------------------------------------------------


def test_a_row_with_too_many_fields_names_its_line_and_counts(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "input.csv"
    rows = ["id,text,note,tag", '1,"two\nlines",a,b', "2,b,c,d", "", "3,c,d,e", "4,x,5,000,f"]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = translate(sim, src)
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().endswith(
        f"{src}: line 7 has 5 fields, the header has 4; "
        "fix the row or quote the field that holds the delimiter ','"
    )


# -- nested JSON Lines --------------------------------------------------------------


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_a_nested_column_is_written_inside_its_object(
    sim: Sim, tmp_path: Path, layout: str
) -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "meta": {"body": "Hello", "n": 1}},
        {"id": 2, "meta": {"body": "World", "deep": {"x": [1, 2]}}},
        {"id": 3, "meta": {}},
        {"id": 4},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = translate(sim, src, "--column", "meta.body", "--layout", layout)
    assert run.code == 0, run.stderr
    out = [json.loads(line) for line in (tmp_path / "in.translated.jsonl").read_text().splitlines()]
    key = "body_de" if layout == "wide" else "body_translated"
    assert all(f"meta.{key}" not in obj for obj in out)  # not a flat top-level key
    assert out[0]["meta"][key] and out[0]["meta"]["body"] == "Hello" and out[0]["meta"]["n"] == 1
    assert out[1]["meta"][key] and out[1]["meta"]["deep"] == {"x": [1, 2]}
    assert out[2]["meta"] == {key: None}
    assert "meta" not in out[3]  # no object is made up for a cell that has none
    assert [obj["id"] for obj in out] == [1, 2, 3, 4]
    assert all("mt_prompt_tokens" in obj for obj in out)  # row columns stay top level


# -- skipped lines ---------------------------------------------------------------


def test_skipped_lines_are_counted_with_their_line_numbers(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = ['{"text": "Hello"}', '{"text": oops}', "", '{"text": "World"}', "[5]", '{"text": "x"}']
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = translate(sim, src, "--skip-bad-lines", "--report", tmp_path / "r.json")
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["rejected"], report["rejected_lines"]) == (2, [2, 5])
    assert report["rows"] == 3
    assert "2 bad lines skipped (lines 2, 5)" in run.stderr.splitlines()[-1]
    rejects = tmp_path / "in.translated.jsonl.rejects.jsonl"
    assert rejects.read_text() == '{"text": oops}\n[5]\n'
    clean = translate(sim, tmp_path / "in.translated.jsonl", "-o", tmp_path / "again.jsonl")
    assert clean.code == 0 and "bad line" not in clean.stderr


# -- failed cells carry the input's ids ----------------------------------------------


def test_failed_out_rows_carry_the_id_column(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,sku,text\nA-7,x1,Good one\nB-9,x2,Bad [[sim:moderation]]\nC-3,x3,Fine\n",
        encoding="utf-8",
    )
    failed = tmp_path / "failed.jsonl"
    run = translate(sim, src, "--failed-out", failed)
    assert run.code == 3
    lines = [json.loads(line) for line in failed.read_text().splitlines()]
    assert [(line["id"], line["row"], line["reason"]) for line in lines] == [
        ("B-9", 1, "moderation")
    ]  # the detected "id" column, then the 0-based row
    both = tmp_path / "failed.csv"
    run = translate(sim, src, "--failed-out", both, "--id-column", "sku", "--id-column", "id")
    assert run.code == 3
    frame = pl.read_csv(both, infer_schema=False)
    assert frame.columns[:3] == ["sku", "id", "row"]
    assert frame.row(0)[:3] == ("x2", "B-9", "1")


def test_an_id_column_that_is_not_there_is_refused_before_any_request(
    sim: Sim, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("key,text\n1,Hello\n", encoding="utf-8")
    sim.reset()
    run = translate(sim, src, "--id-column", "kye")
    assert run.code == 2 and run.stderr.count("\n") == 1
    assert "id column 'kye' not found (columns: key, text); did you mean 'key'?" in run.stderr
    assert sim.stats()["requests"] == 0
