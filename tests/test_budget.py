"""Budget (``--max-cost``) through the QuotaStore seam: admit reserves, settle spends.

Each test runs on the in-process store and on the flock file, and reads the
money back from the store itself, so what the budget decided is what any other
process sharing the store sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.budget import Budget
from pipeline.config import cost_usd
from pipeline.models import Outcome, Request, Usage
from pipeline.quota import MemoryQuotaStore, QuotaState, QuotaStore
from pipeline.quotafile import FileQuotaStore, _decode

PRICES = (1.0, 1.0)  # USD per million tokens: 1000 tokens cost 0.001
MODEL = "qwen-mt-flash"


def _request(tokens: int) -> Request:
    return Request(pieces=(), body={}, est_prompt_tokens=tokens, est_completion_tokens=0)


def _billed(prompt: int, completion: int = 0) -> Outcome:
    return Outcome(completion=None, attempts=1, billed=Usage(prompt, completion))


class Store:
    """A QuotaStore of one kind and a way to read its money back."""

    def __init__(self, kind: str, path: Path) -> None:
        self.path = path
        self.store: QuotaStore = MemoryQuotaStore() if kind == "memory" else FileQuotaStore(path)

    def handle(self) -> QuotaStore:
        """The store, or another handle on its file (another process in real life)."""
        return self.store if isinstance(self.store, MemoryQuotaStore) else FileQuotaStore(self.path)

    def state(self) -> QuotaState:
        if isinstance(self.store, MemoryQuotaStore):
            return self.store.state
        return _decode(self.path.read_bytes())


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return Store(request.param, tmp_path / "quota.state")


@pytest.mark.anyio
async def test_admit_reserves_the_estimate_and_settle_spends_what_was_billed(store: Store) -> None:
    budget = Budget(0.01, MODEL, prices=PRICES, store=store.store)
    assert await budget.admit(_request(1000))
    assert store.state().reserved == pytest.approx(0.001) and store.state().spent == 0.0
    await budget.settle(_request(1000), _billed(2500, 500))  # billed over the estimate
    money = store.state()
    assert money.reserved == pytest.approx(0.0)
    assert money.spent == pytest.approx(cost_usd(MODEL, 2500, 500, prices=PRICES))
    assert not budget.exhausted


@pytest.mark.anyio
async def test_a_budget_admits_until_billed_plus_in_flight_would_pass_the_limit(
    store: Store,
) -> None:
    budget = Budget(0.00575, MODEL, prices=PRICES, store=store.store)
    in_flight = [_request(1000) for _ in range(10)]
    admitted = [await budget.admit(r) for r in in_flight]
    assert admitted == [True] * 5 + [False] * 5 and budget.exhausted
    assert store.state().reserved == pytest.approx(0.005)
    for request in in_flight[:5]:
        await budget.settle(request, _billed(500))  # each billed half its estimate
    assert store.state().spent == pytest.approx(0.0025)
    assert store.state().reserved == pytest.approx(0.0)
    assert [await budget.admit(_request(1000)) for _ in range(4)] == [True, True, True, False]


@pytest.mark.anyio
async def test_budgets_on_handles_of_one_store_share_one_limit(store: Store) -> None:
    budgets = [Budget(0.0035, MODEL, prices=PRICES, store=store.handle()) for _ in range(3)]
    admitted = [await budgets[i % 3].admit(_request(1000)) for i in range(6)]
    assert admitted == [True, True, True, False, False, False]
    await budgets[0].settle(_request(1000), _billed(1000))
    assert store.state().spent == pytest.approx(0.001)
    assert store.state().reserved == pytest.approx(0.002)


@pytest.mark.anyio
async def test_a_budget_without_a_limit_never_touches_the_store(store: Store) -> None:
    budget = Budget(None, MODEL, prices=PRICES, store=store.store)
    assert all([await budget.admit(_request(10**9)) for _ in range(3)])
    await budget.settle(_request(10**9), _billed(10**9))
    assert store.state() == QuotaState() and not budget.exhausted
