"""Who holds a shared slot, and whether it is still alive.

A slot (a lease in ``QuotaState.leases``) names its holder as "host:pid".  A
store that shares a host with some holders can tell which of them have ended
(killed before their attempts settled) and begins with ``begin_here``: their
slots forgotten first; the others' slots lapse after ``LEASE``.
"""

from __future__ import annotations

import os
import socket

from ..processes import alive
from .rules import begin, forget
from .values import Begin, Grant, QuotaState

__all__ = ["begin_here", "gone", "holder"]


def holder() -> str:
    """This process as the holder of its attempts' slots: its host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def gone(state: QuotaState) -> frozenset[str]:
    """The holders of ``state``'s slots that were processes of this host and have ended."""
    if not state.leases:
        return frozenset()
    host = socket.gethostname() + ":"
    pids = {h.removeprefix(host) for _, _, h in state.leases if h.startswith(host)}
    return frozenset(host + pid for pid in pids if pid.isdigit() and not alive(int(pid)))


def begin_here(state: QuotaState, call: Begin) -> tuple[QuotaState, Grant]:
    """``rules.begin`` by a store on this host: the slots of its holders that are gone are
    forgotten first (the only call that counts slots)."""
    return begin(forget(state, gone(state)), call)
