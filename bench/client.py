"""The client alone: `Client.complete` over `make_session` against the throughput simulator.

20,000 requests, 100 ms latency, 256 in flight, uvloop, as the ``ceiling``
scenario sends them, but through mtpipe's own send path (the transport seam,
parsing, classification, the retry wrapper): the client's CPU per request
without planning, checkpoint or output, and its share of the ideal
throughput.  Timed from the first request to the last answer.

Run as ``python -m bench.client BASE_URL`` in a process of its own, like
mtpipe is.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.__main__ import Figure, start_sim

N, LATENCY, CONCURRENCY = 20_000, 0.1, 256


async def _send(base: str) -> tuple[float, float]:
    import anyio

    from pipeline.client import Client, make_session

    todo = iter(range(N))

    async def worker(client: Client) -> None:
        for i in todo:
            body = {
                "model": "qwen-mt-turbo",
                "messages": [{"role": "user", "content": f"alpha bravo item number {i}"}],
                "translation_options": {"source_lang": "auto", "target_lang": "German"},
            }
            outcome = await client.complete(body)
            assert outcome.ok, outcome

    async with make_session(concurrency=CONCURRENCY) as transport:
        client = Client(transport, base_url=base, api_key="bench", timeout=30.0)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENCY):
                tg.start_soon(worker, client)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def client(tmp: Path) -> list[Figure]:
    sim, base = start_sim("--latency", str(LATENCY))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.client", base],
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
    name = "client: Client over make_session, 20k requests"
    return [
        Figure(name, "of ideal (sending only)", round(100 * N / wall / ideal, 1), "%", ">= 90"),
        Figure(name, "CPU per request", round(1000 * cpu / N, 3), "ms", "<= 0.3"),
    ]


def main() -> None:
    import anyio

    wall, cpu = anyio.run(_send, sys.argv[1], backend_options={"use_uvloop": True})
    print(wall, cpu)


if __name__ == "__main__":
    main()
