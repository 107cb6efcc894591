"""XLSX: a sheet read as a table and written back with the added columns, on real files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline.errors import InputError, OutputError
from pipeline.formats import read_table, write_table
from tests.conftest import Sim, mtpipe

NONE = pl.DataFrame()


def workbook(path: Path, rows: list[list[object]], sheet: str = "Strings") -> Path:
    """A workbook written cell by cell with xlsxwriter, plus a second sheet that is ignored."""
    book = xlsxwriter.Workbook(path)
    sheet_ = book.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet_.write_string(r, c, value)
            elif value is not None:
                sheet_.write(r, c, value)
    book.add_worksheet("Notes").write_string(0, 0, "not read")
    book.close()
    return path


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        return book.read("xl/worksheets/sheet1.xml").decode()


def test_first_sheet_is_the_table_with_the_types_its_cells_share(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["id", "text", "n"],
        [1, "Hello", 3],
        [2, "World", "x"],
        [3, None, 5],
    ]
    table = read_table(workbook(tmp_path / "a.xlsx", rows))
    assert table.frame.columns == ["id", "text", "n"]
    assert table.frame.schema["id"] == pl.Int64
    assert table.frame.schema["n"] == pl.String  # numbers and text: text
    assert table.texts("text").to_list() == ["Hello", "World", None]
    assert table.columns == ("text",)


def test_written_back_with_added_columns_in_a_sheet_of_the_same_name(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "a.xlsx", [["id", "text"], [1, "a"], [2, "b"]]))
    added = pl.DataFrame({"text_de": ["=1+2", None], "mt_prompt_tokens": [3, 0]})
    write_table(table, added, tmp_path / "out.xlsx", escape_columns=["text_de"])
    back = pl.read_excel(tmp_path / "out.xlsx", sheet_id=0)
    assert list(back) == ["Strings"]
    assert back["Strings"].to_dicts() == [
        {"id": 1, "text": "a", "text_de": "=1+2", "mt_prompt_tokens": 3},
        {"id": 2, "text": "b", "text_de": None, "mt_prompt_tokens": 0},
    ]
    assert "<f>" not in sheet_xml(tmp_path / "out.xlsx")  # a value, never a formula


def test_csv_goes_to_xlsx_and_back(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,text\n007,a\n", encoding="utf-8")
    write_table(read_table(tmp_path / "a.csv"), NONE, tmp_path / "out.xlsx")
    write_table(read_table(tmp_path / "out.xlsx"), NONE, tmp_path / "back.csv")
    assert (tmp_path / "back.csv").read_text() == "id,text\n007,a\n"


def test_header_only_sheet_gives_zero_rows_and_an_empty_sheet_is_refused(tmp_path: Path) -> None:
    assert read_table(workbook(tmp_path / "h.xlsx", [["id", "text"]])).frame.height == 0
    with pytest.raises(InputError, match=r"e\.xlsx is empty: no header row"):
        read_table(workbook(tmp_path / "e.xlsx", []), columns=["text"])


def test_not_an_xlsx_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_text("id,text\n1,a\n")
    with pytest.raises(InputError, match=r"a\.xlsx: not a readable XLSX file"):
        read_table(tmp_path / "a.xlsx")


def test_a_cell_longer_than_xlsx_holds_is_refused(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "a.xlsx", [["text"], ["a"]]))
    added = pl.DataFrame({"text_de": ["x" * 40_000]})
    with pytest.raises(OutputError, match=r"out\.xlsx: a cell of 40000 characters .*32767"):
        write_table(table, added, tmp_path / "out.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx"]


def test_translate_an_xlsx_end_to_end(sim: Sim, tmp_path: Path) -> None:
    src = workbook(tmp_path / "in.xlsx", [["id", "text"], [1, "Hello"], [2, "Good morning"]])
    run = mtpipe("translate", src, "--to", "de", "--base-url", sim.base_url, "--no-progress")
    assert run.code == 0, run.stderr
    out = pl.read_excel(tmp_path / "in.translated.xlsx")
    assert out.columns[:3] == ["id", "text", "text_de"]
    assert out["text"].to_list() == ["Hello", "Good morning"]
    assert all(out["text_de"].to_list())
    assert out["mt_prompt_tokens"].sum() > 0


# -- round trip ---------------------------------------------------------------

# XLSX keeps no "" apart from an empty cell, and no control character but tab and newline
cell_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff")
    | st.sampled_from("\t\n"),
    min_size=1,
    max_size=12,
)
names = st.lists(
    st.text("abcdefghij_", min_size=1, max_size=6), min_size=1, max_size=4, unique=True
)


@st.composite
def sheets(draw: st.DrawFn) -> pl.DataFrame:
    columns = draw(names)
    height = draw(st.integers(1, 6))
    data: dict[str, pl.Series] = {
        name: pl.Series(
            name,
            draw(st.lists(st.none() | cell_text, min_size=height, max_size=height)),
            dtype=pl.String,
        )
        for name in columns
    }
    numbers = draw(st.lists(st.integers(-(2**40), 2**40), min_size=height, max_size=height))
    return pl.DataFrame([*data.values(), pl.Series("rw_int", numbers, dtype=pl.Int64)])


@settings(max_examples=30, deadline=None)
@given(frame=sheets())
def test_xlsx_round_trip(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> None:
    """Read, write with nothing added, read again: the same values (an all-null column is text)."""
    folder = tmp_path_factory.mktemp("xlsx_round_trip")
    frame.write_excel(folder / "in.xlsx", autofit=False)
    first = read_table(folder / "in.xlsx", columns=[frame.columns[0]])
    write_table(first, NONE, folder / "out.xlsx")
    second = read_table(folder / "out.xlsx", columns=[frame.columns[0]])
    assert_frame_equal(second.frame, first.frame)
    assert_frame_equal(first.frame.select(frame.columns), frame, check_dtypes=False)
