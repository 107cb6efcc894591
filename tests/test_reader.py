"""Reading tables (pipeline.formats): every format, every rule, on real files in tmp_path."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.errors import InputError, OutputError, UsageError
from pipeline.formats import FORMATS, Table, detect_format, read_table
from pipeline.formats.csv import Delimited
from pipeline.formats.jsonl import Lines


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def delimiter(table: Table) -> str:
    """The delimiter a CSV or TSV table was read with: kept for its sink, in ``native``."""
    assert isinstance(table.native, Delimited)
    return table.native.delimiter


def cells(table: Table) -> list[dict[str, object]]:
    return table.frame.to_dicts()


# -- detect_format ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.tsv", "tsv"),
        ("a.tab", "tsv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
    ],
)
def test_detect_format_from_extension(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt


def test_detect_format_unknown_extension_suggests_format_option() -> None:
    with pytest.raises(UsageError, match=r"data\.docx: .*'\.docx' \(known: \.csv, .*--format"):
        detect_format(Path("data.docx"))


def test_detect_format_json_only_when_explicit() -> None:
    with pytest.raises(UsageError, match="--format jsonl"):
        detect_format(Path("data.json"))
    assert detect_format(Path("data.json"), "jsonl") == "jsonl"


def test_detect_format_explicit_wins_and_unknown_is_refused() -> None:
    assert detect_format(Path("data.txt"), "TSV") == "tsv"
    assert set(FORMATS) == {"csv", "tsv", "parquet", "jsonl", "xlsx"}
    with pytest.raises(UsageError, match="unknown format 'xls'"):
        detect_format(Path("data.csv"), "xls")


# -- CSV and TSV ------------------------------------------------------------


def test_csv_utf8_bom_is_stripped_from_first_header(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", b"\xef\xbb\xbftext,id\nhello,1\n"))
    assert table.frame.columns == ["text", "id"]
    assert table.columns == ("text",)


def test_csv_crlf_line_endings(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "id,text\r\n1,a\r\n2,b\r\n"))
    assert cells(table) == [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]


def test_csv_without_final_newline(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "id,text\n1,a\n2,b"))
    assert table.texts("text").to_list() == ["a", "b"]


def test_csv_quoted_commas_doubled_quotes_and_newlines(tmp_path: Path) -> None:
    data = 'id,text\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,"crlf\r\ninside"\n'
    table = read_table(write(tmp_path / "a.csv", data))
    assert table.texts("text").to_list() == ["a, b", 'say "hi"', "two\nlines", "crlf\r\ninside"]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_delimiter_is_sniffed_from_the_header(tmp_path: Path, sep: str) -> None:
    data = f'id{sep}text\n1{sep}"a, b; c|d"\n'
    table = read_table(write(tmp_path / "a.csv", data))
    assert delimiter(table) == sep
    assert cells(table) == [{"id": "1", "text": "a, b; c|d"}]


def test_csv_sniffing_ignores_delimiters_inside_quoted_header_names(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", '"a;b;c",text\n1,x\n'))
    assert delimiter(table) == ","
    assert table.frame.columns == ["a;b;c", "text"]


def test_explicit_delimiter_wins_over_sniffing(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text;x,y\na;b,c\n"), delimiter=";")
    assert cells(table) == [{"text": "a", "x,y": "b,c"}]


def test_delimiter_must_be_one_character(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--delimiter"):
        read_table(write(tmp_path / "a.csv", "text\na\n"), delimiter=";;")


def test_tsv_extension_reads_tabs(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.tsv", "id\ttext\n1\ta,b;c\n"))
    assert (table.format, delimiter(table)) == ("tsv", "\t")
    assert cells(table) == [{"id": "1", "text": "a,b;c"}]


def test_tsv_with_unbalanced_quotes_reads_quotes_as_data(tmp_path: Path) -> None:
    data = 'id\ttext\n1\t"Hello\n2\tthe 5" screen\n3\tok\n'
    table = read_table(write(tmp_path / "a.tsv", data))
    assert table.texts("text").to_list() == ['"Hello', 'the 5" screen', "ok"]


def test_csv_cells_are_strings_exactly_as_written(tmp_path: Path) -> None:
    data = "id,text,n,flag,day\n00123,1e5,-0.0,true,2024-01-02\n"
    table = read_table(write(tmp_path / "a.csv", data))
    assert table.frame.schema == pl.Schema(
        dict.fromkeys(["id", "text", "n", "flag", "day"], pl.String)
    )
    assert cells(table) == [
        {"id": "00123", "text": "1e5", "n": "-0.0", "flag": "true", "day": "2024-01-02"}
    ]


def test_csv_empty_field_reads_as_null_and_quoted_empty_as_empty(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", 'id,text,x\n1,,""\n2\n'))
    assert cells(table) == [
        {"id": "1", "text": None, "x": ""},
        {"id": "2", "text": None, "x": None},
    ]


def test_csv_blank_lines_are_not_records_but_empty_fields_are(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", 'id,text\n\n1,a\n,\n\r\n2,"\n\nb"\n\n'))
    assert cells(table) == [
        {"id": "1", "text": "a"},
        {"id": None, "text": None},  # "," is a record of two empty fields
        {"id": "2", "text": "\n\nb"},
    ]
    one = read_table(write(tmp_path / "one.csv", "text\na\n\nb\n"))
    assert one.texts("text").to_list() == ["a", None, "b"]  # one column: an empty cell


def test_csv_header_names_with_doubled_quotes_are_unescaped(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", '"say ""hi""","a\nb",text\n1,2,3\n'))
    assert table.frame.columns == ['say "hi"', "a\nb", "text"]


