"""PackSizer: slow start, halving after 3 misaligned packs, off, probes with backoff."""

from __future__ import annotations

from pipeline.models import Usage
from pipeline.packsize import PackSizer

BILL = Usage(100, 50)


def test_grows_to_the_ceiling_while_packs_align() -> None:
    sizer = PackSizer(ceiling=100, model="m")
    sizes = []
    for _ in range(6):
        sizes.append(sizer.size("ja"))
        assert sizer.observe("ja", segments=sizes[-1], unmatched=0, billed=BILL) is None
    assert sizes == [8, 16, 32, 64, 100, 100]


def test_three_misaligned_in_a_row_halve_then_probe_with_doubling_backoff() -> None:
    sizer = PackSizer(ceiling=100, start=8, probe=4, waste=1.0, model="m")
    notes = [sizer.observe("ja", segments=8, unmatched=1, billed=BILL) for _ in range(3)]
    assert notes == [None, None, "m: pack size for ja now 4 after 3 misaligned packs"]
    sizer.observe("ja", segments=4, unmatched=0, billed=BILL)  # a clean pack breaks the streak
    notes = [sizer.observe("ja", segments=8, unmatched=1, billed=BILL) for _ in range(3)]
    assert notes[-1] == "m: pack size for ja now 4 after 3 misaligned packs"  # grew to 8 first
    for _ in range(2):
        for _ in range(3):
            sizer.observe("ja", segments=4, unmatched=1, billed=BILL)
    assert sizer.languages["ja"].events[-1] == "m: packing off for ja after 3 misaligned packs"
    waits = []
    for _ in range(3):  # probes that fail: the wait doubles
        wait = 0
        while sizer.size("ja") == 1:
            sizer.observe("ja", segments=1, unmatched=0, billed=BILL)
            wait += 1
        waits.append(wait)
        sizer.observe("ja", segments=2, unmatched=2, billed=BILL)
    assert waits == [4, 8, 16]
    while sizer.size("ja") == 1:
        sizer.observe("ja", segments=1, unmatched=0, billed=BILL)
    assert sizer.observe("ja", segments=2, unmatched=0, billed=BILL) == (
        "m: pack size for ja now 2 after a probe pack aligned"
    )
    assert sizer.size("ja") == 2 and sizer.size("de") == 8  # per language


def test_the_waste_budget_turns_packing_off_at_once() -> None:
    sizer = PackSizer(ceiling=100)
    for _ in range(3):
        sizer.observe("de", segments=8, unmatched=0, billed=BILL)
    note = sizer.observe("de", segments=32, unmatched=32, billed=BILL)
    assert note == "packing off for de after the waste budget is spent"
    assert sizer.size("de") == 1


def test_packs_sent_before_any_answer_are_bounded_by_the_run() -> None:
    sizer = PackSizer(ceiling=100, expected=130)  # a bet of 13: a pack counts one more
    assert sizer.size("de") == 8
    sizer.handed("de", 8)
    assert sizer.size("de") == 3  # what is left of the bet
    sizer.handed("de", 3)
    assert sizer.size("de") == 1  # spent: singles until a pack gives a segment
    sizer.handed("de", 1)  # a single is no bet
    assert sizer.size("ja") == 8  # per language
    sizer.observe("de", segments=8, unmatched=8, billed=BILL)
    assert sizer.size("de") == 1  # a pack that gave nothing: still a bet
    sizer.observe("de", segments=3, unmatched=1, billed=BILL)
    assert sizer.size("de") == 8  # one segment given: packing works on this server
    sizer.handed("de", 8)
    assert sizer.size("de") == 8


def test_a_run_too_small_for_a_pack_of_two_sends_singles_and_never_probes() -> None:
    sizer = PackSizer(ceiling=100, expected=29)
    sizes = []
    for _ in range(100):
        sizes.append(sizer.size("de"))
        sizer.observe("de", segments=1, unmatched=0, billed=BILL)
    assert set(sizes) == {1}
