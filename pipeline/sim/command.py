"""``python -m pipeline.sim``: the simulator as a command, and ``spawn`` to start one.

``main`` parses the options into a ``SimConfig`` and serves until SIGINT or
SIGTERM; ``spawn`` starts that command in a process of its own and returns it
once it prints the address it listens on (tests, benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from .packs import PACK_FAULTS
from .server import new_loop, serve
from .settings import ANSWER_FAULTS, FAULT_KINDS, SimConfig, parse_faults

__all__ = ["main", "spawn"]

_LISTENING = "mtpipe simulator listening on "
_FAULTS_HELP = (  # every kind, from the table that checks them (as on branch gaps)
    f"KIND=P,... such as 429=0.1,echo=0.03,merge=0.2; per request: "
    f"{', '.join(FAULT_KINDS)}; per answer segment: {', '.join(ANSWER_FAULTS)}; "
    f"per pack answer: {', '.join(PACK_FAULTS)}"
)


async def _serve_until_signal(config: SimConfig, host: str, port: int) -> None:
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(config, host=host, port=port) as url:
        print(f"{_LISTENING}{url}", flush=True)
        await stop.wait()


def spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m pipeline.sim --port 0 ARGS`` in a process of its own (tests, benchmarks):
    the process and its base URL, once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if _LISTENING not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, line.split(_LISTENING, 1)[1].strip()


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Offline OpenAI-compatible simulator of the Qwen MT Chat Completions API.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to bind (default 8000; 0 picks a free one)")
    add("--latency", type=float, default=0.0, help="seconds added to every response")
    add("--faults", default="", help=_FAULTS_HELP)
    add("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    add("--hang-seconds", type=float, default=3600.0, help="how long a hang fault lasts")
    add("--overhead-tokens", type=int, default=45, help="hidden prompt tokens per request")
    add("--rpm", type=float, help="requests per minute, then HTTP 429 limit_requests")
    add("--tpm", type=float, help="billed tokens per minute, then HTTP 429 insufficient_quota")
    add("--burst", action="store_true", help="with --rpm: 429 limit_burst_rate on a fast ramp")
    add(
        "--no-per-second",
        dest="per_second",
        action="store_false",
        help="with --rpm: do not also limit each second to rpm/60",
    )
    return parser


def _config(args: argparse.Namespace) -> SimConfig:
    """The parsed options as a ``SimConfig``; ValueError if they do not make one."""
    return SimConfig(
        args.latency,
        args.seed,
        parse_faults(args.faults),
        args.hang_seconds,
        args.overhead_tokens,
        rpm=args.rpm,
        tpm=args.tpm,
        per_second=args.per_second,
        burst=args.burst,
    )


def main(argv: list[str] | None = None, *, prog: str = "python -m pipeline.sim") -> int:
    """``python -m pipeline.sim`` (or ``prog``): serve until SIGINT or SIGTERM, then exit 0."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        config = _config(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(_serve_until_signal(config, args.host, args.port))
    except OSError as exc:
        print(f"mtpipe simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
