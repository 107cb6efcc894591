"""The pacer on a fake clock: schedules, token correction, AIMD concurrency, pauses, sharing."""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from pipeline.errors import UsageError
from pipeline.pacing import Pacer, Quota, Slot
from pipeline.quotafile import FileQuotaStore

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_000_000.0


class FakeTime:
    """A clock that only moves when the pacer sleeps; every sleep is recorded.

    A sleep moves the clock to its deadline (if it is not past it already), so
    sleepers of two pacers (one per process in real life) do not add up.
    """

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []
        self.during_sleep: Callable[[], None] | None = None  # runs once, before time moves
        self.late = 0.0  # every wake-up comes this much after its deadline

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        hook, self.during_sleep = self.during_sleep, None
        if hook is not None:
            hook()
        deadline = self.now + seconds + self.late
        await anyio.lowlevel.checkpoint()
        self.now = max(self.now, deadline)


def pacer(fake: FakeTime, shared: Path | None = None, **quota: float) -> Pacer:
    quota.setdefault("headroom", 0.0)
    store = None if shared is None else FileQuotaStore(shared)
    return Pacer(Quota(**quota), clock=fake.clock, sleep=fake.sleep, store=store)  # type: ignore[arg-type]


async def starts(p: Pacer, fake: FakeTime, n: int, *, est: int = 0, billed: int = 0) -> list[float]:
    """Acquire ``n`` slots one after another; the clock time each one started at."""
    times = []
    for _ in range(n):
        async with p.slot(est) as slot:
            times.append(fake.now - T0)
            slot.done(billed)
    return times


# --- schedules -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_starts_are_spaced_by_60_over_rpm() -> None:
    fake = FakeTime()
    assert await starts(pacer(fake, rpm=120), fake, 5) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert fake.sleeps == [0.5] * 4


@pytest.mark.anyio
async def test_no_burst_after_an_idle_gap() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=60)
    await starts(p, fake, 1)
    fake.now += 30  # idle: no credit is saved up
    assert await starts(p, fake, 3) == [30.0, 31.0, 32.0]


@pytest.mark.anyio
async def test_headroom_leaves_a_share_of_the_rate_unused() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=600, headroom=0.02)
    await starts(p, fake, 3)
    assert fake.sleeps == pytest.approx([60 / 588] * 2)
    assert p.statistics().rpm_limit == pytest.approx(588)


@pytest.mark.anyio
async def test_small_wake_up_delays_stay_on_the_grid_a_stall_moves_it() -> None:
    fake = FakeTime()
    step = 60 / (60 * 0.98)
    p = pacer(fake, rpm=60, headroom=0.02)
    fake.late = 0.005  # under headroom/2 s: the next start keeps to the grid
    assert await starts(p, fake, 3) == pytest.approx([0.0, step + 0.005, 2 * step + 0.005])
    fake.late = 0.5  # a stalled loop: the grid moves, the next start is a full step later
    assert await starts(p, fake, 2) == pytest.approx([3 * step + 0.5, 4 * step + 1.0])
    assert fake.sleeps == pytest.approx([step, step - 0.005, step - 0.005, step])


@pytest.mark.anyio
async def test_concurrent_waiters_keep_the_spacing() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=60, start_concurrency=8, max_concurrency=8)
    times: list[float] = []

    async def one() -> None:
        async with p.slot(0):
            times.append(fake.now - T0)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)
    assert sorted(times) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.anyio
async def test_token_pacing_and_correction() -> None:
    fake = FakeTime()
    p = pacer(fake, tpm=6000)  # 100 tokens a second
    # estimated 100 each: one a second
    assert await starts(p, fake, 3, est=100, billed=100) == [0.0, 1.0, 2.0]
    # billed twice the estimate: the next start moves one more second
    async with p.slot(100) as slot:
        assert fake.now - T0 == 3.0
        slot.done(200)
    async with p.slot(100) as slot:
        assert fake.now - T0 == 5.0
        slot.done(50)  # half billed: half a second back
    async with p.slot(100):
        assert fake.now - T0 == 5.5


@pytest.mark.anyio
async def test_requests_and_tokens_together_take_the_later_schedule() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=60, tpm=6000)
    assert await starts(p, fake, 3, est=300, billed=300) == [0.0, 3.0, 6.0]  # tokens bind
    assert await starts(p, fake, 3, est=10, billed=10) == [9.0, 10.0, 11.0]  # requests bind


