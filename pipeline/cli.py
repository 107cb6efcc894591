"""The command line: parse, call one function, turn PipelineError into one line and an exit code.

Exit codes: 0 every cell translated; 3 finished with failed or untranslated
cells; 2 bad usage or input; 4 the provider rejected the configuration
(key, model, billing); 75 another run holds the checkpoint; 1 anything
unexpected; 130 interrupted (the output is written); 141 standard output closed by
its reader (``| head``).  Each PipelineError carries its own code.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import PipelineError, UsageError
from .flags import add_options, given_values
from .options import build_job, load_job_file

__all__ = ["main"]

EXIT_OK, EXIT_UNEXPECTED = 0, 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a command whose reader left


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if rest and not getattr(args, "passthrough", False):
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        args.rest = rest
        return int(args.func(args))
    except KeyboardInterrupt:
        print("mtpipe: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:  # the one place every error becomes a line and an exit code
        error = _unwrap(exc)
        if isinstance(error, SystemExit | KeyboardInterrupt):
            raise
        if isinstance(error, PipelineError):
            print(f"mtpipe: error: {error}", file=sys.stderr)
            return error.exit_code
        if isinstance(error, BrokenPipeError):  # `mtpipe estimate ... | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
            return EXIT_BROKEN_PIPE
        if os.environ.get("MTPIPE_DEBUG"):
            raise
        print(
            f"mtpipe: unexpected error: {type(error).__name__}: {error} "
            "(set MTPIPE_DEBUG=1 for a traceback and please report it)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _unwrap(exc: BaseException) -> BaseException:
    """The first PipelineError inside (nested) exception groups, else the first leaf."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = [_unwrap(e) for e in exc.exceptions]
    return next((e for e in leaves if isinstance(e, PipelineError)), leaves[0])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="mtpipe",
        description="Translate the text columns of tables through Qwen MT models, resumably.",
        epilog="Exit codes: 0 ok, 3 some cells failed, 2 bad usage or input, "
        "4 provider rejected key/model/billing or endpoint unreachable, "
        "75 checkpoint in use, 130 interrupted (output written), "
        "141 stdout closed by its reader, 1 unexpected.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_translate(sub)
    _add_run(sub)
    _add_status(sub)
    _add_estimate(sub)
    _add_serve_sim(sub)
    return parser


def _subparser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, **kwargs)
    return parser


def _add_translate(sub: Any) -> None:
    p = _subparser(
        sub,
        "translate",
        help="translate the text columns of a CSV, TSV, Parquet, JSONL or XLSX file, "
        "or a localization catalog (PO, XLIFF, Android, Apple, ARB, i18next)",
        usage="mtpipe translate INPUT --to LANGS [options]",
        description="Translate INPUT's text columns into each --to language. "
        "Re-running the same command resumes: finished cells are never requested again.",
    )
    add_options(p)
    p.set_defaults(func=_translate)


def _add_run(sub: Any) -> None:
    p = _subparser(
        sub,
        "run",
        help="run a job file (jobs/NAME.toml), e.g. from cron",
        description="Run the translation a TOML job file describes. Keys are the long option "
        'names of \'mtpipe translate\' with underscores (concurrency = 8, to = ["de", "ja"]); '
        "relative paths resolve against the job file's folder.",
    )
    p.add_argument("job", type=Path, help="job file")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the job file, repeatable: --set concurrency=4",
    )
    p.set_defaults(func=_run)


def _add_status(sub: Any) -> None:
    p = _subparser(
        sub,
        "status",
        help="what a checkpoint holds: counts, failures by reason, tokens and cost",
        description="Read a checkpoint (or the one a job file names) without locking it: "
        "units by status, failures grouped by reason with examples, tokens billed and "
        "estimated cost.",
    )
    p.add_argument("target", type=Path, help="job file (.toml) or checkpoint file")
    p.add_argument("--examples", type=int, default=3, help="examples per reason (default 3)")
    p.set_defaults(func=_status)


def _add_estimate(sub: Any) -> None:
    p = _subparser(
        sub,
        "estimate",
        help="rows, cells, requests, tokens and cost a run or a job file would take, "
        "without any request",
        usage="mtpipe estimate INPUT_OR_JOB [--to LANGS] [options]",
        description="Plan a run as 'translate' would (deduplication, the checkpoint, packing, "
        "chunking) and print what it would send, with the cost per model from the price "
        "table. INPUT may be a job file; options override its keys.",
    )
    add_options(p)
    p.set_defaults(func=_estimate)


