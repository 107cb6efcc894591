from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cells import plan_cells
from pipeline.models import Settings, Unit
from pipeline.planner import (
    Packing,
    estimate_tokens,
    pieces_of,
    plan_requests,
    split_text,
)

DATA = Path(__file__).parent / "data"
SETTINGS = Settings(model="qwen-mt-turbo", style="prompt", template="", source_lang="auto")


@given(st.text(min_size=0, max_size=400), st.integers(min_value=5, max_value=120))
@settings(max_examples=200, deadline=None)
def test_split_text_round_trips_and_respects_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert "".join(chunks) == text
    assert all(len(c) <= limit for c in chunks)


def test_split_prefers_paragraphs_then_sentences() -> None:
    text = "First para one. Second sentence.\n\nSecond para here.\n\nThird."
    assert split_text(text, 40) == [
        "First para one. Second sentence.\n\n",
        "Second para here.\n\nThird.",
    ]
    assert split_text("One two. Three four. Five six.", 12)[0] == "One two. "


@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip() != ""))
@settings(max_examples=200, deadline=None)
def test_pieces_keep_white_space_out_of_requests(text: str) -> None:
    pieces = pieces_of(Unit("k", text, "German"), 50)
    assert "".join(p.lead + p.text + p.trail for p in pieces) == text
    assert all(p.text == p.text.strip() and p.text for p in pieces)
    assert [p.index for p in pieces] == list(range(len(pieces)))


def test_long_documents_chunk_within_limits() -> None:
    lines = (DATA / "long_docs.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line)["text"] for line in lines]
    for doc in [*docs, "word " * 12000]:  # and a 60,000-character cell
        pieces = pieces_of(Unit("k", doc, "German"), 6000)
        assert all(len(p.text) <= 6000 for p in pieces)
        assert "".join(p.lead + p.text + p.trail for p in pieces) == doc


def test_plan_requests_is_lazy_and_builds_bodies() -> None:
    units = plan_cells({"text": pl.Series(["a", "b", "c"])}, [("de", "German")], fp="f").units()
    requests = plan_requests(units, SETTINGS, block_rows=2)
    first = next(requests)
    assert first.body["model"] == "qwen-mt-turbo"
    assert [m["role"] for m in first.body["messages"]] == ["user"]
    assert len(list(requests)) == 2


def test_estimate_tokens() -> None:
    assert estimate_tokens("a" * 40) == 10
    assert estimate_tokens("漢字" * 3) == 4


def _units(texts: list[str], lang: str = "German") -> pl.DataFrame:
    return pl.concat(plan_cells({"text": pl.Series(texts)}, [("xx", lang)], fp="f").units())


def test_packing_groups_short_pieces_per_language() -> None:
    units = pl.concat(
        [_units([f"Label {i}" for i in range(250)]), _units(["Hi", "Yo"], "Japanese")]
    )
    packing = Packing(max_segments=100, max_tokens=10_000)
    requests = list(plan_requests([units], SETTINGS, packing=packing))
    sizes = sorted(len(r.pieces) for r in requests)
    assert sizes == [2, 50, 100, 100]
    for request in requests:
        assert len({p.unit.target_lang for p in request.pieces}) == 1
    pack = next(r for r in requests if len(r.pieces) == 2)
    assert pack.body["messages"][0]["content"].endswith("[1] Hi\n[2] Yo")


def test_packing_respects_token_budget_and_leaves_long_or_multiline_alone() -> None:
    units = _units(["word " * 30, "line one\nline two", "x " * 900, "short", "tiny"])
    requests = list(plan_requests([units], SETTINGS, packing=Packing(max_tokens=60)))
    alone = [r.pieces[0].text for r in requests if len(r.pieces) == 1]
    assert "line one\nline two" in alone and ("x " * 900).strip() in alone
    packs = [r for r in requests if len(r.pieces) > 1]
    assert packs and all(sum(estimate_tokens(p.text) for p in r.pieces) <= 60 for r in packs)


def test_packing_off_sends_one_piece_per_request() -> None:
    units = _units(["a", "b", "c"])
    requests = list(plan_requests([units], SETTINGS, packing=Packing(enabled=False)))
    assert [len(r.pieces) for r in requests] == [1, 1, 1]


def test_a_small_max_tokens_is_raised_to_fit_a_chunk() -> None:
    settings = Settings("qwen-mt-turbo", "prompt", "", "auto", (), (("max_tokens", 100),))
    units = _units(["word " * 400, "hi"])
    requests = list(plan_requests([units], settings, packing=Packing(enabled=False)))
    assert requests[0].body["max_tokens"] > 500
    assert requests[1].body["max_tokens"] == 100  # enough already
