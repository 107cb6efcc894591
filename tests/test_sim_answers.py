"""The simulator's answers (sim/answers.py) without the server: seeded, order-free faults."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.sim.answers import Answerer
from pipeline.sim.api import Job
from pipeline.sim.pseudo import pseudo_translate
from pipeline.sim.settings import SimConfig

TEXTS = [f"Open {{file}} number {i} now" for i in range(12)]
PACK = "\n".join(f"[{n}] Line {n} of {{count}} files" for n in range(1, 6))
FAULTS = (("placeholders", 0.3), ("echo", 0.2), ("merge", 0.5))


def _job(text: str, target: str = "German") -> Job:
    return Job("qwen-mt-flash", text, target, (), 10, None, False, False)


@given(st.permutations([*TEXTS, PACK]), st.integers(0, 2**32))
def test_the_same_texts_get_the_same_answers_in_any_arrival_order(
    order: list[str], seed: int
) -> None:
    config = SimConfig(seed=seed, faults=FAULTS)
    first, second = Answerer(config), Answerer(config)
    inline = {text: first.answer(_job(text), faulty=False) for text in [*TEXTS, PACK]}
    shuffled = {text: second.answer(_job(text), faulty=False) for text in order}
    assert shuffled == inline


def test_without_answer_faults_every_segment_is_translated_and_nothing_counted() -> None:
    answerer = Answerer(SimConfig(faults=(("500", 0.5),)))
    answer = answerer.answer(_job(PACK), faulty=False)
    lines = PACK.split("\n")
    expected = [line[:4] + pseudo_translate(line[4:], "German", terms=()) for line in lines]
    assert answer.text == "\n".join(expected)
    assert (answer.corrupted, answer.pack) == ((), None)


def test_a_marked_segment_breaks_its_placeholder_the_first_time_only() -> None:
    answerer = Answerer(SimConfig())
    text = "Save {name} now [[sim:breakph]]"
    broken, again = (answerer.answer(_job(text), faulty=False) for _ in range(2))
    assert broken.corrupted == ("placeholders",) and "{name}" not in broken.text
    assert again.corrupted == () and again.text == pseudo_translate(text, "German", terms=())


def test_a_faulty_request_is_answered_right_and_draws_no_answer_fault() -> None:
    """A request that got a request fault (a cut answer, a hang) is not also corrupted."""
    answerer = Answerer(SimConfig(faults=(("placeholders", 1.0),)))
    answer = answerer.answer(_job(TEXTS[0]), faulty=True)
    assert answer.text == pseudo_translate(TEXTS[0], "German", terms=())
    assert answer.corrupted == ()
