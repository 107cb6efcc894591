"""Quota scenario: how much of a 600 requests/minute quota a run uses, and how many 429s it meets.

The simulator runs in its own process with ``--rpm 600 --burst`` (the
per-second limit on), answering after 0.2 s.  Two ways to drive it:

    quota(tmp)         the real command, ``mtpipe translate ... --rpm 600`` (one cell per request)
    quota_client(tmp)  the library alone: Client + Pacer and a pool of workers, in this process

Figures: share of the quota used (requests accepted / (600 x minutes of
wall time)), share of requests answered 429 (from the simulator's stats),
wall time.  Targets: >= 95% used, < 1% 429.

    python -m bench.quota [cli|client] [--cells N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from bench.__main__ import PACK_OFF, Figure, run_child, start_sim, translate_argv, write_cells

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


def quota(tmp: Path, cells: int = CELLS) -> list[Figure]:
    """The real command, told ``--rpm 600``, against a simulator limited to 600 a minute."""
    src = tmp / "quota.csv"
    write_cells(src, cells)
    sim, base = start_sim("--rpm", str(RPM), "--burst", "--latency", str(LATENCY))
    try:
        argv = translate_argv(
            src,
            tmp / "quota.out.csv",
            base,
            "--concurrency",
            str(CONCURRENCY),
            "--rpm",
            str(RPM),
            *PACK_OFF,
        )
        wall, _, _, code = run_child(argv)
        stats = _sim_stats(base)
    finally:
        _stop(sim)
    return _figures(f"quota {cells} cells, mtpipe --rpm {RPM}", stats, wall, code)


async def _drive(base: str, cells: int) -> None:
    from pipeline.client import Client, make_http_client
    from pipeline.pacing import Pacer, Quota

    pacer = Pacer(Quota(rpm=RPM, max_concurrency=CONCURRENCY))
    send, receive = anyio.create_memory_object_stream[str](CONCURRENCY)

    async def work(texts: Any, client: Client) -> None:
        async with texts:
            async for text in texts:
                body = {"model": "qwen-mt-turbo", "messages": [{"role": "user", "content": text}]}
                await client.complete(body, est_tokens=60)

    async with make_http_client(concurrency=CONCURRENCY, timeout=30) as http:
        client = Client(http, base_url=base, api_key="bench", pacer=pacer, timeout=30)
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
    args = parser.parse_args()
    run = quota if args.how == "cli" else quota_client
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp), args.cells)
    for f in figures:
        print(f"{f.scenario} / {f.metric}: {f.value} {f.unit}  (target {f.target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
