"""Pacer and Budget through the QuotaStore seam: shared AIMD, the per-second window, money."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.budget import Budget
from pipeline.models import Outcome, Request, Usage
from pipeline.pacing import Pacer, Quota
from pipeline.quota import (
    LEASE,
    POLL,
    Begin,
    Booking,
    Charge,
    Cut,
    MemoryQuotaStore,
    QuotaState,
    QuotaStore,
    Settlement,
)
from pipeline.quota.rules import begin
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
@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_the_concurrency_limit_counts_the_attempts_of_every_process(
    tmp_path: Path, kind: str
) -> None:
    """Limit 2 shared: while one process holds two attempts, the other's waits (asking
    again every POLL) until one settles; a cancelled attempt frees its slot too."""
    fake = FakeTime()
    store: QuotaStore = MemoryQuotaStore() if kind == "memory" else FileQuotaStore(tmp_path / "q")
    a, b = two(fake, store, start_concurrency=2, max_concurrency=2)
    started: list[Pacer] = []
    release, free = anyio.Event(), anyio.Event()
    free.set()

    async def hold(p: Pacer, until: anyio.Event) -> None:
        async with p.slot(0) as slot:
            started.append(p)
            await until.wait()
            slot.done(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, a, release)
        tg.start_soon(hold, a, release)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(hold, b, free)
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        assert started == [a, a]  # b asks again every POLL while a holds both slots
        assert sum(x == pytest.approx(POLL) for x in fake.sleeps) >= 10
        release.set()
    assert started == [a, a, b]
    assert {a.statistics().concurrency, b.statistics().concurrency} == {2}
    with anyio.move_on_after(0):  # cancelled while it holds a slot: it settles as "none"
        async with a.slot(0):
            await anyio.sleep(1)
    async with anyio.create_task_group() as tg:
        for p in (a, b):
            tg.start_soon(hold, p, free)
    assert not (store.state if isinstance(store, MemoryQuotaStore) else _decode(
        (tmp_path / "q").read_bytes())).leases  # fmt: skip


@pytest.mark.anyio
async def test_the_slots_of_a_process_that_died_come_free_when_their_lease_lapses() -> None:
    store, quota, now = MemoryQuotaStore(), Quota(max_concurrency=1, start_concurrency=1), T_WALL
    dead = await store.reserve(Booking(now, 0, quota))
    assert (await store.begin(Begin(now, dead.ticket, quota))).start == now  # never settles
    other = await store.reserve(Booking(now, 0, quota))
    assert (await store.begin(Begin(now + 1, other.ticket, quota))).start == now + 1 + POLL
    lapsed = now + LEASE + 0.001
    assert (await store.begin(Begin(lapsed, other.ticket, quota))).start == lapsed


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


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import anyio
    from pipeline.pacing import Pacer, Quota
    from pipeline.quotafile import FileQuotaStore

    async def main() -> None:
        quota = Quota(max_concurrency=2, start_concurrency=2)
        pacer = Pacer(quota, store=FileQuotaStore(Path(sys.argv[1])))

        async def hold() -> None:
            async with pacer.slot(0):
                await anyio.sleep(3600)  # a request that never answers

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            tg.start_soon(hold)
            while pacer.statistics().in_flight < 2:
                await anyio.sleep(0.01)
            print("held", flush=True)

    anyio.run(main)
    """
)