@pytest.mark.anyio
async def test_a_throttled_attempt_is_not_billed() -> None:
    fake = FakeTime()
    p = pacer(fake, tpm=6000)
    async with p.slot(500) as slot:
        slot.throttled("requests", None)  # refused: its 5 s of tokens come back
    assert await starts(p, fake, 1, est=100) == [0.0]


@pytest.mark.anyio
async def test_failed_attempt_corrects_only_what_was_billed() -> None:
    fake = FakeTime()
    p = pacer(fake, tpm=6000)
    async with p.slot(100) as slot:
        slot.failed(300)  # a truncated answer, billed
    async with p.slot(100) as slot:
        assert fake.now - T0 == 3.0
        slot.failed()  # a timeout: billed or not, nobody knows; the estimate stands
    async with p.slot(0):
        assert fake.now - T0 == 4.0


# --- adaptive concurrency ------------------------------------------------------------------


@pytest.mark.anyio
async def test_ramp_up_from_start_to_max_on_successes() -> None:
    fake = FakeTime()
    p = pacer(fake, start_concurrency=2, max_concurrency=5)
    limits = []
    for _ in range(14):
        async with p.slot(0) as slot:
            slot.done(0)
        limits.append(p.statistics().concurrency)
    # +1 after `limit` successes in a row: 2 at 2, 3 at 3, 4 at 4, then capped at 5
    assert limits == [2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5]
    assert pacer(fake, start_concurrency=9, max_concurrency=3).statistics().concurrency == 3


async def throttle(p: Pacer, kind: str, retry_after: float | None = None) -> None:
    async with p.slot(0) as slot:
        slot.throttled(kind, retry_after)


@pytest.mark.anyio
async def test_each_throttle_kind() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=600, tpm=10_000, start_concurrency=16, max_concurrency=16)
    await throttle(p, "requests")  # the first in a minute: halves, keeps the rate
    stats = p.statistics()
    assert (stats.concurrency, stats.rpm_limit, stats.tpm_limit) == (8, 600, 10_000)
    await throttle(p, "requests")  # a second: the rate too
    stats = p.statistics()
    assert (stats.concurrency, stats.rpm_limit, stats.tpm_limit) == (4, 540, 10_000)
    await throttle(p, "burst")  # halves and resets the ramp, keeps the rate
    stats = p.statistics()
    assert (stats.concurrency, stats.rpm_limit, stats.tpm_limit) == (2, 540, 10_000)
    await throttle(p, "tokens")  # the token rate only
    stats = p.statistics()
    assert (stats.concurrency, stats.rpm_limit, stats.tpm_limit) == (2, 540, 8_000)
    await throttle(p, "other")
    await throttle(p, "other")
    await throttle(p, "other")  # never below 1
    stats = p.statistics()
    assert (stats.concurrency, stats.rpm_limit, stats.tpm_limit) == (1, 540, 8_000)
    assert stats.throttled == {"requests": 2, "burst": 1, "tokens": 1, "other": 3}
    assert stats.in_flight == 0 and stats.paused_until is None


@pytest.mark.anyio
async def test_a_rate_cut_holds_then_creeps_back() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=600)
    await throttle(p, "requests")  # a lone one is jitter: no rate cut
    assert p.statistics().rpm_limit == 600
    await throttle(p, "requests")  # within the minute: cuts the rate
    await throttle(p, "requests")  # started after the first cut: cuts again
    assert p.statistics().rpm_limit == pytest.approx(600 * 0.81)
    fake.now += 10
    assert p.statistics().rpm_limit == pytest.approx(600 * 0.81)  # held for 10 s
    fake.now += 20  # then 10% of the full rate back in 20 s
    assert p.statistics().rpm_limit == pytest.approx(600 * 0.91)
    fake.now += 3600
    assert p.statistics().rpm_limit == 600
    for _ in range(30):
        await throttle(p, "requests")
    assert p.statistics().rpm_limit == pytest.approx(600 * 0.25)  # the floor


@pytest.mark.anyio
async def test_throttles_of_one_round_cut_once() -> None:
    fake = FakeTime()
    p = pacer(fake, start_concurrency=8, max_concurrency=8)
    slots: list[Slot] = []
    release = anyio.Event()

    async def one() -> None:
        async with p.slot(0) as slot:
            slots.append(slot)
            await release.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        assert p.statistics().in_flight == 8
        for slot in slots:  # all eight in flight get a 429 together
            slot.throttled("requests", None)
            slot.throttled("requests", None)  # a second word is ignored
        release.set()
    stats = p.statistics()
    assert stats.concurrency == 4 and stats.throttled == {"requests": 8}


