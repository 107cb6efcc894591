"""The QuotaStore of processes on one machine: the state in a file under ``flock``.

Each call reads the state (a few hundred bytes of JSON, more with many requests in
flight), applies the rule from
``quota`` and writes it back while holding an exclusive ``fcntl.flock``, so
processes using one key and model see every change of each other.  A call
takes tens of microseconds on ext4, so it runs in the event loop (a worker
thread hop alone costs ~55 us).  A file that is new, unreadable or from another
version reads as a fresh state.  ``shared_path`` is the one place the path is
chosen: one file per (base URL, model, key), named by a hash, so the key is
never written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from .errors import UsageError
from .quota import (
    Begin,
    Booking,
    Charge,
    Cut,
    Grant,
    QuotaState,
    Settlement,
    View,
    begin_here,
    rules,
)

__all__ = ["FileQuotaStore", "shared_path"]

_VERSION = 4
_T = TypeVar("_T")
_A = TypeVar("_A")


def shared_path(base_url: str, model: str, api_key: str | None) -> Path:
    """The state file of one key and model, under ``$XDG_CACHE_HOME/mtpipe``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    ident = "\x1f".join((base_url, model, api_key or ""))
    digest = hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()
    return cache / "mtpipe" / f"quota-{digest}.state"


def _decode(raw: bytes) -> QuotaState:
    try:
        data = json.loads(raw)
        if data.pop("version") != _VERSION:
            return QuotaState()
        starts = tuple((int(k), float(t)) for k, t in data.pop("starts"))
        leases = tuple((int(k), float(t), str(h)) for k, t, h in data.pop("leases"))
        rpm_cut, tpm_cut = Cut(**data.pop("rpm_cut")), Cut(**data.pop("tpm_cut"))
        return QuotaState(starts=starts, leases=leases, rpm_cut=rpm_cut, tpm_cut=tpm_cut, **data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return QuotaState()


def _encode(state: QuotaState) -> bytes:
    data: dict[str, Any] = {"version": _VERSION, **asdict(state)}
    return json.dumps(data, separators=(",", ":")).encode()


class FileQuotaStore:
    """A QuotaStore in ``path``: see the module docstring."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._transact(lambda state, _: (state, None), None)
        except OSError as exc:
            raise UsageError(
                f"{path}: cannot use this file for the shared quota ({exc}); pass another path"
            ) from exc

    def _transact(self, change: Callable[[QuotaState, _A], tuple[QuotaState, _T]], arg: _A) -> _T:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes
            raw = os.pread(fd, os.fstat(fd).st_size, 0)  # all of it, however many slots
            old = _decode(raw)
            new, result = change(old, arg)
            if new != old or not raw:
                data = _encode(new)
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
            return result
        finally:
            os.close(fd)

    async def reserve(self, booking: Booking) -> Grant:
        return self._transact(rules.reserve, booking)

    async def begin(self, begin: Begin) -> Grant:
        return self._transact(begin_here, begin)  # a killed holder's slots come free

    async def settle(self, settlement: Settlement) -> View:
        return self._transact(rules.settle, settlement)

    async def admit(self, charge: Charge) -> bool:
        return self._transact(rules.admit, charge)

    async def spend(self, charge: Charge) -> None:
        self._transact(rules.spend, charge)
