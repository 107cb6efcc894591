"""Read an input table (CSV, TSV, Parquet, JSON Lines) into a `Table`.

CSV and TSV cells come back as the exact strings of the file (no type
inference); Parquet keeps its types; JSON Lines keeps every line verbatim in
``raw_lines`` so the writer can pass objects through untouched, and builds a
typed ``frame`` for output in other formats (fields whose values are of
different JSON types are stored as their JSON text).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .errors import InputError, UsageError
from .jsonl_frame import _unused as _unused  # placeholder removed below
