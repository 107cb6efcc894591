"""The ceiling: a bare aiohttp client against the same simulator as the throughput scenario.

20,000 requests, 100 ms latency, 256 in flight, uvloop, no planning, no
checkpoint, nothing written: what this machine and this simulator allow at
all.  Timed from the first request to the last answer (start-up excluded),
so it is the figure to hold mtpipe's sending against; the throughput
scenario's "to output written" also counts start-up, reading and writing.

Run as ``python -m bench.ceiling BASE_URL`` in a process of its own, like
mtpipe is.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from bench.__main__ import Figure, start_sim

N, LATENCY, CONCURRENCY = 20_000, 0.1, 256


async def _bare(base: str) -> tuple[float, float]:
    import aiohttp

    body = json.dumps(
        {
            "model": "qwen-mt-turbo",
            "messages": [{"role": "user", "content": "alpha bravo item number 1"}],
            "translation_options": {"source_lang": "auto", "target_lang": "German"},
        }
    ).encode()
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        todo = iter(range(N))

        async def worker() -> None:
            for _ in todo:
                async with session.post(
                    f"{base}/chat/completions", data=body, headers=headers
                ) as r:
                    await r.read()

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def ceiling(tmp: Path) -> list[Figure]:
    import subprocess

    sim, base = start_sim("--latency", str(LATENCY))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.ceiling", base],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
        )
    finally:
        sim.terminate()
        sim.wait()
    wall, cpu = (float(x) for x in done.stdout.split())
    ideal = CONCURRENCY / LATENCY
    name = "ceiling: bare aiohttp, 20k requests"
    return [
        Figure(name, "of ideal (sending only)", round(100 * N / wall / ideal, 1), "%", ""),
        Figure(name, "CPU per request", round(1000 * cpu / N, 3), "ms", ""),
    ]


def main() -> None:
    import uvloop

    wall, cpu = uvloop.run(_bare(sys.argv[1]))
    print(wall, cpu)


if __name__ == "__main__":
    main()
