"""The command line: parse, call one function, turn PipelineError into one line and an exit code.

Exit codes: 0 every cell translated; 3 finished with failed or untranslated
cells; 2 bad usage or input; 4 the provider rejected the configuration
(key, model, billing); 1 anything unexpected; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .config import DEFAULT_BASE_URL, OUTPUT_PARAMS, Job, resolve_language
from .errors import PipelineError, UsageError

__all__ = ["main"]

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_FAILED_CELLS, EXIT_PROVIDER = 0, 1, 2, 3, 4


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
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
        prog="mtpipe",
        description="Translate the text columns of tables through Qwen MT models, resumably.",
        epilog="Exit codes: 0 ok, 3 some cells failed, 2 bad usage or input, "
        "4 provider rejected key/model/billing, 1 unexpected.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_translate(sub)
    _add_serve_sim(sub)
    return parser


def _add_translate(sub: Any) -> None:
    p = sub.add_parser(
        "translate",
        help="translate the text columns of a CSV, TSV, Parquet or JSONL file",
        description="Translate INPUT's text columns into each --to language. "
        "Re-running the same command resumes: finished cells are never requested again.",
    )
    p.add_argument("input", type=Path, help="CSV, TSV, Parquet or JSONL file")
    p.add_argument("--to", required=True, help="target languages, comma-separated: de,ja,zh-TW")
    p.add_argument("-o", "--output", type=Path, help="output file (default: INPUT.translated.EXT)")
    p.add_argument(
        "--column",
        action="append",
        default=[],
        help="text column (repeatable; "
        "JSONL: dotted path such as meta.body); default: the column named 'text'",
    )
    p.add_argument("--from", dest="source", default="auto", help="source language (default auto)")
    p.add_argument("--model", default="qwen-mt-turbo", help="model (default qwen-mt-turbo)")
    p.add_argument(
        "--template",
        type=Path,
        help="user-message template file with {text}, "
        "{source_lang}, {target_lang} and other columns as {name}",
    )
    p.add_argument(
        "--style",
        choices=("prompt", "options"),
        default="prompt",
        help="prompt: instruction in the message; options: DashScope "
        "translation_options (default prompt)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=16,
        help="requests in flight at most (default 16)",
    )
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: beside the output)")
    p.add_argument("--report", type=Path, help="JSON run report (default: beside the output)")
    p.add_argument(
        "--base-url", help=f"API base URL (default: $ROUTESCOPE_BASE_URL or {DEFAULT_BASE_URL})"
    )
    p.add_argument(
        "--api-key-file",
        type=Path,
        help="read the API key from this file (default: $ROUTESCOPE_API_KEY)",
    )
    p.add_argument("--sim", action="store_true", help="use the built-in offline simulator")
    p.add_argument("--format", dest="input_format", help="input format: csv, tsv, parquet, jsonl")
    p.add_argument("--output-format", help="output format (default: from the output extension)")
    p.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    p.add_argument("--encoding", help="input text encoding, e.g. latin-1 (default utf-8)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-tokens", type=_positive_int)
    p.add_argument("--stream", action="store_true", help="stream responses (not needed for batch)")
    p.add_argument(
        "--enable-thinking",
        choices=("true", "false"),
        help="chat models: thinking mode (default false for translation)",
    )
    p.add_argument("--response-format", choices=("text", "json_object"))
    p.add_argument("--user", help="end-user id sent for audit")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt (default 120)")
    p.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=8,
        help="attempts per request for transient errors (default 8)",
    )
    p.add_argument(
        "--chunk-chars",
        type=_positive_int,
        default=6000,
        help="longest piece sent in one request, in characters (default 6000)",
    )
    p.add_argument(
        "--pack",
        choices=("auto", "on", "off"),
        default="auto",
        help="pack short cells into one request as numbered lines (default auto: on for "
        "qwen-mt models)",
    )
    p.add_argument(
        "--pack-segments",
        type=_positive_int,
        default=100,
        help="most cells in one packed request (default 100)",
    )
    p.add_argument(
        "--pack-tokens",
        type=_positive_int,
        default=2000,
        help="most estimated source tokens in one packed request (default 2000)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="also re-send cells that failed permanently last time",
    )
    p.add_argument(
        "--no-escape-formulas",
        dest="escape_formulas",
        action="store_false",
        help="do not neutralise =, +, -, @ at the start of translated CSV cells",
    )
    p.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar (it is off anyway when stderr is not a terminal)",
    )
    p.set_defaults(func=_translate)


def _add_serve_sim(sub: Any) -> None:
    p = sub.add_parser(
        "serve-sim",
        help="run the offline OpenAI-compatible simulator",
        description="Serve /v1/chat/completions on loopback with pseudo-"
        "translations, real usage accounting and optional faults.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to each response")
    p.add_argument("--faults", default="", help="e.g. 429=0.1,500=0.05,reset=0.02,hang=0.01")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_serve_sim)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def _translate(args: argparse.Namespace) -> int:
    from . import runner  # heavy imports (polars, httpx) only when translating

    job = job_from_args(args)
    with _endpoint(job) as job:
        report = runner.run(job, handle_signals=True)
    print(report.summary(), file=sys.stderr)
    return EXIT_OK if report.failed == 0 else EXIT_FAILED_CELLS


@contextlib.contextmanager
def _endpoint(job: Job) -> Iterator[Job]:
    """The job as given, or pointed at an in-process simulator when ``job.sim``."""
    if not job.sim:
        yield job
        return
    from .sim import SimConfig, SimThread

    with SimThread(SimConfig()) as base_url:
        yield dataclasses.replace(job, base_url=base_url, api_key="sim")


def job_from_args(args: argparse.Namespace) -> Job:
    from .writer import output_path_for

    source = args.input
    output = args.output or output_path_for(source)
    if output.resolve() == source.resolve():
        raise UsageError(f"{output}: the output would overwrite the input; pass another -o")
    targets = tuple(resolve_language(t) for t in args.to.split(",") if t.strip())
    if not targets:
        raise UsageError("--to needs at least one language, e.g. --to de,ja")
    source_lang = "auto" if args.source == "auto" else resolve_language(args.source).name
    api_key = _api_key(args)
    return Job(
        input=source,
        output=output,
        checkpoint=args.checkpoint or output.with_name(output.name + ".checkpoint.sqlite"),
        report=args.report or output.with_name(output.name + ".report.json"),
        targets=targets,
        columns=tuple(args.column),
        model=args.model,
        source_lang=source_lang,
        style=args.style,
        template=args.template,
        params=_params(args, output_changing=True),
        extra=_params(args, output_changing=False),
        input_format=args.input_format,
        output_format=args.output_format,
        delimiter=args.delimiter,
        encoding=args.encoding,
        base_url=(args.base_url or os.environ.get("ROUTESCOPE_BASE_URL") or DEFAULT_BASE_URL),
        api_key=api_key,
        sim=args.sim,
        concurrency=args.concurrency,
        timeout=args.timeout,
        max_attempts=args.max_attempts,
        chunk_chars=args.chunk_chars,
        pack={"auto": None, "on": True, "off": False}[args.pack],
        pack_segments=args.pack_segments,
        pack_tokens=args.pack_tokens,
        retry_failed=args.retry_failed,
        escape_formulas=args.escape_formulas,
        progress=args.progress,
    )


def _params(args: argparse.Namespace, *, output_changing: bool) -> tuple[tuple[str, Any], ...]:
    given: dict[str, Any] = {
        "temperature": args.temperature,
        "top_p": args.top_p,
        "enable_thinking": None if args.enable_thinking is None else args.enable_thinking == "true",
        "response_format": {"type": args.response_format} if args.response_format else None,
        "max_tokens": args.max_tokens,
        "stream": True if args.stream else None,
        "user": args.user,
    }
    return tuple(
        sorted(
            (name, value)
            for name, value in given.items()
            if value is not None and (name in OUTPUT_PARAMS) == output_changing
        )
    )


def _api_key(args: argparse.Namespace) -> str | None:
    if args.sim:
        return None
    if args.api_key_file is not None:
        try:
            key = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(
                f"{args.api_key_file}: cannot read the API key file ({exc.strerror})"
            ) from exc
        if key:
            return key
        raise UsageError(f"{args.api_key_file}: the API key file is empty")
    key = os.environ.get("ROUTESCOPE_API_KEY", "").strip()
    if not key:
        raise UsageError(
            "no API key: export ROUTESCOPE_API_KEY=... (or pass --api-key-file FILE), "
            "or add --sim to run on the offline simulator"
        )
    return key


def _serve_sim(args: argparse.Namespace) -> int:
    from . import sim

    argv = [
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--latency",
        str(args.latency),
        "--seed",
        str(args.seed),
    ]
    if args.faults:
        argv += ["--faults", args.faults]
    return sim.main(argv)