def _add_serve_sim(sub: Any) -> None:
    p = _subparser(
        sub,
        "serve-sim",
        add_help=False,  # --help and every flag go to the simulator's own parser
        help="run the offline OpenAI-compatible simulator (--help for its options)",
        description="Serve /v1/chat/completions on loopback with pseudo-translations, real "
        "usage accounting, optional latency, faults and quota limits.",
    )
    p.set_defaults(func=_serve_sim, passthrough=True)


def _translate(args: argparse.Namespace) -> int:
    return _execute(_given(args))


def _run(args: argparse.Namespace) -> int:
    return _execute(load_job_file(args.job, args.sets), name=str(args.job))


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """Values of the options given on the command line; a .toml INPUT is a job file below them."""
    values = given_values(args)
    if str(values.get("input", "")).endswith(".toml"):
        values = load_job_file(Path(values.pop("input"))) | values
    return values


def _estimate(args: argparse.Namespace) -> int:
    from .endpoint import estimate

    values = _given(args)
    job = build_job(values | {"sim": True}, env=os.environ)  # no key needed to plan
    job = dataclasses.replace(job, sim=bool(values.get("sim")))  # its cache entries
    figures = estimate(job)
    costs = figures.pop("cost_usd")
    assert isinstance(costs, dict)
    for name, value in figures.items():
        print(f"{name:<20} {value}")
    for model, cost in costs.items():
        mark = "  <- this job" if model == figures["model"] else ""
        print(f"cost {model:<24} ${cost:.4f}{mark}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from .checkpoint import Checkpoint
    from .config import cost_usd

    path = args.target
    if path.suffix == ".toml":
        values = load_job_file(path)
        path = build_job(values | {"sim": True}, env=os.environ).checkpoint
    with Checkpoint(path, must_exist=True) as checkpoint:
        summary = checkpoint.summary(examples=args.examples)
    print(f"checkpoint {path}")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    print(f"units      {counts or 'none'}")
    if summary.pieces:
        print(f"pieces     {summary.pieces} finished pieces of long texts not finished yet (kept)")
    for model, (prompt, completion) in summary.tokens.items():
        cost = cost_usd(model, prompt, completion)
        print(
            f"billed     {model or '?'}: {prompt} prompt + {completion} completion tokens "
            f"(~${cost:.4f})"
        )
    for failure in summary.failures:
        print(f"failed     {failure.reason} ({failure.status}): {failure.units} units")
        for lang, source, message in failure.examples:
            print(f"  - [{lang}] {source[:70]!r}" + (f": {message[:100]}" if message else ""))
    return EXIT_OK


def _execute(values: dict[str, Any], *, name: str = "") -> int:
    if values.get("engine") == "ray":
        return _ray_engine(values, name)
    gc.disable()  # the heavy imports (polars, aiohttp) make long-lived objects only:
    try:  # collecting while they load costs a tenth of the start-up
        # aiohttp's import spends ~40 ms loading the CA store in C code that releases
        # the GIL: in a thread it overlaps polars' import (runner's own waits for it).
        threading.Thread(target=_import_quietly, args=("aiohttp",), daemon=True).start()
        from . import endpoint
        from .report import Events
    finally:
        gc.enable()

    job = build_job(values, env=os.environ)
    job = dataclasses.replace(job, name=name) if name else job
    events = Events(fmt=job.log_format, bar=job.progress)
    return endpoint.run(job, handle_signals=True, events=events).exit_code


def _ray_engine(values: dict[str, Any], name: str) -> int:
    from .catalogs import is_catalog

    job = build_job(values, env=os.environ)
    # INPUT may be a directory, a glob or a URI of part files (pipeline.ray.inputs reads
    # their formats); only a file or an explicit --format can name a catalog
    if (job.input_format or job.input.is_file()) and is_catalog(job):
        raise UsageError(f"{job.input}: --engine ray translates tables; leave it out for a catalog")
    if importlib.util.find_spec("ray") is None:
        raise UsageError("--engine ray needs Ray: pip install 'mtpipe[ray]'")
    from .ray.engine import run_job

    job = dataclasses.replace(job, name=name) if name else job
    return run_job(job, key_file=values.get("api_key_file"))


def _import_quietly(name: str) -> None:
    """Import ``name`` ahead of need; a failure is left to the import that needs it."""
    with contextlib.suppress(ImportError):
        importlib.import_module(name)


def _serve_sim(args: argparse.Namespace) -> int:
    from . import sim

    return sim.main(list(args.rest), prog="mtpipe serve-sim")
