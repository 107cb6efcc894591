"""Who holds a shared slot, and whether it is still alive.

A slot (a lease in ``QuotaState.leases``) names its holder as "host:pid".  A
store that shares a host with some holders can tell which of them have ended
(killed before their attempts settled) and ``rules.forget`` their slots at
once; the others' slots lapse after ``LEASE``.
"""

from __future__ import annotations

import os
import socket

from ..processes import alive
from .values import QuotaState

__all__ = ["gone", "holder"]


def holder() -> str:
    """This process as the holder of its attempts' slots: its host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def gone(state: QuotaState) -> frozenset[str]:
    """The holders of ``state``'s slots that were processes of this host and have ended."""
    host = socket.gethostname() + ":"
    pids = {h.removeprefix(host) for _, _, h in state.leases if h.startswith(host)}
    return frozenset(host + pid for pid in pids if pid.isdigit() and not alive(int(pid)))