def test_unknown_kind_and_bad_quotas() -> None:
    p = Pacer(Quota())
    with pytest.raises(ValueError, match="unknown throttle kind 'teapot'"):
        Slot(p, 0).throttled("teapot", None)
    for bad in ({"rpm": 0}, {"tpm": -1}, {"max_concurrency": 0}, {"headroom": 1.0}):
        with pytest.raises(UsageError):
            Quota(**bad)


# --- pauses --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_lone_requests_throttle_cuts_no_rate_a_minute_later_again() -> None:
    """Paced at the limit, one 429 in a minute is the jitter between a start and the
    server counting it: the pause answers it, a 10% cut held for 30 s would cost more."""
    fake = FakeTime()
    p = pacer(fake, rpm=600)
    await throttle(p, "requests")
    fake.now += 61
    await throttle(p, "requests")  # a minute later: lone again
    assert p.statistics().rpm_limit == 600
    fake.now += 30
    await throttle(p, "requests")  # 30 s after the last: a rate, not jitter
    assert p.statistics().rpm_limit == pytest.approx(540)


@pytest.mark.anyio
async def test_retry_after_pauses_the_next_start() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=600)
    await throttle(p, "requests", retry_after=7.5)
    assert p.statistics().paused_until == T0 + 7.5
    assert await starts(p, fake, 2) == pytest.approx([7.5, 7.5 + 60 / 600])  # a lone one
    assert fake.sleeps[0] == 7.5 and p.statistics().paused_until is None


@pytest.mark.anyio
async def test_a_pause_that_comes_while_waiting_is_respected() -> None:
    fake = FakeTime()
    p = pacer(fake, rpm=60, start_concurrency=2)
    async with p.slot(0) as first:
        # the second waits 1 s for its turn; while it sleeps the first gets a Retry-After 5
        fake.during_sleep = lambda: first.throttled("other", 5.0)
        async with p.slot(0):
            assert fake.now - T0 == 5.0
    assert fake.sleeps == [1.0, 4.0]


# --- concurrency with real tasks -----------------------------------------------------------


@pytest.mark.anyio
async def test_the_limit_bounds_slots_in_flight() -> None:
    p = Pacer(Quota(start_concurrency=3, max_concurrency=3))
    active = 0
    at_start: list[tuple[int, int]] = []  # (in flight, limit) as each slot starts

    async def one(i: int) -> None:
        nonlocal active
        async with p.slot(0) as slot:
            active += 1
            at_start.append((active, p.statistics().concurrency))
            assert p.statistics().in_flight == active
            await anyio.sleep(0.005)
            active -= 1
            if i == 5:
                slot.throttled("other", None)  # 3 -> 1 while others are in flight
            else:
                slot.done(0)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    # never more than the limit; a slot granted just before a cut may still start after it
    assert max(active for active, _ in at_start) == 3, at_start
    assert (1, 1) in at_start  # after the cut, one at a time for a while
    assert p.statistics().in_flight == 0 and p.statistics().concurrency == 3  # ramped back


@pytest.mark.anyio
async def test_halving_holds_back_new_starts_until_enough_finish() -> None:
    p = Pacer(Quota(start_concurrency=4, max_concurrency=4))
    release = anyio.Event()
    entered: list[int] = []

    async def one(i: int) -> None:
        async with p.slot(0):
            entered.append(i)
            await release.wait()

    async with anyio.create_task_group() as tg:
        held = [p.slot(0) for _ in range(4)]
        slots = [await cm.__aenter__() for cm in held]
        slots[0].throttled("other", None)  # limit 2, four in flight
        tg.start_soon(one, 1)
        await held[0].__aexit__(None, None, None)
        await held[1].__aexit__(None, None, None)
        await anyio.wait_all_tasks_blocked()
        assert entered == []  # 2 still in flight: at the limit
        await held[2].__aexit__(None, None, None)
        await anyio.wait_all_tasks_blocked()
        assert entered == [1]
        await held[3].__aexit__(None, None, None)
        release.set()


# --- a quota shared between processes ------------------------------------------------------


@pytest.mark.anyio
async def test_two_pacers_share_one_state_file(tmp_path: Path) -> None:
    fake = FakeTime()
    state = tmp_path / "deep" / "quota.state"
    a, b = pacer(fake, state, rpm=60), pacer(fake, state, rpm=60)
    times = []
    for p in (a, b, a, a, b, b):
        times += await starts(p, fake, 1)
    assert times == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    await throttle(b, "requests", retry_after=10.0)  # a pause reaches the other process
    assert await starts(a, fake, 1) == [16.0]
    assert 0 < state.stat().st_size < 1024  # a small record, rewritten in place


