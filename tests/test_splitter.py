from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.models import Completion, Outcome, Piece, Request, Result, Status, Unit, Usage
from pipeline.splitter import Joiner, halves, piece_results, share


@given(st.integers(0, 10_000), st.lists(st.integers(0, 500), min_size=1, max_size=30))
def test_share_sums_exactly(total: int, weights: list[int]) -> None:
    shares = share(total, weights)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)


def test_share_is_proportional() -> None:
    assert share(100, [1, 1, 2]) == [25, 25, 50]
    assert share(10, [1, 1, 1]) in ([4, 3, 3], [3, 4, 3], [3, 3, 4])


def _outcome(text: str | None, usage: Usage, *, permanent: bool = False) -> Outcome:
    return Outcome(
        completion=Completion(text, "stop", usage) if text is not None else None,
        attempts=2,
        billed=usage,
        retries=("http_500",),
        error_reason=None if text is not None else "moderation",
        error_message=None if text is not None else "blocked",
        permanent=permanent,
    )


def test_joiner_rebuilds_long_units_with_white_space() -> None:
    unit = Unit("k", " A.\n\nB. ", "German")
    p0 = Piece(unit, 0, 2, "A.", " ", "\n\n")
    p1 = Piece(unit, 1, 2, "B.", "", " ")
    joiner = Joiner()
    r1 = piece_results(Request((p1,), {}), _outcome("Bé.", Usage(50, 3)))[0]
    unit_result, record = joiner.add(r1)
    assert unit_result is None and joiner.pending_units == 1
    assert record is not None and record.key == "k/1" and record.status is Status.PIECE
    assert record.translation == "Bé. " and record.usage == Usage(50, 3)
    r0 = piece_results(Request((p0,), {}), _outcome("Á.", Usage(51, 2)))[0]
    result, _ = joiner.add(r0)
    assert result is not None
    assert result.translation == " Á.\n\nBé. "
    assert result.usage == Usage(101, 5)
    assert result.attempts == 4 and result.status is Status.DONE


def test_failed_piece_fails_the_unit_but_keeps_usage() -> None:
    unit = Unit("k", "x", "German")
    piece = Piece(unit, 0, 1, "x")
    result, _ = Joiner().add(
        piece_results(Request((piece,), {}), _outcome(None, Usage(7, 0), permanent=True))[0]
    )
    assert result is not None
    assert result.status is Status.FAILED_PERMANENT
    assert result.error == "moderation" and result.translation is None
    assert result.usage == Usage(7, 0)


def _pack(texts: list[str]) -> Request:
    pieces = tuple(Piece(Unit(f"k{i}", t, "German"), 0, 1, t) for i, t in enumerate(texts))
    return Request(pieces, {})


def test_pack_answer_is_split_by_number() -> None:
    request = _pack(["Hello", "World", "Bye"])
    outcome = _outcome("[1] Hallo\n\n[2] Welt \n[3] Tschüss\n", Usage(60, 9))
    results = piece_results(request, outcome)
    assert results is not None
    assert [r.translation for r in results] == ["Hallo", "Welt", "Tschüss"]
    assert sum(r.usage.prompt_tokens for r in results) == 60
    assert sum(r.usage.completion_tokens for r in results) == 9


def test_misaligned_pieces_are_unmatched_and_a_refused_pack_is_resent_in_halves() -> None:
    request = _pack(["a", "b", "c"])
    for answer, kept in (
        ("[1] A\n[2] B", [None, None, None]),  # a dropped tail: nothing certain
        ("[1] A\n[3] C\n[2] B", [None, None, None]),
        ("[1] A\n[2] \n[3] C", [None, None, None]),  # an empty segment: its neighbours too
        ("[1] A\n[2] B B\n[4] D\n[5] E", ["A", None, None, None, "E"]),
        ("A\nB\nC", [None, None, None]),
        ("[de] [1] A\n\n(2) B\n3. C\n\nNote: ok", ["A", "B", "C"]),
    ):
        pack = _pack(list("abcde"[: len(kept)]))
        results = piece_results(pack, _outcome(answer, Usage(10, 3)))
        assert results is not None
        assert [r.translation for r in results] == kept, answer
        assert [r.unmatched for r in results] == [k is None for k in kept]
        assert sum(r.usage.prompt_tokens for r in results) == 10
    assert piece_results(request, _outcome(None, Usage(10, 0), permanent=True)) is None
    # transient failure after retries: every piece fails, to be retried next run
    failed = piece_results(request, _outcome(None, Usage(0, 0)))
    assert failed is not None and {r.status for r in failed} == {Status.FAILED_TRANSIENT}
    assert [len(h) for h in halves(request.pieces)] == [1, 2]


def test_rejected_pack_usage_is_carried_to_units() -> None:
    request = _pack(["aa", "bb"])
    joiner = Joiner()
    joiner.reject(request, _outcome("garbage", Usage(40, 10)))
    alone = Request((request.pieces[0],), {})
    result, _ = joiner.add(piece_results(alone, _outcome("AA", Usage(50, 2)))[0])  # type: ignore[index]
    assert result is not None
    assert result.usage == Usage(70, 7)
    assert result.attempts == 2  # the request that answered it; the rejected pack's are its own


def test_pieces_finished_by_an_earlier_run_fill_their_slots() -> None:
    unit = Unit("k", " A.\n\nB. ", "German")
    stored = {"k/0": Result("k/0", Status.PIECE, " Á.\n\n", Usage(51, 2), 1)}
    joiner = Joiner(stored=stored)
    last = Piece(unit, 1, 2, "B.", "", " ")
    result, _ = joiner.add(piece_results(Request((last,), {}), _outcome("Bé.", Usage(50, 3)))[0])
    assert result is not None and result.translation == " Á.\n\nBé. "
    assert result.usage == Usage(101, 5)  # the stored piece's billed usage stays with its unit
