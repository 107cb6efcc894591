"""Parquet: every type kept; written as one part file per block, joined at the end.

Only one block is in memory while writing: each is its own part file beside
the output, and polars' streaming engine joins the parts into the temporary
file when the last block is written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import InputError, PipelineError
from .files import check_readable
from .table import ReadOptions, Table, WriteOptions, settle

__all__ = ["sink", "source"]


@dataclass(frozen=True, slots=True)
class _Parquet:
    name: str = "parquet"

    def read(self, path: Path, options: ReadOptions) -> Table:
        check_readable(path)
        try:
            frame = pl.read_parquet(path, glob=False, hive_partitioning=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            reason = str(exc).strip().splitlines()[0]
            raise InputError(
                f"{path}: not a readable Parquet file ({reason}); check --format"
            ) from exc
        table = Table(path, self.name, frame)
        return settle(table, options, "no columns")

    def open(self, tmp: Path, *, like: Table, options: WriteOptions) -> _Parts:
        return _Parts(tmp)

    def write_frame(self, frame: pl.DataFrame, tmp: Path) -> None:
        frame.write_parquet(tmp)


def source(name: str) -> _Parquet:
    return _Parquet(name)


def sink(name: str) -> _Parquet:
    return _Parquet(name)


class _Parts:
    """A part file per block beside ``tmp``; joined into ``tmp`` by ``finish``."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._parts: list[Path] = []

    def write(self, table: Table, added: pl.DataFrame) -> None:
        part = self._tmp.with_name(f"{self._tmp.name}.part{len(self._parts):06d}")
        self._parts.append(part)
        table.frame.with_columns(added.get_columns()).write_parquet(part)

    def finish(self) -> None:
        if not self._parts:
            raise PipelineError(f"{self._tmp}: no block was written; this is a bug in mtpipe")
        pl.scan_parquet(self._parts).sink_parquet(self._tmp)

    def close(self) -> None:
        for part in self._parts:
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