@pytest.mark.anyio
async def test_shared_pacers_waiting_together_interleave(tmp_path: Path) -> None:
    fake = FakeTime()
    state = tmp_path / "quota.state"
    pacers = [pacer(fake, state, rpm=120, start_concurrency=4) for _ in range(2)]
    times: list[float] = []

    async def one(p: Pacer) -> None:
        async with p.slot(0):
            times.append(fake.now - T0)

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(one, pacers[i % 2])
    assert sorted(times) == [i / 2 for i in range(8)]


@pytest.mark.anyio
@pytest.mark.parametrize("content", [b"", b"garbage", b"mtq1" + b"\xff" * 24, b"x" * 100])
async def test_a_missing_or_corrupt_state_file_starts_fresh(tmp_path: Path, content: bytes) -> None:
    fake = FakeTime()
    state = tmp_path / "quota.state"
    state.write_bytes(content)
    p = pacer(fake, state, rpm=60)
    assert await starts(p, fake, 2) == [0.0, 1.0]
    assert 0 < state.stat().st_size < 1024  # a small record, rewritten in place


@pytest.mark.anyio
async def test_a_schedule_from_a_clock_jump_is_reset(tmp_path: Path) -> None:
    fake = FakeTime()
    state = tmp_path / "quota.state"
    await starts(pacer(fake, state, rpm=60), fake, 1)
    fake.now -= 2 * 86_400  # the wall clock went back two days
    assert await starts(pacer(fake, state, rpm=60), fake, 2) == [-2 * 86_400, 1 - 2 * 86_400]


def test_an_unusable_state_path_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="cannot use this file for the shared quota"):
        FileQuotaStore(tmp_path / "file" / "quota.state")


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import anyio
    from pipeline.pacing import Pacer, Quota
    from pipeline.quotafile import FileQuotaStore

    async def main() -> None:
        store = FileQuotaStore(Path(sys.argv[1]))
        pacer = Pacer(Quota(rpm=float(sys.argv[2])), store=store)
        times = []
        for _ in range(int(sys.argv[3])):
            async with pacer.slot(0) as slot:
                times.append(time.time())
                slot.done(0)
        print(json.dumps(times))

    anyio.run(main)
    """
)


def test_two_processes_stay_within_rpm_together(tmp_path: Path) -> None:
    state, rpm, each = tmp_path / "quota.state", 600, 10
    argv = [sys.executable, "-c", CHILD, str(state), str(rpm), str(each)]
    children = [
        subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert [child.returncode for child in children] == [0, 0]
    assert min(map(max, outputs)) > max(map(min, outputs))  # the two ran at the same time
    times = sorted(outputs[0] + outputs[1])
    # on one grid 60/588 s apart, each start off it by its wake-up delay: never more than
    # 600/60 in a sliding second (as the simulator counts) unless delays differ by 20 ms
    assert max(sum(s - 1 < t <= s for t in times) for s in times) <= rpm / 60
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.median(gaps) == pytest.approx(60 / 588, abs=0.003)


# --- end to end: Client + Pacer against the simulator's quota mode --------------------------


@pytest.mark.anyio
async def test_a_paced_client_meets_no_rate_limit() -> None:
    from pipeline.client import Client, make_session
    from pipeline.sim import SimConfig, serve

    config = SimConfig(rpm=600, burst=True, latency=0.05)
    pacer = Pacer(Quota(rpm=600, start_concurrency=2, max_concurrency=8))
    async with serve(config) as url, make_session(concurrency=8) as transport:
        client = Client(transport, base_url=url, api_key="sk-test", pacer=pacer)

        async def one(i: int) -> None:
            body = {"model": "qwen-mt-flash", "messages": [{"role": "user", "content": f"Hi {i}"}]}
            assert (await client.complete(body, est_tokens=50)).attempts == 1

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for i in range(15):
                tg.start_soon(one, i)
        elapsed = anyio.current_time() - started
        async with transport.session.get(url.removesuffix("/v1") + "/_sim/stats") as reply:
            stats = await reply.json()
    assert stats["throttled"] == {} and stats["ok"] == 15
    assert 14 * 60 / 588 <= elapsed < 14 * 60 / 588 + 1.0
    assert pacer.statistics().concurrency > 2 and pacer.statistics().in_flight == 0
