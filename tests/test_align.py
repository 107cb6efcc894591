"""Alignment of pack answers: what a model does to the format never moves a translation
to another row (the sim's pseudo-translation is traceable to its source)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.align import align
from pipeline.sim import pseudo_translate
from pipeline.sim.packs import PACK_FAULTS, deviate

WORDS = st.sampled_from(["Open", "file", "Save", "the", "changes", "now", "Close", "window"])
TEXTS = st.lists(
    st.lists(WORDS, min_size=1, max_size=4).map(" ".join), min_size=2, max_size=12, unique=True
)
STYLES = ("[{}] ", "[ {} ] ", "({}) ", "{}. ", "\uff3b{}\uff3d ", "\uff08{}\uff09 ")


def translated(texts: list[str]) -> list[str]:
    return [pseudo_translate(text, "German") for text in texts]


def numbered(rows: list[tuple[int, str]], style: str) -> list[str]:
    return [style.format(n) + text for n, text in rows]


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[str], str]:
    """(the right translations, an answer: one structural fault plus format noise)."""
    right = translated(draw(TEXTS))
    rows = list(enumerate(right, 1))
    fault = draw(st.sampled_from(["none", "drop", "merge", "renumber-merge", "swap", "dup",
                                  "junk", "unmark", "number"]))  # fmt: skip
    i = draw(st.integers(0, len(rows) - 2))
    if fault == "drop":
        del rows[draw(st.integers(0, len(rows) - 1))]
    elif fault in ("merge", "renumber-merge"):
        rows[i : i + 2] = [(rows[i][0], rows[i][1] + " " + rows[i + 1][1])]
        if fault == "renumber-merge":
            rows = [(n, text) for n, (_, text) in enumerate(rows, 1)]
    elif fault == "swap":
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    elif fault == "dup":
        rows.insert(i, rows[i])
    elif fault == "number":
        rows[i] = (draw(st.integers(0, 20)), rows[i][1])
    lines = numbered(rows, draw(st.sampled_from(STYLES)))
    if fault == "junk":
        lines.insert(draw(st.integers(0, len(lines))), "Sure!")
    elif fault == "unmark":
        lines[i] = rows[i][1]
    glue = "\n\n" if draw(st.booleans()) else "\n"
    head = draw(st.sampled_from(["", "[de] ", "Here you go:\n\n"]))
    tail = draw(st.sampled_from(["", "\n\nNote: kept the numbers."]))
    return right, head + glue.join(lines) + tail


@given(answers())
def test_a_translation_never_lands_in_another_row(case: tuple[list[str], str]) -> None:
    right, answer = case
    for k, text in enumerate(align(answer, len(right))):
        assert text is None or text == right[k], (answer, k)


@given(TEXTS, st.sampled_from(STYLES), st.booleans(), st.sampled_from(["", "[ja] ", "OK:\n\n"]))
def test_format_noise_alone_aligns_every_segment(
    texts: list[str], style: str, blank: bool, head: str
) -> None:
    right = translated(texts)
    glue = "\n\n" if blank else "\n"
    answer = head + glue.join(numbered(list(enumerate(right, 1)), style)) + "\n\nNote: done."
    assert align(answer, len(right)) == right


@given(TEXTS, st.sampled_from(PACK_FAULTS), st.integers(0, 2**64))
def test_every_sim_pack_fault_is_aligned_or_refused_never_misplaced(
    texts: list[str], kind: str, pick: int
) -> None:
    right = translated(texts)
    answer = deviate(numbered(list(enumerate(right, 1)), "[{}] "), kind, target="German", pick=pick)
    out = align(answer, len(right))
    assert all(text is None or text == right[k] for k, text in enumerate(out))
    if kind in ("prefix", "preamble", "renumber", "blank", "note"):
        assert out == right
    if kind == "merge" and pick % (len(right) - 1) < len(right) - 2:
        assert out.count(None) == 3  # the merged two and the one after the gap
    if kind == "merge" and pick % (len(right) - 1) == len(right) - 2:
        assert out == [None] * len(right)  # the last two merged: like a dropped tail
    if kind in ("never", "drop"):
        assert out == [None] * len(right)
