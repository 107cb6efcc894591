"""Review through its seam: a request and its outcome in, results and resends out.

No I/O: the requests are planned by the planner, the outcomes are what the client
returns for an answer, a refusal or an error.
"""

from __future__ import annotations

from pipeline.models import (
    Chunking,
    Completion,
    Outcome,
    Piece,
    Request,
    Settings,
    Status,
    Unit,
    Usage,
)
from pipeline.planner import make_request
from pipeline.review import Reviewer

SETTINGS = Settings(model="qwen-mt-turbo", style="prompt", template="", source_lang="English")


def _pack(*texts: str) -> Request:
    units = [Unit(f"k{i}", text, "German") for i, text in enumerate(texts)]
    return make_request([Piece(u, 0, 1, u.text) for u in units], SETTINGS)


def _answer(text: str, tokens: int = 10) -> Outcome:
    return Outcome(Completion(text, "stop", Usage(tokens, tokens)), 1, Usage(tokens, tokens))


def _reviewer(qa: str = "warn") -> Reviewer:
    return Reviewer(SETTINGS, chunking=Chunking(6000), qa_mode=qa)


def test_an_aligned_pack_gives_one_result_per_unit() -> None:
    reviewed = _reviewer().review(
        _pack("Hello", "Good night"), _answer("[1] Hallo\n[2] Gute Nacht")
    )
    assert [(r.key, r.translation) for r, _ in reviewed.results] == [
        ("k0", "Hallo"),
        ("k1", "Gute Nacht"),
    ]
    assert not reviewed.resend and not reviewed.retries
    assert sum(r.usage.prompt_tokens for r, _ in reviewed.results) == 10  # shared, not copied


def test_lines_the_answer_does_not_give_for_certain_are_sent_again_alone() -> None:
    request = _pack("Hello", "Good night", "Thanks")
    reviewed = _reviewer().review(request, _answer("Hallo, gute Nacht und danke"))
    assert not reviewed.results
    assert [[p.text for p in r.pieces] for r in reviewed.resend] == [
        ["Hello"],
        ["Good night"],
        ["Thanks"],
    ]
    assert reviewed.retries == ["pack_misaligned"]


def test_a_pack_refused_for_good_is_sent_again_in_halves() -> None:
    refused = Outcome(None, 1, Usage(), error_reason="moderation", permanent=True)
    reviewed = _reviewer().review(_pack("a b", "c d", "e f", "g h"), refused)
    assert not reviewed.results
    assert [len(r.pieces) for r in reviewed.resend] == [2, 2]
    assert reviewed.retries == ["pack_moderation"]


def test_a_failed_single_request_is_a_failed_result() -> None:
    failed = Outcome(None, 8, Usage(), error_reason="503", error_message="busy")
    reviewed = _reviewer().review(_pack("Hello"), failed)
    [(result, cells)] = reviewed.results
    assert (result.status, result.error, cells) == (Status.FAILED_TRANSIENT, "503", 1)
    assert not reviewed.resend


def test_a_broken_placeholder_is_resent_once_then_flagged() -> None:
    reviewer = _reviewer()
    request = _pack("Open %(name)s now")
    first = reviewer.review(request, _answer("Jetzt öffnen"))
    assert not first.results and first.retries == ["qa_placeholders"]
    [again] = first.resend
    second = reviewer.review(again, _answer("Jetzt öffnen"))
    [(result, _)] = second.results
    assert result.status is Status.DONE and "placeholders" in result.flags
    assert not second.resend


def test_strict_qa_fails_what_it_flags() -> None:
    reviewer = _reviewer("strict")
    first = reviewer.review(_pack("Open %(name)s now"), _answer("Jetzt öffnen"))
    [(result, _)] = reviewer.review(first.resend[0], _answer("Jetzt öffnen")).results
    assert (result.status, result.error, result.translation) == (
        Status.FAILED_PERMANENT,
        "qa",
        None,
    )
