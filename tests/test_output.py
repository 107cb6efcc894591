"""The output stage through its seams: a table, its keyed cells and a checkpoint in;
the written file, --failed-out and the counts (``Written``) out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from pipeline import output
from pipeline.checkpoint import Checkpoint
from pipeline.formats import Table, source_for
from pipeline.keying import Keyed, key
from pipeline.models import Result, Status, Usage
from pipeline.options import build_job
from pipeline.specs import Specs
from pipeline.stats import Written

TEXTS = ["Hello", "Good night", "Hello", None, "Thanks"]


def _keyed(tmp_path: Path, **values: object) -> tuple[Specs, Keyed]:
    source = tmp_path / "in.csv"
    pl.DataFrame({"id": list(range(len(TEXTS))), "text": TEXTS}).write_csv(source)
    failed_out = str(tmp_path / "failed.csv")
    given = {"input": str(source), "to": ["de"], "sim": True, "failed_out": failed_out}
    specs = Specs.of(build_job(given | values, env={}))
    return specs, key(specs.translate, _table(specs))


def _table(specs: Specs) -> Table:
    return source_for(specs.read.path, None).read(specs.read.path, specs.read.options)


def _write(specs: Specs, keyed: Keyed, results: list[Result], missing: str) -> Written:
    with Checkpoint(specs.stores.checkpoint) as checkpoint:
        checkpoint.put(results)
        return output.write_outputs(
            specs.write, _table(specs), keyed.plan, checkpoint, missing=missing
        )


def _results(keyed: Keyed) -> dict[str, str]:
    """Unit key -> source text, for the keys of the one pair."""
    [keys], [sources] = keyed.plan.keys, keyed.plan.sources
    return {k: s for k, s in zip(keys.to_list(), sources.to_list(), strict=True) if k}


@pytest.mark.parametrize("block_rows", [None, 2])
def test_done_failed_and_unsent_cells_are_written_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_rows: int | None
) -> None:
    if block_rows:
        monkeypatch.setattr(output, "BLOCK_ROWS", block_rows)
    specs, keyed = _keyed(tmp_path)
    units = _results(keyed)
    results = []
    for unit, text in units.items():
        if text == "Hello":
            results.append(Result(unit, Status.DONE, "Hallo", Usage(5, 3), 1, flags=("echo",)))
        elif text == "Good night":
            results.append(Result(unit, Status.FAILED_PERMANENT, None, Usage(), 1, error="400"))
    written = _write(specs, keyed, results, missing="budget")  # "Thanks" was never sent
    assert written == Written(
        failed=2, failures=Counter({"400": 1, "budget": 1}), flags=Counter({"echo": 2})
    )
    out = pl.read_csv(specs.write.output)
    assert out["text_de"].to_list() == ["Hallo", None, "Hallo", None, None]
    assert out["mt_prompt_tokens"].to_list()[:3] == [5, 0, 0]  # billed on the unit's first row
    failed = pl.read_csv(tmp_path / "failed.csv")
    assert failed["id"].to_list() == [1, 4] and failed["reason"].to_list() == ["400", "budget"]


def test_the_long_layout_has_a_row_per_language(tmp_path: Path) -> None:
    specs, keyed = _keyed(tmp_path, to=["de", "ja"], layout="long")
    results = [
        Result(k, Status.DONE, f"<{t}>", Usage(1, 1), 1)
        for keys, sources in zip(keyed.plan.keys, keyed.plan.sources, strict=True)
        for k, t in zip(keys.to_list(), sources.to_list(), strict=True)
        if k
    ]
    assert _write(specs, keyed, results, missing="not_translated").failed == 0
    out = pl.read_csv(specs.write.output)
    assert out.height == 2 * len(TEXTS)
    assert out["mt_lang"].to_list()[:4] == ["de", "ja", "de", "ja"]
    assert out["text_translated"].to_list()[:2] == ["<Hello>", "<Hello>"]
