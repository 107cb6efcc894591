"""Writing tables (pipeline.formats): formats, exact pass-through, formulas, atomicity."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline.errors import OutputError, PipelineError, UsageError
from pipeline.formats import Table, TableWriter, read_table, write_table
from pipeline.options import output_path_for

NONE = pl.DataFrame()
HOSTILE = [
    "👩\u200d👩\u200d👧\u200d👦",  # emoji ZWJ sequence
    # RTL (Hebrew "shalom", "olam") with embedding, isolate and mark bidi controls
    "\u202b\u05e9\u05dc\u05d5\u05dd, world\u202c \u2067\u05e2\u05d5\u05dc\u05dd\u2069 \u200f",
    "e\u0301\u0327a\u0308",  # combining marks
    "\u00e9",  # NFC é
    "e\u0301",  # NFD é
    "line\u2028sep\u2029para",  # U+2028 / U+2029
    "\ufeffbom inside",
]
EMOJI, RTL, COMBINING, NFC, NFD, SEPARATORS, BOM = HOSTILE


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def cells_of(path: Path) -> list[dict[str, Any]]:
    return read_table(path, columns=["id"]).frame.to_dicts()


def added_frame(height: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "text_de": [f"übersetzt {n}" if n % 3 else None for n in range(height)],
            "mt_prompt_tokens": pl.Series(list(range(height)), dtype=pl.Int64),
            "mt_error": pl.Series([None] * height, dtype=pl.String),
        }
    )


# -- output_path_for and errors ----------------------------------------------


def test_output_path_is_beside_the_input_with_translated_before_the_extension() -> None:
    assert output_path_for(Path("in/data.csv")) == Path("in/data.translated.csv")
    assert output_path_for(Path("x.tar.jsonl")) == Path("x.tar.translated.jsonl")


def test_writing_over_the_input_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\na\n")
    table = read_table(path)
    for target in (path, tmp_path / "." / "a.csv"):
        with pytest.raises(OutputError, match=r"output would overwrite the input .*; pass -o"):
            write_table(table, NONE, target)
    assert path.read_text() == "text\na\n"


def test_writing_over_the_input_through_a_symlink_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\na\n")
    (tmp_path / "link.csv").symlink_to(path)
    with pytest.raises(OutputError, match="overwrite the input"):
        write_table(read_table(path), NONE, tmp_path / "link.csv")


def test_added_height_must_match(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\nb\n"))
    with pytest.raises(PipelineError, match="1 added rows for 2 input rows"):
        write_table(table, added_frame(1), tmp_path / "out.csv")


def test_unknown_output_extension_is_a_usage_error(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    with pytest.raises(UsageError, match="--format"):
        write_table(table, NONE, tmp_path / "out.docx")


# -- atomic writes -----------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


KILLED_WRITER = """
import sys, time
from pathlib import Path
import polars as pl
from pipeline.formats import TableWriter, read_table

table = read_table(Path(sys.argv[1]), columns=["text"])
added = pl.DataFrame({"text_de": ["x"] * table.frame.height})
with TableWriter(Path(sys.argv[2]), source=table) as out:
    out.write(table, added)  # one Parquet part file written, the temporary not yet joined
    print("written", flush=True)
    time.sleep(3600)
"""


def test_the_temporaries_of_a_killed_writer_are_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    """kill -9 mid-write leaves ``.out.parquet.tmp-PID.part000000``; the next write of that
    output removes it (its pid is gone) and keeps a live process's temporary."""
    src = write(tmp_path / "a.csv", "text\nHello\nWorld\n")
    out = tmp_path / "out.parquet"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(src), str(out)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "written\n"
    finally:
        child.kill()
        child.communicate()
    assert leftovers(tmp_path) == [f".out.parquet.tmp-{child.pid}.part000000"]
    live = tmp_path / f".out.parquet.tmp-{os.getppid()}"  # a running process's (pytest's parent)
    live.write_bytes(b"in progress")
    write_table(read_table(src, columns=["text"]), NONE, out)
    assert leftovers(tmp_path) == [live.name]
    assert pl.read_parquet(out)["text"].to_list() == ["Hello", "World"]


