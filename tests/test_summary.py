"""What ``mtpipe status`` reads from a checkpoint (summary.py), on real files."""

from __future__ import annotations

from pathlib import Path

from pipeline.checkpoint import Checkpoint
from pipeline.models import Result, Status, Usage
from pipeline.summary import Failure, Summary


def _failed(key: str, error: str, lang: str = "German", model: str = "m") -> Result:
    return Result(
        key,
        Status.FAILED_PERMANENT,
        None,
        Usage(4, 0),
        1,
        error,
        f"why {key}",
        model=model,
        lang=lang,
        source=f"src {key}",
    )


def test_an_empty_or_missing_checkpoint_summarizes_to_nothing(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "none.sqlite") as store:
        assert store.summary() == Summary({}, {}, ())


def test_the_pieces_of_a_finished_long_unit_are_billed_once(tmp_path: Path) -> None:
    """A finished long unit's usage includes its pieces: the pieces' rows are not added
    again; the pieces of a unit not finished yet are all that shows its spend."""
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put(
            [
                Result("long", Status.DONE, "a b", Usage(20, 10), 2, model="m"),
                Result("long/0", Status.PIECE, "a", Usage(10, 5), 1, model="m"),
                Result("long/1", Status.PIECE, "b", Usage(10, 5), 1, model="m"),
                Result("open/0", Status.PIECE, "c", Usage(7, 3), 1, model="m"),
                Result("short", Status.DONE, "d", Usage(1, 1), 1, model="other"),
            ]
        )
        summary = store.summary()
    assert summary.statuses == {"done": 2}  # pieces are not units
    assert summary.pieces == 1  # open/0: kept for the resume of its unit
    assert summary.failures == ()  # a finished piece is never a failure
    assert summary.tokens == {"m": (27, 13), "other": (1, 1)}


def test_failures_are_grouped_by_status_and_reason_most_first_with_examples(
    tmp_path: Path,
) -> None:
    with Checkpoint(tmp_path / "c.sqlite") as store:
        store.put([_failed(f"mod{i}", "moderation") for i in range(4)])
        store.put([_failed("bad", "invalid_parameter", lang="French")])
        store.put([Result("gone", Status.FAILED_TRANSIENT, None, Usage(), 3, None)])
        store.put([Result("ok", Status.DONE, "x", Usage(1, 1), 1)])
        summary = store.summary(examples=2)
    assert [(f.status, f.reason, f.units) for f in summary.failures] == [
        ("failed_permanent", "moderation", 4),
        ("failed_permanent", "invalid_parameter", 1),
        ("failed_transient", "?", 1),
    ]
    moderation, invalid, transient = summary.failures
    assert len(moderation.examples) == 2
    assert all(lang == "German" and source.startswith("src mod") for lang, source, _ in
               moderation.examples)  # fmt: skip
    assert invalid == Failure("failed_permanent", "invalid_parameter", 1,
                              (("French", "src bad", "why bad"),))  # fmt: skip
    assert transient.examples == (("", "", ""),)  # nothing known: empty, not None
