"""Run benchmark scenarios and print a table of figures with the machine's details.

Each scenario starts the simulator in its own process, runs the real
``mtpipe`` command in another, and measures that child: wall time from
start to output written, CPU time (resource.getrusage of the child) and
peak RSS.  Results are also written to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.sim import spawn as start_sim  # the simulator in a process of its own

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    scenario: str
    metric: str
    value: float
    unit: str
    target: str


def run_child(argv: list[str], *, stderr: Path | None = None) -> tuple[float, float, float, int]:
    """Run argv; return (wall s, cpu s, peak RSS MiB, exit code) of that child alone.

    ``stderr``: a file to write the child's standard error to.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        # a fresh translation cache per child: runs never answer each other (a first-time
        # user's figures) and a benchmark never writes the real ~/.cache
        cache = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cache-"))
        env = dict(os.environ, ROUTESCOPE_API_KEY="bench", XDG_CACHE_HOME=cache)
        err = stack.enter_context(stderr.open("w")) if stderr is not None else None
        code = subprocess.run(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err
        ).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024, code


def write_cells(path: Path, n: int) -> None:
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([i, f"{words[i % 12]} {words[(i // 12) % 12]} item number {i}"])


def throughput(tmp: Path, runs: int = 5) -> list[Figure]:
    """20,000 distinct short cells, one per request, 100 ms latency, 256 in flight.

    Run ``runs`` times from a fresh checkpoint: this VM's speed varies by a few
    per cent from run to run, so the median is the figure, with the range.
    """
    n, latency, concurrency = 20_000, 0.1, 256
    src = tmp / "cells.csv"
    write_cells(src, n)
    sim, base = start_sim("--latency", str(latency))
    log = tmp / "throughput.log"
    out = tmp / "out.csv"
    argv = translate_argv(src, out, base, "--concurrency", str(concurrency), *PACK_OFF)
    samples = []
    try:
        for _ in range(runs):
            for stale in tmp.glob("out.csv*"):  # the output, its checkpoint and report
                stale.unlink()
            started = time.time()
            wall, cpu, rss, code = run_child([*argv, "--log-format", "json"], stderr=log)
            written = event_time(log) - started  # the finish event follows the output's rename
            ready = event_time(log, "start") - started  # read, planned, about to send
            samples.append((written, wall, cpu, rss, code, ready))
    finally:
        sim.terminate()
        sim.wait()
    samples.sort()
    written, wall, cpu, rss, code, ready = samples[len(samples) // 2]
    ideal = concurrency / latency
    share = sorted(round(100 * n / s[0] / ideal, 1) for s in samples)
    name = "throughput 20k cells"
    return [
        Figure(name, "exit codes", max(s[4] for s in samples), "", "0"),
        Figure(name, "to output written", round(written, 2), "s", f"ideal {n / ideal:.2f}"),
        Figure(name, "to process exit", round(wall, 2), "s", ""),
        Figure(name, "start-up (to the start event)", round(ready, 2), "s", ""),
        Figure(name, "cells/s", round(n / written, 1), "cells/s", f"ideal {ideal:.0f}"),
        Figure(
            name,
            f"of ideal (median of {runs})",
            share[len(share) // 2],
            "%",
            ">= 80 (issue 2), >= 90 (issue 7)",
        ),
        Figure(name, f"of ideal (range of {runs})", share[0], f"- {share[-1]} %", ""),
        Figure(name, "client CPU per request", round(1000 * cpu / n, 3), "ms", "<= 0.4"),
        Figure(name, "peak RSS", round(rss, 1), "MiB", ""),
    ]


PACK_OFF = ["--pack", "off"]


def event_time(log: Path, event: str = "finish") -> float:
    """The wall-clock time of the run's first ``event`` (``--log-format json``)."""
    for line in log.read_text().splitlines():
        if line.startswith("{") and json.loads(line).get("event") == event:
            return float(json.loads(line)["time"])
    raise SystemExit(f"{log}: the run logged no {event} event:\n{log.read_text()[-2000:]}")


def translate_argv(src: Path, out: Path, base: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "translate",
        str(src),
        "--to",
        "de",
        "-o",
        str(out),
        "--base-url",
        base,
        "--no-progress",
        *extra,
    ]


def memory(tmp: Path) -> list[Figure]:
    """Peak RSS for 100,000 and 1,000,000 short rows (simulator at 0 latency), then a resume."""
    sim, base = start_sim()
    figures = []
    try:
        peaks = {}
        for n in (100_000, 1_000_000):
            src = tmp / f"rows{n}.csv"
            write_cells(src, n)
            wall, _, rss, code = run_child(
                translate_argv(src, tmp / f"out{n}.csv", base, "--concurrency", "32")
            )
            peaks[n] = rss
            figures += [
                Figure(f"memory {n:,} rows", "exit code", code, "", "0"),
                Figure(f"memory {n:,} rows", "wall", round(wall, 1), "s", ""),
                Figure(
                    f"memory {n:,} rows",
                    "peak RSS",
                    round(rss, 1),
                    "MiB",
                    "<= 1024" if n == 1_000_000 else "",
                ),
            ]
        ratio = peaks[1_000_000] / peaks[100_000]
        figures.append(Figure("memory", "RSS 1M / RSS 100k", round(ratio, 2), "x", "<= 3"))
        figures += _rerun(tmp / "rows1000000.csv", tmp / "out1000000.csv", base)
    finally:
        sim.terminate()
        sim.wait()
    return figures


def resume(tmp: Path) -> list[Figure]:
    """A finished 1,000,000-cell job run again (the 'memory' scenario's last figure alone)."""
    sim, base = start_sim()
    src, out = tmp / "rows1000000.csv", tmp / "out1000000.csv"
    try:
        write_cells(src, 1_000_000)
        wall, _, _, code = run_child(translate_argv(src, out, base, "--concurrency", "32"))
        figures = [
            Figure("first run 1,000,000 cells", "exit code", code, "", "0"),
            Figure("first run 1,000,000 cells", "wall", round(wall, 1), "s", ""),
        ]
        return figures + _rerun(src, out, base)
    finally:
        sim.terminate()
        sim.wait()


def _rerun(src: Path, out: Path, base: str) -> list[Figure]:
    """The same command again over a finished job: read, key, look up, write; no request."""
    name = "resume 1,000,000 done cells"
    before = requests_seen(base)
    wall, _, _, code = run_child(translate_argv(src, out, base))
    return [
        Figure(name, "exit code", code, "", "0"),
        Figure(name, "wall", round(wall, 1), "s", "<= 15"),
        Figure(name, "requests sent", requests_seen(base) - before, "", "0"),
    ]


def requests_seen(base: str) -> int:
    import httpx

    stats = httpx.get(base.removesuffix("/v1") + "/_sim/stats", timeout=10).json()
    return int(stats["requests"])


def startup(tmp: Path) -> list[Figure]:
    """`mtpipe --help`, best of five (heavy imports are deferred)."""
    best = min(run_child([sys.executable, "-m", "pipeline", "--help"])[0] for _ in range(5))
    return [Figure("start-up", "mtpipe --help", round(best, 3), "s", "<= 0.5")]


def _quota(tmp: Path) -> list[Figure]:
    from bench.quota import quota  # bench.quota imports this module: import it late

    return quota(tmp)


def _ceiling(tmp: Path) -> list[Figure]:
    from bench.ceiling import ceiling

    return ceiling(tmp)


def _client(tmp: Path) -> list[Figure]:
    from bench.client import client

    return client(tmp)


def _packing(tmp: Path) -> list[Figure]:
    from bench.packing import packing

    return packing(tmp)


def _ray(tmp: Path) -> list[Figure]:
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        return [Figure("ray", "skipped", 0, "", "pip install 'mtpipe[ray]'")]
    from bench.ray import ray_scenario  # imports this module: import it late

    return ray_scenario(tmp)


SCENARIOS: dict[str, Callable[[Path], list[Figure]]] = {
    "throughput": throughput,
    "ceiling": _ceiling,
    "client": _client,
    "memory": memory,
    "resume": resume,
    "startup": startup,
    "quota": _quota,
    "packing": _packing,
    "ray": _ray,
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} cores {cpu}, {mem:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    names = parser.parse_args().scenarios or list(SCENARIOS)
    print(machine())
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            figures += SCENARIOS[name](Path(tmp))
    width = max(len(f.scenario) + len(f.metric) for f in figures) + 3
    print(f"{'scenario / metric':<{width}} {'value':>12}  target")
    for f in figures:
        print(f"{f.scenario + ' / ' + f.metric:<{width}} {f.value:>12} {f.unit:<8} {f.target}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps({"machine": machine(), "figures": [asdict(f) for f in figures]}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
