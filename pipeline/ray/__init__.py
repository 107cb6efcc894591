"""mtpipe on Ray Data (the ``ray`` extra: ``pip install 'mtpipe[ray]'``).

    from pipeline.ray import translate_dataset
    out = translate_dataset(ds, to=["de"], columns=["title"], checkpoint="runs/state")

``translate_dataset`` is lazy, like any Ray Data transform: it adds one
``map_batches`` stage whose actors run mtpipe's own per-block path (read the
block -> key -> plan -> translate -> store -> merge) on each block, so the
output has the local engine's columns.  Ray is imported only here, on first
use: ``import pipeline`` and local runs never load it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["translate_dataset"]


def __getattr__(name: str) -> Any:
    if name == "translate_dataset":
        from .dataset import translate_dataset

        return translate_dataset
    raise AttributeError(f"module 'pipeline.ray' has no attribute {name!r}")
