"""XLSX: the first sheet read as a table (its first row the header), written back like CSV.

Read through polars' ``read_excel`` (the calamine engine of fastexcel): each
column gets the type its cells share, a column of mixed types is text.
Written through polars' ``write_excel`` (xlsxwriter) to one sheet of the same
name: the input columns, then the added ones.  Cells are written as values,
never as formulas, so a translation that starts with ``=`` stays text and no
quote is added.  A sheet holds at most 1,048,576 rows, so the blocks are
joined and written at the end.  Needs the ``xlsx`` extra
(``pip install 'mtpipe[xlsx]'``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import InputError, OutputError, UsageError
from .files import check_readable
from .table import ReadOptions, Table, WriteOptions, nested_as_json, settle

__all__ = ["Sheet", "sink", "source"]

_MAX_CHARS = 32_767  # what one cell holds


@dataclass(frozen=True, slots=True)
class Sheet:
    """What an XLSX table keeps for its sink: the name of the sheet it was read from."""

    name: str

    def slice(self, start: int, length: int) -> Sheet:
        return self

    def take(self, rows: Sequence[int]) -> Sheet:
        return self

    def texts(self, column: str) -> pl.Series | None:
        return None


@dataclass(frozen=True, slots=True)
class _Xlsx:
    name: str = "xlsx"

    def read(self, path: Path, options: ReadOptions) -> Table:
        _need("fastexcel", "reading")
        check_readable(path)
        import fastexcel

        try:
            sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=None, raise_if_empty=False)
        except (fastexcel.FastExcelError, pl.exceptions.PolarsError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"{path}: not a readable XLSX file ({reason}); check --format"
            raise InputError(message) from exc
        name, frame = next(iter(sheets.items()))
        table = Table(path, self.name, frame, native=Sheet(name))
        return settle(table, options, "no header row")

    def open(self, tmp: Path, *, like: Table, options: WriteOptions) -> _Workbook:
        _need("xlsxwriter", "writing")
        name = like.native.name if isinstance(like.native, Sheet) else "Sheet1"
        return _Workbook(tmp, name)

    def write_frame(self, frame: pl.DataFrame, tmp: Path) -> None:
        _need("xlsxwriter", "writing")
        _write(frame, tmp, "Sheet1")


def source(name: str) -> _Xlsx:
    return _Xlsx(name)


def sink(name: str) -> _Xlsx:
    return _Xlsx(name)


def _need(module: str, doing: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{doing} XLSX needs {module}: pip install 'mtpipe[xlsx]'")


class _Workbook:
    """The blocks, joined into one sheet when the last is written."""

    def __init__(self, tmp: Path, sheet: str) -> None:
        self._tmp, self._sheet = tmp, sheet
        self._blocks: list[pl.DataFrame] = []

    def write(self, table: Table, added: pl.DataFrame) -> None:
        self._blocks.append(table.frame.with_columns(added.get_columns()))

    def finish(self) -> None:
        _write(pl.concat(self._blocks, how="vertical_relaxed"), self._tmp, self._sheet)

    def close(self) -> None:
        self._blocks = []


def _write(frame: pl.DataFrame, tmp: Path, sheet: str) -> None:
    frame = nested_as_json(frame)
    text = [
        pl.nth(i).cast(pl.String)  # by position: a name like "*" would be read as a pattern
        for i, dtype in enumerate(frame.dtypes)
        if isinstance(dtype, (pl.Categorical, pl.Enum))
    ]
    frame = frame.with_columns(text) if text else frame
    longest = frame.select(
        pl.nth(i).str.len_chars().max()
        for i, dtype in enumerate(frame.dtypes)
        if dtype == pl.String
    )
    if longest.width and (most := max(v or 0 for v in longest.row(0))) > _MAX_CHARS:
        raise OutputError(
            f"{tmp.name.removeprefix('.').split('.tmp-')[0]}: a cell of {most} characters is "
            f"more than XLSX holds ({_MAX_CHARS}); write CSV, JSON Lines or Parquet"
        )
    frame.write_excel(tmp, worksheet=sheet, autofit=False)
