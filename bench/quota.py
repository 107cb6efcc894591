"""Quota scenario: how much of a 600 requests/minute quota a run uses, and how many 429s it meets.

The simulator runs in its own process with ``--rpm 600 --burst`` (the
per-second limit on), answering after 0.2 s.  Two ways to drive it:

    quota(tmp)         the real command, ``mtpipe translate ... --rpm 600`` (one cell per
                       request): one process, then 2 and 4 at once with ``--shared-quota``
    quota_client(tmp)  the library alone: Client + Pacer and a pool of workers, in this process

Figures: share of the quota used (requests accepted / (600 x minutes of
wall time)), share of requests answered 429 (from the simulator's stats),
wall time.  Targets: >= 95% used, < 1% 429.

    python -m bench.quota [cli|client] [--cells N] [--runs 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import anyio
import httpx

from bench.__main__ import PACK_OFF, ROOT, Figure, start_sim, translate_argv, write_cells

RPM = 600
LATENCY = 0.2
CELLS = 1300  # about two minutes at 600 a minute
CONCURRENCY = 16


def _sim_stats(base: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(base.removesuffix("/v1") + "/_sim/stats", timeout=10).json()
    return stats


def _stop(sim: subprocess.Popen[str]) -> None:
    sim.terminate()
    sim.wait()
    if sim.stdout is not None:
        sim.stdout.close()


def _figures(name: str, stats: dict[str, Any], wall: float, code: int) -> list[Figure]:
    throttled = sum(stats["throttled"].values())
    accepted = stats["requests"] - throttled
    used = accepted / (RPM * wall / 60)
    refused = throttled / max(1, stats["requests"])
    by_code = sorted(stats["throttled"].items())
    return [
        Figure(name, "exit code", code, "", "0"),
        Figure(name, "quota used", round(100 * used, 1), "%", ">= 95"),
        Figure(name, "answered 429", round(100 * refused, 2), "%", "< 1"),
        *(Figure(name, f"429 {reason}", n, "", "") for reason, n in by_code),
        Figure(name, "requests", stats["requests"], "", f"{accepted} accepted"),
        Figure(name, "wall time", round(wall, 1), "s", f"ideal {60 * accepted / RPM:.1f}"),
    ]


def quota(tmp: Path, cells: int = CELLS, runs: tuple[int, ...] = (1, 2, 4)) -> list[Figure]:
    """The real command, told ``--rpm 600``, against a simulator limited to 600 a minute:
    alone, then 2 and 4 processes at once with ``--shared-quota`` (``cells`` in all)."""
    return [f for n in runs for f in _together(tmp / f"runs{n}", cells, n)]


def _together(tmp: Path, cells: int, runs: int) -> list[Figure]:
    tmp.mkdir(parents=True, exist_ok=True)
    sim, base = start_sim("--rpm", str(RPM), "--burst", "--latency", str(LATENCY))
    env = dict(os.environ, ROUTESCOPE_API_KEY="bench", XDG_CACHE_HOME=str(tmp / "cache"))
    try:
        argvs = []
        for i in range(runs):
            src = tmp / f"quota{i}.csv"
            write_cells(src, cells // runs)
            argv = translate_argv(src, tmp / f"quota{i}.out.csv", base, "--rpm", str(RPM))
            argvs.append([*argv, "--concurrency", str(CONCURRENCY), "--shared-quota", *PACK_OFF])
        started = time.perf_counter()
        children = [
            subprocess.Popen(a, cwd=ROOT, env=env, stdout=DEVNULL, stderr=DEVNULL) for a in argvs
        ]
        code = max(child.wait() for child in children)
        wall = time.perf_counter() - started
        stats = _sim_stats(base)
    finally:
        _stop(sim)
    name = f"quota {cells} cells, {runs} x mtpipe --rpm {RPM}" + (" --shared-quota" * (runs > 1))
    return _figures(name, stats, wall, code)


async def _drive(base: str, cells: int) -> None:
    from pipeline.client import Client, make_session
    from pipeline.pacing import Pacer, Quota

    pacer = Pacer(Quota(rpm=RPM, max_concurrency=CONCURRENCY))
    send, receive = anyio.create_memory_object_stream[str](CONCURRENCY)

    async def work(texts: Any, client: Client) -> None:
        async with texts:
            async for text in texts:
                body = {"model": "qwen-mt-turbo", "messages": [{"role": "user", "content": text}]}
                await client.complete(body, est_tokens=60)

    async with make_session(concurrency=CONCURRENCY) as transport:
        client = Client(transport, base_url=base, api_key="bench", pacer=pacer, timeout=30)
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENCY):
                tg.start_soon(work, receive.clone(), client)
            receive.close()
            async with send:
                for i in range(cells):
                    await send.send(f"Translate into German.\n\nalpha bravo item number {i}")


def quota_client(tmp: Path, cells: int = CELLS) -> list[Figure]:
    """Client + Pacer + workers in this process, against a simulator limited to 600 a minute."""
    sim, base = start_sim("--rpm", str(RPM), "--burst", "--latency", str(LATENCY))
    try:
        started = time.perf_counter()
        anyio.run(_drive, base, cells)
        wall = time.perf_counter() - started
        stats = _sim_stats(base)
    finally:
        _stop(sim)
    return _figures(f"quota {cells} requests, Client + Pacer", stats, wall, 0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quota")
    parser.add_argument("how", nargs="?", choices=["cli", "client"], default="cli")
    parser.add_argument("--cells", type=int, default=CELLS)
    parser.add_argument("--runs", type=int, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.how == "cli":
            figures = quota(Path(tmp), args.cells, tuple(args.runs))
        else:
            figures = quota_client(Path(tmp), args.cells)
    for f in figures:
        print(f"{f.scenario} / {f.metric}: {f.value} {f.unit}  (target {f.target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
