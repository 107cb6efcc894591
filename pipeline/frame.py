"""``translate_frame``: a DataFrame in, the same frame with its translations out.

For notebooks and data pipelines.  It is the run ``mtpipe translate`` makes, on
a Parquet copy of the frame in a temporary folder: the same checkpoint (pass
``checkpoint=`` to resume and to reuse what an earlier call paid for),
deduplication, packing, QA and token columns.  A pandas frame comes back as
pandas (pandas is not a dependency of mtpipe; its frames are converted when it
is installed), with its index.  The progress bar is ``tqdm.auto``'s: a widget
in Jupyter, a text bar on a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from . import endpoint
from .errors import UsageError
from .options import build_job
from .report import Events

__all__ = ["translate_frame"]

_NOT_HERE = ("input", "output", "input_format", "output_format", "delimiter", "encoding")


def translate_frame(
    df: Any,
    *,
    to: str | Sequence[str],
    columns: str | Sequence[str] = ("text",),
    progress: bool = True,
    **options: Any,
) -> Any:
    """``df`` with a ``{column}_{lang}`` column per text column and language, and the token,
    error and flag columns of ``mtpipe translate``.

    ``options`` are the job-file keys (``model="qwen-mt-plus"``, ``sim=True``,
    ``checkpoint="runs/products.sqlite"``, ``max_cost=1.0``, ...), checked as a
    job file's are.  Raises ``PipelineError`` where the command would exit 2 or 4;
    cells that failed carry ``mt_error``, as in the command's output.
    """
    given = sorted(set(options) & set(_NOT_HERE))
    if given:
        raise UsageError(f"translate_frame: {', '.join(given)} is the DataFrame's; leave it out")
    frame, pandas_index = _to_polars(df)
    with tempfile.TemporaryDirectory(prefix="mtpipe-frame-") as folder:
        source, output = Path(folder) / "input.parquet", Path(folder) / "output.parquet"
        frame.write_parquet(source)
        values = {"input": source, "output": output, "to": to, "progress": progress}
        values |= {"columns": [columns] if isinstance(columns, str) else list(columns)}
        job = build_job(values | options, env=os.environ)
        notebook = progress and _in_notebook()
        events = Events(bar=progress, fmt=job.log_format, notebook=notebook, label="DataFrame")
        endpoint.run(job, events=events)
        translated = pl.read_parquet(output)
    if pandas_index is None:
        return translated
    result = translated.to_pandas()
    result.index = pandas_index
    return result


def _to_polars(df: Any) -> tuple[pl.DataFrame, Any]:
    """(the frame as polars, the pandas index to put back, or None for a polars frame)."""
    if isinstance(df, pl.DataFrame):
        return df, None
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(df, pandas.DataFrame):
        return pl.from_pandas(df), df.index
    raise UsageError(f"translate_frame takes a polars or pandas DataFrame, not {type(df).__name__}")


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where stderr is no terminal but a bar still shows."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