def test_csv_duplicate_header_names_are_made_unique(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "text,text\na,b\n"))
    assert table.frame.columns == ["text", "text_duplicated_0"]


def test_csv_row_with_too_many_fields_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a\.csv: line 2 has 3 fields, the header has 2; fix"):
        read_table(write(tmp_path / "a.csv", "id,text\n1,a,b\n"))


def test_latin1_without_encoding_names_the_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\n1,café\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_table(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"{path}: not valid UTF-8 (first bad byte at offset 13)" in message
    assert "--encoding latin-1" in message


def test_invalid_utf8_offset_is_found_past_the_first_chunk(tmp_path: Path) -> None:
    body = "x" * (3 << 20)
    path = write(tmp_path / "a.csv", b"text\n" + body.encode() + b"\n\xe9\n")
    with pytest.raises(InputError, match=f"offset {5 + len(body) + 1}\\)"):
        read_table(path)


def test_latin1_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id;text\n1;café\n".encode("latin-1"))
    table = read_table(path, encoding="latin-1")
    assert cells(table) == [{"id": "1", "text": "café"}]
    assert delimiter(table) == ";"


def test_cp1252_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\n€5 “quoted”\n".encode("cp1252"))
    assert read_table(path, encoding="cp1252").texts("text").to_list() == ["€5 “quoted”"]


def test_undecodable_with_given_encoding_names_the_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"text\nab\x81\n")
    with pytest.raises(InputError, match=r"cannot decode as cp1252 at byte offset 7"):
        read_table(path, encoding="cp1252")


def test_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown encoding 'klingon'"):
        read_table(write(tmp_path / "a.csv", "text\na\n"), encoding="klingon")


def test_header_only_file_gives_zero_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "id,text\n"))
    assert table.frame.height == 0
    assert table.frame.columns == ["id", "text"]
    assert table.texts("text").to_list() == []


@pytest.mark.parametrize("name", ["a.csv", "a.tsv", "a.jsonl", "a.parquet", "a.xlsx"])
def test_a_zero_byte_file_is_an_input_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match=r"file is empty \(0 bytes\)"):
        read_table(write(tmp_path / name, b""))


def test_file_of_blank_lines_with_requested_columns_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a\.csv is empty: no header row"):
        read_table(write(tmp_path / "a.csv", b"\n\n"), columns=["text"])


def test_csv_rows_keep_their_order(tmp_path: Path) -> None:
    data = "text\n" + "".join(f"{n}\n" for n in range(5000, 0, -1))
    table = read_table(write(tmp_path / "a.csv", data))
    assert table.texts("text").to_list() == [str(n) for n in range(5000, 0, -1)]


