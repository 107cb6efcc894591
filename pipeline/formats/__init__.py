"""File formats: what mtpipe reads cells from and writes translations into.

Tables: ``table`` is the seam (``Table``, ``Source``, ``Sink``), ``registry``
finds a format by name or extension (``source_for``, ``sink_for``) and writes
all or nothing (``TableWriter``); ``csv`` (CSV and TSV), ``parquet``,
``jsonl`` and ``xlsx`` are one module each, ``files`` what they share.

``catalog`` is the contract every localization catalog implements (gettext,
XLIFF, Android, Apple, ARB, i18next); each format is one module beside it.
"""

from .registry import (
    FORMATS,
    TableWriter,
    detect_format,
    read_table,
    sink_for,
    source_for,
    write_frame,
    write_table,
)
from .table import ReadOptions, Sink, Source, Table, WriteOptions

__all__ = [
    "FORMATS",
    "ReadOptions",
    "Sink",
    "Source",
    "Table",
    "TableWriter",
    "WriteOptions",
    "detect_format",
    "read_table",
    "sink_for",
    "source_for",
    "write_frame",
    "write_table",
]
