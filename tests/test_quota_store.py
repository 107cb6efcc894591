"""Pacer and Budget through the QuotaStore seam: shared AIMD, the per-second window, money."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.budget import Budget
from pipeline.models import Outcome, Request, Usage
from pipeline.pacing import Pacer, Quota
from pipeline.quota import Cut, MemoryQuotaStore, QuotaState, QuotaStore
from pipeline.quotafile import FileQuotaStore, _decode, _encode
from tests.test_pacing import T0, FakeTime, starts

ROOT = Path(__file__).resolve().parent.parent


def two(fake: FakeTime, store: QuotaStore, **quota: float) -> tuple[Pacer, Pacer]:
    """Two pacers (two processes in real life) on one store."""
    quota.setdefault("headroom", 0.0)
    made = [
        Pacer(Quota(**quota), clock=fake.clock, sleep=fake.sleep, store=store)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    return made[0], made[1]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_a_throttle_in_one_process_halves_the_limit_of_both(
    tmp_path: Path, kind: str
) -> None:
    fake = FakeTime()
    store: QuotaStore = MemoryQuotaStore() if kind == "memory" else FileQuotaStore(tmp_path / "q")
    a, b = two(fake, store, start_concurrency=4, max_concurrency=16)
    await starts(a, fake, 4)  # four successes in a row at limit 4: the shared limit grows
    await starts(b, fake, 1)  # b learns it on its next call
    assert a.statistics().concurrency == b.statistics().concurrency == 5
    async with b.slot(0) as slot:
        slot.throttled("requests", None)
    await starts(a, fake, 1)
    assert a.statistics().concurrency == b.statistics().concurrency == 2
    assert a.statistics().rpm_limit is None and b.statistics().throttled["requests"] == 1


@pytest.mark.anyio
async def test_a_throttle_from_before_the_last_cut_does_not_cut_again() -> None:
    fake = FakeTime()
    a, b = two(fake, MemoryQuotaStore(), start_concurrency=8, max_concurrency=8)
    async with a.slot(0) as first, b.slot(0) as second:  # both started in generation 0
        first.throttled("burst", None)
    second.throttled("burst", None)
    await starts(a, fake, 1)
    assert a.statistics().concurrency == 4  # halved once, not twice


@pytest.mark.anyio
async def test_a_late_wake_up_in_one_process_holds_the_next_start_of_the_other() -> None:
    """rpm 60: one start per 1 s window.  a wakes 0.3 s late; b's start, on the grid
    at 1.0, waits until 1 s after a really started."""
    fake = FakeTime()
    store = MemoryQuotaStore()
    a, b = two(fake, store, rpm=60)
    await starts(a, fake, 1)  # t=0, books the grid from here
    fake.late = 0.3
    entered: list[float] = []

    async def one(p: Pacer) -> None:
        async with p.slot(0):
            entered.append(fake.now - T0)

    await one(a)  # booked 1.0, woke 1.3
    fake.late = 0.0
    await one(b)  # booked 2.0 would be on time, but the log says a started at 1.3
    assert entered == pytest.approx([1.3, 2.3])


@pytest.mark.anyio
async def test_a_hold_reaches_the_other_process() -> None:
    fake = FakeTime()
    a, b = two(fake, MemoryQuotaStore(), rpm=60)
    async with a.slot(0) as slot:
        a.hold(5.0)
        slot.done(0)
    assert await starts(b, fake, 1) == [5.0]


def _request(cost_tokens: int) -> Request:
    return Request(pieces=(), body={}, est_prompt_tokens=cost_tokens, est_completion_tokens=0)


def _billed(tokens: int) -> Outcome:
    return Outcome(completion=None, attempts=1, billed=Usage(prompt_tokens=tokens))


PRICES = (1.0, 1.0)  # USD per million tokens: 1000 tokens cost 0.001


@pytest.mark.anyio
async def test_two_budgets_on_one_store_spend_one_limit() -> None:
    store = MemoryQuotaStore()
    budgets = [Budget(0.0105, "qwen-mt-flash", prices=PRICES, store=store) for _ in range(2)]
    admitted = 0
    for i in range(30):
        budget = budgets[i % 2]
        if await budget.admit(_request(1000)):
            admitted += 1
            await budget.settle(_request(1000), _billed(800))  # billed under the estimate
    assert store.state.reserved == pytest.approx(0.0)
    assert store.state.spent <= 0.0105
    assert admitted == 12  # 0.0008 billed each until 12 x 0.0008 + 0.001 no longer fits
    assert all(b.exhausted for b in budgets)


@pytest.mark.anyio
async def test_in_flight_estimates_count_against_the_limit() -> None:
    budget = Budget(0.0025, "qwen-mt-flash", prices=PRICES)
    assert await budget.admit(_request(1000)) and await budget.admit(_request(1000))
    assert not await budget.admit(_request(1000)) and budget.exhausted
    await budget.settle(_request(1000), _billed(200))
    assert await budget.admit(_request(1000))  # 0.0002 billed + 0.001 in flight + 0.001


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import anyio
    from pipeline.budget import Budget
    from pipeline.models import Outcome, Request, Usage
    from pipeline.quotafile import FileQuotaStore

    async def main() -> None:
        budget = Budget(float(sys.argv[2]), "qwen-mt-flash", prices=(1.0, 1.0),
                        store=FileQuotaStore(Path(sys.argv[1])))
        request = Request(pieces=(), body={}, est_prompt_tokens=1000)
        admitted = 0

        async def one() -> None:
            nonlocal admitted
            while await budget.admit(request):
                admitted += 1
                await anyio.sleep(0.002)  # in flight
                await budget.settle(request, Outcome(None, 1, Usage(prompt_tokens=1000)))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)
        print(admitted)

    anyio.run(main)
    """
)


def test_two_processes_with_one_budget_never_spend_more_than_it(tmp_path: Path) -> None:
    state, limit = tmp_path / "quota.state", 0.2005  # room for 200 requests of 0.001
    argv = [sys.executable, "-c", CHILD, str(state), str(limit)]
    children = [
        subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    counts = [int(child.communicate(timeout=60)[0]) for child in children]
    assert [child.returncode for child in children] == [0, 0]
    assert all(counts) and sum(counts) == 200, counts  # together exactly the budget, no more
    money = json.loads(state.read_bytes())
    assert money["spent"] == pytest.approx(0.2) and money["reserved"] == pytest.approx(0.0)


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
cuts = st.builds(Cut, st.floats(0.25, 1.0), finite)
states = st.builds(
    QuotaState,
    requests=finite,
    tokens=finite,
    paused_until=finite,
    starts=st.lists(st.tuples(st.integers(0, 2**40), finite), max_size=30).map(tuple),
    ticket=st.integers(0, 2**40),
    concurrency=st.integers(0, 1000),
    successes=st.integers(0, 1000),
    generation=st.integers(0, 2**40),
    rpm_cut=cuts,
    tpm_cut=cuts,
    spent=st.floats(0, 1e6),
    reserved=st.floats(0, 1e6),
)


@given(states)
def test_the_state_file_record_round_trips(state: QuotaState) -> None:
    assert _decode(_encode(state)) == state


@pytest.mark.parametrize("raw", [b"", b"garbage", b'{"version": 1}', b'{"version": 2}', b"[]"])
def test_an_unreadable_record_reads_as_a_fresh_state(raw: bytes) -> None:
    assert _decode(raw) == QuotaState()