def test_million_row_csv_reads_fast_as_compact_strings(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    n = 1_000_000
    text = pl.format("sentence number {} of the big table", pl.int_range(n))
    pl.select(id=pl.int_range(n), text=text).write_csv(path)
    started = time.perf_counter()
    table = read_table(path)
    elapsed = time.perf_counter() - started
    assert table.frame.height == n
    assert table.texts("text")[123_456] == "sentence number 123456 of the big table"
    assert table.frame.estimated_size() < 3 * path.stat().st_size
    assert elapsed < 5.0


# -- column choice ----------------------------------------------------------


def test_default_column_is_text(tmp_path: Path) -> None:
    assert read_table(write(tmp_path / "a.csv", "id,text\n1,a\n")).columns == ("text",)


def test_no_text_column_lists_the_string_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_table(write(tmp_path / "input.csv", "title,body\na,b\n"))
    assert str(info.value).endswith(
        "input.csv: no column named 'text'; pass --column with one of: title, body"
    )


def test_missing_column_suggests_case_and_space_insensitive_match(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_table(write(tmp_path / "input.csv", "id,Text \n1,a\n"), columns=["text"])
    assert str(info.value).endswith(
        "input.csv: column 'text' not found (columns: id, Text ); did you mean 'Text '?"
    )


def test_missing_column_suggests_nearest_spelling(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'description'"):
        read_table(write(tmp_path / "a.csv", "id,description\n1,a\n"), columns=["descrption"])


def test_missing_column_without_near_match_lists_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'zzz' not found \(columns: id, body\)"):
        read_table(write(tmp_path / "a.csv", "id,body\n1,a\n"), columns=["zzz"])


def test_several_columns_keep_the_requested_order(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "a.csv", "a,b,c\n1,2,3\n"), columns=["c", "a"])
    assert table.columns == ("c", "a")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_table(tmp_path / "nope.csv")


def test_directory_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(InputError, match=r"dir\.csv is a directory"):
        read_table(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\na\n")
    path.chmod(0)
    with pytest.raises(InputError, match="Permission denied"):
        read_table(path)


# -- Parquet ----------------------------------------------------------------


def parquet_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": pl.Series([2**62, -1, None], dtype=pl.Int64),
            "tags": [["a", "b"], [], None],
            "meta": [{"body": "deep", "n": 1}, {"body": None, "n": 2}, None],
            "kind": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "text": ["hello", "w" * 1_000_000, None],
        }
    )


def test_parquet_keeps_every_type(tmp_path: Path) -> None:
    frame = parquet_frame()
    frame.write_parquet(tmp_path / "a.parquet")
    table = read_table(tmp_path / "a.parquet")
    assert_frame_equal(table.frame, frame)
    assert table.columns == ("text",)


def test_parquet_categorical_and_struct_fields_are_text_columns(tmp_path: Path) -> None:
    parquet_frame().write_parquet(tmp_path / "a.parquet")
    table = read_table(tmp_path / "a.parquet", columns=["kind", "meta.body"])
    assert table.texts("kind").to_list() == ["x", "y", "x"]
    assert table.texts("kind").dtype == pl.String
    assert table.texts("meta.body").to_list() == ["deep", None, None]


def test_parquet_non_string_column_is_refused(tmp_path: Path) -> None:
    parquet_frame().write_parquet(tmp_path / "a.parquet")
    with pytest.raises(InputError, match=r"column 'id' holds Int64, not text; .*: meta\.body"):
        read_table(tmp_path / "a.parquet", columns=["id"])


def test_not_a_parquet_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a\.parquet: not a readable Parquet file"):
        read_table(write(tmp_path / "a.parquet", "id,text\n"))


# -- JSON Lines -------------------------------------------------------------


def test_jsonl_dotted_path_walks_nested_objects(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "meta": {"body": "hello", "n": 1}},
        {"id": 2, "meta": {"body": 5}},
        {"id": 3, "meta": {"other": "x"}},
        {"id": 4},
        {"id": 5, "meta": {"body": True}},
    ]
    path = write(tmp_path / "a.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    table = read_table(path, columns=["meta.body"])
    assert table.texts("meta.body").to_list() == ["hello", None, None, None, None]


def test_jsonl_key_with_a_dot_is_found_before_nesting(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"a.b": "flat", "a": {"b": "deep"}}\n')
    assert read_table(path, columns=["a.b"]).texts("a.b").to_list() == ["flat"]


def test_jsonl_raw_lines_are_verbatim_and_blank_lines_skipped(tmp_path: Path) -> None:
    data = '{"text": "a",  "f": 1.0e5}\r\n\n   \n{"text":"\\u00e9"}\n'
    table = read_table(write(tmp_path / "a.jsonl", data))
    assert isinstance(table.native, Lines)
    assert table.native.raw.to_list() == ['{"text": "a",  "f": 1.0e5}', '{"text":"\\u00e9"}']
    assert table.texts("text").to_list() == ["a", "é"]


def test_jsonl_malformed_line_names_its_line_number(tmp_path: Path) -> None:
    lines = ['{"text": "ok"}'] * 15 + [""] + ['{"text": "a" "b": 1}']
    path = write(tmp_path / "data.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(info.value).endswith(
        "data.jsonl: line 17 is not valid JSON (Expecting ',' delimiter at column 14); "
        "fix it or pass --skip-bad-lines"
    )


def test_jsonl_line_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 2 is a JSON list, not an object"):
        read_table(write(tmp_path / "a.jsonl", '{"text": "a"}\n[1, 2]\n'))


def test_jsonl_skip_bad_lines_writes_them_to_rejects(tmp_path: Path) -> None:
    data = '{"text": "a"}\n{"text": \n\n[3]\n{"text": "b"}\n'
    rejects = tmp_path / "rejects.jsonl"
    table = read_table(write(tmp_path / "a.jsonl", data), skip_bad_lines=True, rejects=rejects)
    assert table.texts("text").to_list() == ["a", "b"]
    assert rejects.read_text() == '{"text": \n[3]\n'


def test_jsonl_unwritable_rejects_is_an_output_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{\n')
    with pytest.raises(OutputError, match="cannot write the rejected lines"):
        read_table(path, skip_bad_lines=True, rejects=path / "rejects.jsonl")


def test_jsonl_big_integers_are_exact(tmp_path: Path) -> None:
    data = f'{{"id": {2**60 + 1}, "big": {2**64}, "text": "a"}}\n'
    table = read_table(write(tmp_path / "a.jsonl", data))
    assert cells(table) == [{"id": 2**60 + 1, "big": 2**64, "text": "a"}]
    assert table.frame.schema["id"] == pl.Int64


def test_jsonl_mixed_types_are_kept_as_json_text(tmp_path: Path) -> None:
    data = '{"v": 1, "text": "a"}\n{"v": "x", "text": 2}\n{"v": [1], "text": null}\n'
    table = read_table(write(tmp_path / "a.jsonl", data))
    assert table.frame.get_column("v").to_list() == ["1", '"x"', "[1]"]
    assert table.texts("text").to_list() == ["a", None, None]


def test_jsonl_nested_fields_of_clashing_types_fall_back_to_json_text(tmp_path: Path) -> None:
    data = '{"m": {"b": true}, "text": "a"}\n{"m": {"b": 1}, "text": "b"}\n'
    table = read_table(write(tmp_path / "a.jsonl", data))
    assert table.frame.get_column("m").to_list() == ['{"b": true}', '{"b": 1}']
    assert table.frame.get_column("text").to_list() == ["a", "b"]


def test_jsonl_columns_follow_first_appearance(tmp_path: Path) -> None:
    data = '{"z": 1, "text": "a"}\n{"a": 2, "z": 3}\n'
    assert read_table(write(tmp_path / "a.jsonl", data)).frame.columns == ["z", "text", "a"]


def test_jsonl_dotted_path_not_found_suggests_a_field(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"meta": {"body": "x"}}\n')
    with pytest.raises(InputError, match=r"did you mean 'meta\.body'"):
        read_table(path, columns=["meta.bdy"])


def test_jsonl_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", "\n\n")
    assert read_table(path).frame.shape == (0, 0)
    with pytest.raises(InputError, match="is empty: no JSON objects"):
        read_table(path, columns=["text"])


def test_jsonl_latin1_needs_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "café"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"offset 13\); pass --encoding latin-1"):
        read_table(path)
    assert read_table(path, encoding="latin-1").texts("text").to_list() == ["café"]
