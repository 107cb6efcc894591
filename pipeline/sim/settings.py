"""The simulator's settings: ``SimConfig`` (latency, faults, quota mode) and the fault table.

Three groups of faults, each drawn at most once per draw: request faults (per
request, ``random.Random(seed)`` in arrival order), answer faults (per
segment of a successful answer, hashed) and pack faults (per pack answer,
hashed; ``packs.py``). ``parse_faults`` reads ``--faults``; ``thresholds``
turns one group into the cumulative table a draw picks from.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .packs import PACK_FAULTS

__all__ = ["ANSWER_FAULTS", "FAULT_KINDS", "SimConfig", "parse_faults", "thresholds"]

FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "reset", "hang", "badjson", "length")
FAULT_KINDS += ("envelope", "moderation", "billing")
ANSWER_FAULTS: tuple[str, ...] = ("placeholders", "echo", "dropterms", "script")  # per segment
_GROUPS = (FAULT_KINDS, ANSWER_FAULTS, PACK_FAULTS)  # per request, segment, pack answer


@dataclass(frozen=True, slots=True)
class SimConfig:
    latency: float = 0.0  # seconds added to every response
    seed: int = 0  # request faults: random.Random(seed) in arrival order; QA faults: hashed
    faults: tuple[tuple[str, float], ...] = ()  # (kind, probability); see _check_faults
    hang_seconds: float = 3600.0  # how long a "hang" fault sleeps before answering
    overhead_tokens: int = 45  # hidden prompt tokens billed per request
    rpm: float | None = None  # requests per sliding minute; None = unlimited
    tpm: float | None = None  # billed tokens per sliding minute; None = unlimited
    per_second: bool = True  # with rpm: also at most ceil(rpm/60) per sliding second
    burst: bool = False  # with rpm: the burst limit (see server.py)

    def __post_init__(self) -> None:
        if min(self.latency, self.hang_seconds, self.overhead_tokens) < 0:
            raise ValueError("latency, hang_seconds and overhead_tokens must be >= 0")
        for name, rate in (("rpm", self.rpm), ("tpm", self.tpm)):
            if rate is not None and not rate > 0:
                raise ValueError(f"{name} must be > 0, not {rate}")
        if self.burst and self.rpm is None:
            raise ValueError("the burst limit needs rpm")
        _check_faults(self.faults)


def _check_faults(faults: tuple[tuple[str, float], ...]) -> None:
    """Known kinds, each once, within 0..1; request faults (per request) and answer
    faults (per segment of a successful answer) each add up to at most 1."""
    kinds = [kind for kind, _ in faults]
    known = (*FAULT_KINDS, *ANSWER_FAULTS, *PACK_FAULTS)
    for kind, probability in faults:
        if kind not in known:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(known)}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {kind}: probability {probability} is not within 0..1")
        if kinds.count(kind) > 1:
            raise ValueError(f"fault {kind} is given twice")
    for group in _GROUPS:
        chosen = tuple((kind, p) for kind, p in faults if kind in group)
        if sum(p for _, p in chosen) > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to more than 1: {chosen}")


def parse_faults(spec: str) -> tuple[tuple[str, float], ...]:
    """``"429=0.1,500=0.05,reset=0.02"`` -> ``(("429", 0.1), ...)``; ValueError if malformed."""
    faults: list[tuple[str, float]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, value = item.partition("=")
        try:
            faults.append((kind.strip(), float(value)))
        except ValueError:
            raise ValueError(
                f"bad fault {item!r} in {spec!r}: expected KIND=PROBABILITY such as 429=0.1"
            ) from None
    _check_faults(tuple(faults))
    return tuple(faults)


def thresholds(
    faults: tuple[tuple[str, float], ...], group: tuple[str, ...]
) -> list[tuple[float, str]]:
    """(cumulative probability, kind) of the faults of ``group``: one draw picks at most one."""
    chosen = [(kind, p) for kind, p in faults if kind in group]
    limits = itertools.accumulate(p for _, p in chosen)
    return list(zip(limits, (kind for kind, _ in chosen), strict=True))
