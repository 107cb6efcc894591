"""mtpipe: translate the text columns of large tables through Qwen MT models.

The library is what the command line runs:

    from pipeline import build_job, run
    job = build_job({"input": "products.csv", "to": ["de", "ja"]}, env=os.environ)
    report = run(job)  # a table, or a localization catalog into its targets' layout

    from pipeline import translate_frame
    out = translate_frame(df, to=["de", "ja"], columns=["title"])  # polars or pandas

Names are imported on first use, so ``mtpipe --help`` does not load polars
or aiohttp.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Job": "config",
    "PipelineError": "errors",
    "Report": "report",
    "build_job": "options",
    "estimate": "endpoint",
    "load_job_file": "options",
    "run": "endpoint",
    "translate_frame": "frame",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