def test_the_slots_of_a_killed_process_come_free_at_once_on_its_host(tmp_path: Path) -> None:
    """A real kill -9 of a process holding both slots of the shared limit: while it lives no
    other process starts; once it is dead the next start finds its pid gone and goes at
    once (not after the 180 s lease)."""
    path = tmp_path / "quota.state"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        assert {h for _, _, h in _decode(path.read_bytes()).leases} == {
            f"{socket.gethostname()}:{child.pid}"
        }

        async def start_one(seconds: float) -> bool:
            pacer = Pacer(Quota(max_concurrency=2, start_concurrency=2), store=FileQuotaStore(path))
            with anyio.move_on_after(seconds):
                async with pacer.slot(0) as slot:
                    slot.done(0)
                    return True
            return False

        assert not anyio.run(start_one, 0.3)  # both slots held by the live process
    finally:
        child.kill()
        child.communicate()
    assert anyio.run(start_one, 5.0)
    assert not _decode(path.read_bytes()).leases


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
cuts = st.builds(Cut, st.floats(0.25, 1.0), finite)
states = st.builds(
    QuotaState,
    requests=finite,
    tokens=finite,
    paused_until=finite,
    starts=st.lists(st.tuples(st.integers(0, 2**40), finite), max_size=30).map(tuple),
    leases=st.lists(st.tuples(st.integers(0, 2**40), finite, st.text()), max_size=30).map(tuple),
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


def test_a_state_of_many_slots_reads_back_whole_from_the_file(tmp_path: Path) -> None:
    """3,000 requests in flight (--concurrency 3000): a record far over 64 KiB is read
    whole, so a start still finds every slot held (a cut record would read as fresh)."""
    path = tmp_path / "q"
    store, quota = FileQuotaStore(path), Quota(max_concurrency=3000, start_concurrency=3000)
    leases = tuple((k, T_WALL + 100, "elsewhere:1") for k in range(1, 3001))
    path.write_bytes(_encode(QuotaState(concurrency=3000, leases=leases, ticket=3001)))
    assert len(path.read_bytes()) > 1 << 16
    assert store._transact(begin, Begin(T_WALL, 3001, quota)).start == T_WALL + POLL


@pytest.mark.parametrize("raw", [b"", b"garbage", b'{"version": 3}', b'{"version": 4}', b"[]"])
def test_an_unreadable_record_reads_as_a_fresh_state(raw: bytes) -> None:
    assert _decode(raw) == QuotaState()


# --- every QuotaStore answers alike: the in-process store, the file, two handles on one file


T_WALL = 1.7e9  # wall-clock seconds, as the pacer passes them


def _handles(kind: str, path: Path) -> list[QuotaStore]:
    """One store, or two handles on one state file (two processes in real life)."""
    if kind == "memory":
        return [MemoryQuotaStore()]
    if kind == "file":
        return [FileQuotaStore(path)]
    return [FileQuotaStore(path), FileQuotaStore(path)]


def _state(kind: str, stores: list[QuotaStore], path: Path) -> QuotaState:
    store = stores[0]
    return store.state if isinstance(store, MemoryQuotaStore) else _decode(path.read_bytes())


Call = tuple[Any, ...]
_outcomes = st.sampled_from(["done", "failed", "none", "requests", "tokens", "burst", "other"])
_dt = st.floats(0.0, 5.0)
_calls = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), _dt, st.integers(0, 5000)),
        st.tuples(st.just("begin"), _dt, st.integers(0, 50)),
        st.tuples(
            st.just("settle"), _dt, st.integers(-500, 500), _outcomes, st.integers(0, 2),
            st.sampled_from([0.0, 0.5, 3.0]),
        ),
        st.tuples(st.just("admit"), st.floats(0.0, 0.5), st.floats(0.0, 2.0)),
        st.tuples(st.just("spend"), st.floats(0.0, 0.5), st.floats(0.0, 0.5)),
    ),
    max_size=40,
)  # fmt: skip
_quotas = st.builds(
    Quota,
    rpm=st.one_of(st.none(), st.floats(1.0, 6000.0)),
    tpm=st.one_of(st.none(), st.floats(100.0, 1e6)),
    max_concurrency=st.integers(1, 32),
    start_concurrency=st.integers(1, 32),
    headroom=st.floats(0.0, 0.5),
)