def test_parent_that_is_a_file_fails_cleanly(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    target = tmp_path / "a.csv" / "out.csv"
    with pytest.raises(OutputError, match=r"a\.csv is not a directory; pass another -o"):
        write_table(table, NONE, target)
    assert leftovers(tmp_path) == []


def test_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    with pytest.raises(OutputError, match=r"directory .*nowhere does not exist; create it"):
        write_table(table, NONE, tmp_path / "nowhere" / "out.csv")
    assert not (tmp_path / "nowhere").exists()


def test_target_that_is_a_directory_fails_cleanly(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(OutputError, match=r"out\.csv is a directory"):
        write_table(table, NONE, tmp_path / "out.csv")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_failure_after_writing_leaves_no_temp_file_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    table = read_table(write(tmp_path / "a.jsonl", '{"text": "a"}\n'))
    target = write(tmp_path / f"out.{fmt}", "previous output")

    def disk_full(src: object, dst: object) -> None:
        assert leftovers(tmp_path), "the temporary file should exist before the rename"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputError) as info:
        write_table(table, added_frame(1), target)
    assert f"{target}: cannot write the output (" in str(info.value)
    assert "No space left on device" in str(info.value)
    assert leftovers(tmp_path) == []
    assert target.read_text() == "previous output"


def test_failing_write_leaves_no_output(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.jsonl", '{"text": "a"}\n'))
    # an Object column cannot be written to Parquet: the writer fails mid-way
    added = pl.DataFrame({"obj": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(OutputError, match=r"out\.parquet: cannot write the output"):
        write_table(table, added, tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]


def test_successful_write_replaces_the_old_output(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    target = write(tmp_path / "out.csv", "old")
    write_table(table, NONE, target)
    assert target.read_text() == "text\na\n"
    assert leftovers(tmp_path) == []


# -- CSV and TSV output ------------------------------------------------------


def test_csv_cells_come_back_exactly_with_added_columns_after_them(tmp_path: Path) -> None:
    data = 'id;text\n00123;"a;b ""q""\nx"\n1e5;\n'
    table = read_table(write(tmp_path / "a.csv", data))
    write_table(table, added_frame(2), tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == (
        'id;text;text_de;mt_prompt_tokens;mt_error\n00123;"a;b ""q""\nx";;0;\n1e5;;übersetzt 1;1;\n'
    )


def test_csv_output_has_no_bom_and_lf_line_endings(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", b"\xef\xbb\xbftext\r\na\r\n"))
    write_table(table, NONE, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == b"text\na\n"


def test_null_and_empty_string_both_write_an_empty_field(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", 'id,text,quoted\n1,,""\n'))
    added = pl.DataFrame({"null": pl.Series([None], dtype=pl.String), "empty": [""]})
    write_table(table, added, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == 'id,text,quoted,null,empty\n1,,"",,""\n'
    assert cells_of(tmp_path / "out.csv") == [
        {"id": "1", "text": None, "quoted": "", "null": None, "empty": ""}
    ]


def test_one_column_empty_cells_stay_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", 'text\n""\na\n""\n'))
    added = pl.DataFrame({"text": ["", None, "b"]})  # replaces the column in place
    write_table(table, added, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == 'text\n""\n""\nb\n'
    assert read_table(tmp_path / "out.csv").texts("text").to_list() == ["", "", "b"]


def test_delimiter_follows_input_only_for_the_same_format(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "id|text\n1|a,b\n"))
    write_table(table, NONE, tmp_path / "same.csv")
    write_table(table, NONE, tmp_path / "other.tsv")
    assert (tmp_path / "same.csv").read_text() == "id|text\n1|a,b\n"
    assert (tmp_path / "other.tsv").read_text() == "id\ttext\n1\ta,b\n"
    tsv = read_table(tmp_path / "other.tsv")
    write_table(tsv, NONE, tmp_path / "back.csv")
    assert (tmp_path / "back.csv").read_text() == 'id,text\n1,"a,b"\n'


FORMULAS = ["=1+2", "+49 30", "-x", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]


def test_formulas_in_translated_columns_are_escaped(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\n" + "x\n" * len(FORMULAS)))
    added = pl.DataFrame({"text_de": FORMULAS, "note": FORMULAS})
    write_table(table, added, tmp_path / "out.csv", escape_columns=["text_de"])
    out = read_table(tmp_path / "out.csv", columns=["text_de", "note"])
    assert out.texts("text_de").to_list() == [
        "'=1+2", "'+49 30", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b"
    ]  # fmt: skip
    assert out.texts("note").to_list() == FORMULAS


def test_formula_escaping_can_be_turned_off(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.tsv", "text\n" + "x\n" * len(FORMULAS)))
    added = pl.DataFrame({"text_de": FORMULAS})
    path = tmp_path / "out.tsv"
    write_table(table, added, path, escape_formulas=False, escape_columns=["text_de"])
    assert read_table(path, columns=["text_de"]).texts("text_de").to_list() == FORMULAS


def test_formulas_are_not_escaped_outside_csv_and_tsv(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\nx\n"))
    added = pl.DataFrame({"text_de": ["=1"]})
    write_table(table, added, tmp_path / "out.jsonl", escape_columns=["text_de"])
    assert json.loads((tmp_path / "out.jsonl").read_text())["text_de"] == "=1"


def test_escaping_an_unknown_column_is_a_usage_error(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\nx\n"))
    with pytest.raises(UsageError, match="text_fr: not an output column"):
        write_table(table, NONE, tmp_path / "out.csv", escape_columns=["text_fr"])


def test_hostile_unicode_passes_through_csv_byte_for_byte(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\n" + "".join(f'"{h}"\n' for h in HOSTILE)))
    write_table(table, pl.DataFrame({"text_de": HOSTILE}), tmp_path / "out.csv")
    quoted = [f'"{h}"' if "," in h else h for h in HOSTILE]
    expected = "text,text_de\n" + "".join(f"{q},{q}\n" for q in quoted)
    assert (tmp_path / "out.csv").read_bytes() == expected.encode()
    assert NFC.encode() != NFD.encode()
    assert read_table(tmp_path / "out.csv").texts("text").to_list() == HOSTILE


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_hostile_unicode_round_trips_byte_for_byte_in_every_format(
    tmp_path: Path, fmt: str
) -> None:
    frame = pl.DataFrame({"id": [str(n) for n in range(len(HOSTILE))], "text": HOSTILE})
    source = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        rows = frame.iter_rows(named=True)
        write(source, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    elif fmt == "parquet":
        frame.write_parquet(source)
    else:
        frame.write_csv(source, separator="," if fmt == "csv" else "\t")
    table = read_table(source)
    assert table.texts("text").to_list() == HOSTILE
    write_table(table, NONE, tmp_path / f"out.{fmt}")
    if fmt == "parquet":
        assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), frame)
    else:
        assert (tmp_path / f"out.{fmt}").read_bytes() == source.read_bytes()


# -- JSON Lines output -------------------------------------------------------


def test_jsonl_lines_pass_through_byte_for_byte_with_added_keys(tmp_path: Path) -> None:
    lines = [
        f'{{"id": {2**60 + 1}, "big": {2**64}, "f": 1.0e5, "text": "h\\u00e9"}}',
        '{"z": {"deep": [1, "x", {"k": null}]}, "text": "' + EMOJI + RTL + SEPARATORS + '"}',
        "{ }",
        '{"text": "' + NFD + COMBINING + '"}  ',
    ]
    table = read_table(write(tmp_path / "a.jsonl", "\n".join(lines) + "\n"))
    write_table(table, added_frame(4), tmp_path / "out.jsonl")
    out = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")
    assert out[0] == (
        f'{{"id": {2**60 + 1}, "big": {2**64}, "f": 1.0e5, "text": "h\\u00e9",'
        '"text_de":null,"mt_prompt_tokens":0,"mt_error":null}'
    )
    assert out[1].startswith(lines[1][:-1] + ',"text_de":"übersetzt 1"')
    assert out[2] == '{ "text_de":"übersetzt 2","mt_prompt_tokens":2,"mt_error":null}'
    assert json.loads(out[3])["text"] == NFD + COMBINING
    assert json.loads(out[0])["big"] == 2**64
    assert out[4:] == [""]


def test_jsonl_added_key_that_exists_replaces_it_in_place(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", f'{{"text_de": "old", "n": {2**64}}}\n')
    table = read_table(path, columns=["text_de"])
    write_table(table, pl.DataFrame({"text_de": ["neu"]}), tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text() == f'{{"text_de":"neu","n":{2**64}}}\n'


def test_jsonl_nested_objects_go_to_csv_as_json_text(tmp_path: Path) -> None:
    data = '{"id": 18446744073709551616, "meta": {"a": [1, 2]}, "tags": ["x"], "text": "t"}\n'
    table = read_table(write(tmp_path / "a.jsonl", data))
    write_table(table, NONE, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == (
        'id,meta,tags,text\n18446744073709551616,"{""a"":[1,2]}","[""x""]",t\n'
    )


def test_csv_goes_to_jsonl_with_strings_and_typed_added_columns(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "id,text\n007,a\n"))
    write_table(table, added_frame(1), tmp_path / "out.jsonl")
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {
        "id": "007",
        "text": "a",
        "text_de": None,
        "mt_prompt_tokens": 0,
        "mt_error": None,
    }


# -- Parquet output ----------------------------------------------------------


def test_parquet_round_trip_keeps_types_and_appends_added(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": pl.Series([2**62, None, 3], dtype=pl.Int64),
            "tags": [["a"], None, []],
            "meta": [{"body": "x", "n": 1}, None, {"body": EMOJI, "n": 2}],
            "kind": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "text": [RTL, "w" * 1_000_000, None],
        }
    )
    frame.write_parquet(tmp_path / "a.parquet")
    table = read_table(tmp_path / "a.parquet")
    write_table(table, added_frame(3), tmp_path / "out.parquet")
    back = pl.read_parquet(tmp_path / "out.parquet")
    assert_frame_equal(back, pl.concat([frame, added_frame(3)], how="horizontal"))


def test_jsonl_to_parquet_keeps_big_integers(tmp_path: Path) -> None:
    data = f'{{"id": {2**60 + 1}, "big": {2**64}, "text": "a"}}\n'
    write_table(read_table(write(tmp_path / "a.jsonl", data)), NONE, tmp_path / "o.parquet")
    assert pl.read_parquet(tmp_path / "o.parquet").row(0) == (2**60 + 1, 2**64, "a")


def test_parquet_to_csv_writes_nested_values_as_json(tmp_path: Path) -> None:
    pl.DataFrame({"text": ["a"], "tags": [["x", "y"]], "n": [5]}).write_parquet(
        tmp_path / "a.parquet"
    )
    write_table(read_table(tmp_path / "a.parquet"), NONE, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == 'text,tags,n\na,"[""x"",""y""]",5\n'


# -- property-based round trips ----------------------------------------------

ROUND_TRIP = settings(max_examples=50, deadline=None)
texts = st.lists(
    st.one_of(st.text(max_size=8), st.sampled_from([*HOSTILE, '"', "\r\n", "=", "*", "^.*$"]))
)
text = texts.map("".join)
names = st.lists(
    text.filter(lambda name: name != "" and not name.startswith("\ufeff")),
    min_size=1,
    max_size=4,
    unique=True,
)


@st.composite
def string_tables(draw: st.DrawFn, *, nulls: bool = True) -> pl.DataFrame:
    columns = draw(names)
    height = draw(st.integers(0, 6))
    cell = st.one_of(st.none(), text) if nulls else text
    data = {name: draw(st.lists(cell, min_size=height, max_size=height)) for name in columns}
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))


def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rw_round_trip")


@ROUND_TRIP
@given(frame=string_tables(), sep=st.sampled_from([",", ";", "|", "\t"]))
def test_csv_round_trip(
    tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame, sep: str
) -> None:
    folder = fresh(tmp_path_factory)
    frame.write_csv(folder / "in.csv", separator=sep)
    first = read_table(folder / "in.csv", columns=frame.columns[:1], delimiter=sep)
    assert_frame_equal(first.frame.fill_null(""), frame.fill_null(""))
    write_table(first, NONE, folder / "out.csv", escape_formulas=False)
    second = read_table(folder / "out.csv", columns=frame.columns[:1], delimiter=sep)
    assert_frame_equal(second.frame.fill_null(""), first.frame.fill_null(""))
    if frame.width > 1:  # null and "" are told apart too
        assert_frame_equal(second.frame, first.frame)


@ROUND_TRIP
@given(frame=string_tables())
def test_tsv_round_trip(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> None:
    folder = fresh(tmp_path_factory)
    frame.write_csv(folder / "in.tsv", separator="\t")
    first = read_table(folder / "in.tsv", columns=frame.columns[:1])
    assert_frame_equal(first.frame.fill_null(""), frame.fill_null(""))
    write_table(first, NONE, folder / "out.tsv", escape_formulas=False)
    second = read_table(folder / "out.tsv", columns=frame.columns[:1])
    assert_frame_equal(second.frame.fill_null(""), first.frame.fill_null(""))
    if frame.width > 1:  # null and "" are told apart too
        assert_frame_equal(second.frame, first.frame)


@ROUND_TRIP
@given(frame=string_tables(), numbers=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6))
def test_parquet_round_trip(
    tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame, numbers: list[int]
) -> None:
    folder = fresh(tmp_path_factory)
    numbers = (numbers * frame.height)[: frame.height] if numbers else [0] * frame.height
    frame = frame.with_columns(pl.Series("rw_int", numbers, dtype=pl.Int64))
    frame = frame.with_columns(pl.concat_list(pl.first().fill_null("")).alias("rw_list"))
    frame.write_parquet(folder / "in.parquet")
    first = read_table(folder / "in.parquet", columns=frame.columns[:1])
    assert_frame_equal(first.frame, frame)
    write_table(first, NONE, folder / "out.parquet", escape_formulas=False)
    assert_frame_equal(read_table(folder / "out.parquet", columns=first.columns).frame, frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
json_objects = st.lists(
    st.tuples(
        text, st.dictionaries(text.filter(lambda key: key != "text"), json_values, max_size=4)
    ).map(lambda pair: {"text": pair[0], **pair[1]}),
    min_size=1,
    max_size=6,
)


@ROUND_TRIP
@given(objects=json_objects, ascii_only=st.booleans())
def test_jsonl_round_trip(
    tmp_path_factory: pytest.TempPathFactory, objects: list[dict[str, Any]], ascii_only: bool
) -> None:
    folder = fresh(tmp_path_factory)
    source = "".join(json.dumps(obj, ensure_ascii=ascii_only) + "\n" for obj in objects)
    write(folder / "in.jsonl", source)
    first = read_table(folder / "in.jsonl")
    write_table(first, NONE, folder / "out.jsonl", escape_formulas=False)
    assert (folder / "out.jsonl").read_text(encoding="utf-8") == source
    second = read_table(folder / "out.jsonl")
    assert_frame_equal(second.frame, first.frame)


@ROUND_TRIP
@given(objects=json_objects, added=st.lists(st.one_of(st.none(), text), min_size=6, max_size=6))
def test_jsonl_added_keys_round_trip(
    tmp_path_factory: pytest.TempPathFactory, objects: list[dict[str, Any]], added: list[str | None]
) -> None:
    folder = fresh(tmp_path_factory)
    write(folder / "in.jsonl", "".join(json.dumps(obj) + "\n" for obj in objects))
    table = read_table(folder / "in.jsonl")
    extra = pl.DataFrame({"text_de": added[: len(objects)]}, schema={"text_de": pl.String})
    write_table(table, extra, folder / "out.jsonl")
    lines = (folder / "out.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert [json.loads(line) for line in lines] == [
        {**obj, "text_de": value} for obj, value in zip(objects, added, strict=False)
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_column_names_that_look_like_patterns_are_plain_names(tmp_path: Path, fmt: str) -> None:
    frame = pl.DataFrame({"*": ["=a", None], "^.*$": ["b", "c"], "text": ["d", "e"]})
    source = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        frame.write_ndjson(source)
    else:
        getattr(frame, f"write_{fmt}")(source)
    table = read_table(source, columns=["*", "text"])
    assert table.frame.columns == ["*", "^.*$", "text"]
    write_table(
        table, pl.DataFrame({"^.": ["=x", None]}), tmp_path / "out.csv", escape_columns=["*", "^."]
    )
    assert (tmp_path / "out.csv").read_text() == "*,^.*$,text,^.\n'=a,b,d,'=x\n,c,e,\n"


def test_table_is_a_frozen_value(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text\na\n"))
    assert isinstance(table, Table)
    with pytest.raises(AttributeError):
        table.columns = ()  # type: ignore[misc]


# -- block by block ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
@given(
    rows=st.lists(st.tuples(st.text(max_size=12), st.one_of(st.none(), st.text(max_size=12)))),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=5),
)
@settings(max_examples=25, deadline=None)
def test_blocks_write_what_one_block_writes(
    fmt: str, rows: list[tuple[str, str | None]], cuts: list[int], tmp_path_factory: Any
) -> None:
    """Any split of a table into blocks (empty ones too) writes the same bytes."""
    assume(rows or fmt != "jsonl")  # an empty JSON Lines file is refused on reading
    tmp = tmp_path_factory.mktemp(fmt)
    frame = pl.DataFrame(
        {"id": [str(i) for i in range(len(rows))], "text": [r[0] for r in rows]},
        schema={"id": pl.String, "text": pl.String},
    )
    src = tmp / f"in.{fmt}"
    if fmt == "parquet":
        frame.write_parquet(src)
    elif fmt == "jsonl":  # read back from raw lines: kept byte for byte, fields appended
        src.write_text("".join(json.dumps(r) + "\n" for r in frame.iter_rows(named=True)))
    else:
        frame.write_csv(src, separator="\t" if fmt == "tsv" else ",")
    table = read_table(src, columns=["text"])
    added = pl.DataFrame({"text_de": [r[1] for r in rows]}, schema={"text_de": pl.String})
    write_table(table, added, tmp / f"whole.{fmt}", escape_columns=["text_de"])
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    with TableWriter(tmp / f"blocks.{fmt}", source=table, escape_columns=["text_de"]) as out:
        for start, end in list(itertools.pairwise(bounds)) or [(0, 0)]:
            out.write(table.slice(start, end - start), added.slice(start, end - start))
    whole, blocks = (tmp / f"whole.{fmt}").read_bytes(), (tmp / f"blocks.{fmt}").read_bytes()
    if fmt == "parquet":
        assert_frame_equal(pl.read_parquet(whole), pl.read_parquet(blocks))
    else:
        assert whole == blocks
    assert not [p.name for p in tmp.iterdir() if ".tmp-" in p.name]  # no part file left
