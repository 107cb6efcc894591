"""The output written block by block is the output written whole, for every format."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from pipeline import output, runner
from pipeline.options import build_job
from pipeline.report import Events, Report
from pipeline.sim import SimConfig, SimThread

ROWS = 60


@pytest.fixture
def sim_url() -> Iterator[str]:
    # Moderation refuses some requests for good: failed cells in the outputs.
    with SimThread(SimConfig(faults=(("moderation", 0.3),), seed=7)) as url:
        yield url


def _table() -> pl.DataFrame:
    """Repeats within and across columns and blocks, blanks, and distinct texts."""
    return pl.DataFrame(
        {
            "id": list(range(ROWS)),
            "title": [f"Item {i % 9}" if i % 4 else None for i in range(ROWS)],
            "body": [f"Item {i % 5}" if i % 3 else f"Body {i}" for i in range(ROWS)],
        }
    )


def _run(src: Path, out: Path, url: str, layout: str) -> Report:
    job = build_job(
        {
            "input": str(src),
            "output": str(out),
            "to": ["de", "ja"],
            "base_url": url,
            "columns": ["title", "body"],
            "layout": layout,
            "checkpoint": str(src.with_suffix(".ckpt")),
            "failed_out": str(out.with_name(out.name + ".failed.csv")),
            "max_attempts": 1,
        },
        env={"ROUTESCOPE_API_KEY": "k"},
    )
    return runner.run(job, events=Events(bar=False, stream=io.StringIO()))


@pytest.mark.parametrize(
    ("fmt", "layout"), [("csv", "wide"), ("csv", "long"), ("jsonl", "wide"), ("parquet", "long")]
)
def test_blocks_of_seven_rows_write_what_one_block_writes(
    fmt: str, layout: str, sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / f"in.{fmt}"
    frame = _table()
    if fmt == "jsonl":  # JSON Lines in and out: lines kept byte for byte, fields appended
        src.write_text("".join(json.dumps(row) + "\n" for row in frame.iter_rows(named=True)))
    else:
        getattr(frame, f"write_{fmt}")(src)
    whole = _run(src, tmp_path / f"whole.{fmt}", sim_url, layout)
    monkeypatch.setattr(output, "BLOCK_ROWS", 7)
    blocks = _run(src, tmp_path / f"blocks.{fmt}", sim_url, layout)
    assert blocks.requests == 0  # everything came from the checkpoint
    assert whole.failed > 0 and whole.translated > 0
    for name in ("cells", "translated", "failed", "reused", "failures", "flags"):
        assert getattr(blocks, name) == getattr(whole, name) or name == "reused"
    for suffix in ("", ".failed.csv"):
        one = (tmp_path / f"whole.{fmt}{suffix}").read_bytes()
        many = (tmp_path / f"blocks.{fmt}{suffix}").read_bytes()
        if fmt == "parquet" and not suffix:
            assert pl.read_parquet(io.BytesIO(one)).equals(pl.read_parquet(io.BytesIO(many)))
        else:
            assert one == many