async def _drive(stores: list[QuotaStore], quota: Quota, calls: list[Call]) -> list[object]:
    """Each call on the next handle in turn; every answer, in order."""
    now, tickets, generation, answers = T_WALL, [0], 0, list[object]()
    for index, call in enumerate(calls):
        store, kind = stores[index % len(stores)], call[0]
        if kind in ("reserve", "begin", "settle"):
            now += call[1]
        if kind == "reserve":
            grant = await store.reserve(Booking(now, call[2], quota))
            tickets.append(grant.ticket)
            answers.append(grant)
        elif kind == "begin":
            answers.append(await store.begin(Begin(now, tickets[call[2] % len(tickets)], quota)))
        elif kind == "settle":
            _, _, tokens, outcome, back, pause = call
            settlement = Settlement(
                now, quota, tokens, outcome, max(0, generation - back), now + pause if pause else 0
            )
            view = await store.settle(settlement)
            generation = view.generation
            answers.append(view)
        elif kind == "admit":
            answers.append(await store.admit(Charge(call[1], call[2])))
        else:
            answers.append(await store.spend(Charge(call[1], reserved=call[2])))
    return answers


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(quota=_quotas, calls=_calls)
def test_every_store_answers_a_sequence_of_calls_alike(
    tmp_path_factory: pytest.TempPathFactory, quota: Quota, calls: list[Call]
) -> None:
    """The same calls on the in-process store, the flock file and two handles on one file:
    the same answers, and the same state at the end."""
    folder = tmp_path_factory.mktemp("quota")
    results = []
    for kind in ("memory", "file", "two handles"):
        stores = _handles(kind, folder / f"{kind}.state")
        answers = anyio.run(_drive, stores, quota, calls)
        results.append((answers, _state(kind, stores, folder / f"{kind}.state")))
    assert results[1] == results[0]
    assert results[2] == results[0]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory", "file", "two handles"])
async def test_every_store_keeps_the_contract(tmp_path: Path, kind: str) -> None:
    """The rules of the module docstring, call by call, on each implementation."""
    stores = _handles(kind, tmp_path / "q.state")
    turn = itertools.cycle(stores)
    quota, now = Quota(rpm=60, max_concurrency=8, start_concurrency=2, headroom=0.0), T_WALL
    first = await next(turn).reserve(Booking(now, 10, quota))
    second = await next(turn).reserve(Booking(now, 10, quota))
    assert (first.start, first.view.concurrency) == (now, 2)
    assert second.start == pytest.approx(now + 1.0)  # rpm 60: one start a second
    assert (await next(turn).begin(Begin(now, first.ticket, quota))).start == now
    woke_early = await next(turn).begin(Begin(now + 0.2, second.ticket, quota))
    assert woke_early.start == pytest.approx(now + 1.0)  # the 1 s window holds one start
    for _ in range(2):  # as many successes in a row as the limit: it grows by one
        view = await next(turn).settle(Settlement(now, quota, outcome="done"))
    assert view.concurrency == 3
    cut = await next(turn).settle(Settlement(now, quota, outcome="burst", generation=0))
    late = await next(turn).settle(Settlement(now, quota, outcome="burst", generation=0))
    assert (cut.concurrency, cut.generation) == (1, 1) and late == cut  # once per generation
    await next(turn).settle(Settlement(now, quota, pause_until=now + 30))
    assert (await next(turn).reserve(Booking(now, 10, quota))).start == now + 30
    assert await next(turn).admit(Charge(0.6, 1.0))
    assert not await next(turn).admit(Charge(0.6, 1.0))  # 0.6 reserved + 0.6 > 1.0
    await next(turn).spend(Charge(0.5, reserved=0.6))  # billed under its estimate
    assert await next(turn).admit(Charge(0.5, 1.0)) and not await next(turn).admit(
        Charge(0.01, 1.0)
    )
    state = _state(kind, stores, tmp_path / "q.state")
    assert (state.spent, state.reserved) == (0.5, 0.5)
