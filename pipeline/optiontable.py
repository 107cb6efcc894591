"""The options table: every option of a translation run, its kind, default and help.

``mtpipe translate`` builds its flags from ``OPTIONS``; ``mtpipe run JOB.toml``
takes the same names as keys; ``coerce`` checks one value the same way for
both (options.py resolves them into a ``Job``).  No option ever carries the API
key: it comes from the environment or ``api_key_file``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

from .config import DEFAULT_BASE_URL
from .errors import UsageError

__all__ = ["BY_KEY", "OPTIONS", "Option", "coerce", "describe"]


@dataclass(frozen=True, slots=True)
class Option:
    key: str  # job-file key and argparse dest
    kind: str  # str | int | float | bool | path | list
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    flag: str | None = None  # command-line flag when it is not --key-with-dashes
    short: str | None = None
    minimum: float | None = None
    off: str | None = None  # a second flag that sets the value to false (--no-cache)
    off_help: str = ""

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")


_P = Option
# fmt: off
OPTIONS: tuple[Option, ...] = (
    _P("input", "path", "CSV, TSV, Parquet, JSONL or XLSX file, a localization catalog (.po, "
       ".pot, .xlf, strings.xml, .strings, .stringsdict, .xcstrings, .arb, .json), or a job "
       "file (.toml) whose keys the options given here override"),
    _P("to", "list", "target languages, comma-separated: de,ja,zh-TW,pt_BR (required, unless "
       "INPUT is a job file naming them)"),
    _P("output", "path", "output file (default: INPUT.translated.EXT); for a catalog, the "
       "folder its targets go in, in the format's layout (default: beside it)", short="-o"),
    _P(
        "columns",
        "list",
        "text column, repeatable (JSONL: dotted path such as meta.body); "
        "default: the column named 'text'",
        flag="--column",
    ),
    _P("source_lang", "str", "source language (default auto)", "auto", flag="--from"),
    _P("model", "str", "model (default qwen-mt-turbo)", "qwen-mt-turbo"),
    _P(
        "template",
        "path",
        "user-message template with {text}, {source_lang}, {target_lang} "
        "and other columns as {name}",
    ),
    _P(
        "style",
        "str",
        "prompt: instruction in the message; options: DashScope "
        "translation_options (default prompt)",
        "prompt",
        ("prompt", "options"),
    ),
    _P("concurrency", "int", "requests in flight at most (default 16); under --rpm/--tpm "
       "shared (--shared-quota, --engine ray) it counts every process's", 16, minimum=1),
    _P("rpm", "float", "requests per minute the provider allows: requests are paced evenly "
       "(at most rpm/60 start in any second) and concurrency ramps up (default: not paced)",
       minimum=0.001),
    _P("tpm", "float", "tokens per minute the provider allows (estimated before sending, "
       "corrected with the billed usage)", minimum=1),
    _P("shared_quota", "bool", "share --rpm/--tpm with other mtpipe runs on this machine "
       "using the same key, base URL and model", False),
    _P("checkpoint", "path", "checkpoint file (default: OUTPUT.checkpoint.sqlite)"),
    _P("report", "path", "JSON run report (default: OUTPUT.report.json)"),
    _P("cache", "path", "translation cache shared by every output and job, so a text is paid "
       "once per model and settings (default: $XDG_CACHE_HOME/mtpipe/cache.sqlite, "
       "~/.cache when unset; job key: a path, or false)", off="--no-cache",
       off_help="do not read or fill the translation cache (job key: cache = false)"),
    _P("engine", "str", "local: this process; ray: a Ray cluster (the ray extra; INPUT may be "
       "a folder of part files or a glob, local or a pyarrow.fs URI; -o a local path) "
       "(default local)", "local", ("local", "ray")),
    _P("ray_address", "str", "--engine ray: the cluster, auto or HOST:PORT (default: Ray's own: "
       "$RAY_ADDRESS or a local instance)"),
    _P("actors", "int", "--engine ray: block translators running at once (default 2)", 2,
       minimum=1),
    _P("base_url", "str", f"API base URL (default: $ROUTESCOPE_BASE_URL or {DEFAULT_BASE_URL})"),
    _P("api_key_file", "path", "read the API key from this file (default: $ROUTESCOPE_API_KEY)"),
    _P("sim", "bool", "use the built-in offline simulator", False),
    _P("input_format", "str", "input format: csv, tsv, parquet, jsonl, xlsx; catalogs: po, xliff, "
       "android, strings, stringsdict, xcstrings, arb, i18next (default: from the extension)",
       flag="--format"),
    _P("overwrite", "bool", "catalogs: also re-translate entries an existing target catalog "
       "already holds as human translations (kept by default)", False),
    _P("output_format", "str", "output format (default: from the output extension)"),
    _P("delimiter", "str", "CSV delimiter (default: detected)"),
    _P("encoding", "str", "input text encoding, e.g. latin-1 (default utf-8)"),
    _P("temperature", "float", "sampling temperature (part of the checkpoint key)", minimum=0),
    _P("top_p", "float", "nucleus sampling (part of the checkpoint key)", minimum=0),
    _P("max_tokens", "int", "max_tokens sent with each request", minimum=1),
    _P("stream", "bool", "stream responses (not needed for batch work)", False),
    _P(
        "enable_thinking",
        "str",
        "chat models: thinking mode (default false for translation)",
        choices=("true", "false"),
    ),
    _P("response_format", "str", "response_format type", choices=("text", "json_object")),
    _P("user", "str", "end-user id sent for audit"),
    _P("timeout", "float", "seconds per attempt (default 120)", 120.0, minimum=0.001),
    _P("max_attempts", "int", "attempts per request on transient errors (default 8)", 8, minimum=1),
    _P(
        "chunk_chars",
        "int",
        "longest piece of a long cell sent in one request, in characters (default 6000)",
        6000,
        minimum=200,
    ),
    _P(
        "pack",
        "str",
        "pack short cells into one request as numbered lines (default auto: on for qwen-mt models)",
        "auto",
        ("auto", "on", "off"),
    ),
    _P("pack_segments", "int", "most cells in one packed request (default 100)", 100, minimum=1),
    _P(
        "pack_tokens",
        "int",
        "most estimated source tokens in one packed request (default 2000)",
        2000,
        minimum=1,
    ),
    _P("retry_failed", "bool", "also re-send cells that failed permanently last time", False),
    _P(
        "escape_formulas",
        "bool",
        "do not defuse translated CSV/TSV cells starting with =, +, -, @ (by default "
        "they get a leading ' so a spreadsheet does not run them)",
        True,
        flag="--no-escape-formulas",
    ),
    _P("progress", "bool", "no progress bar (there is none anyway when stderr is not a "
       "terminal)", True, flag="--no-progress"),
    _P(
        "max_cost",
        "float",
        "budget in USD: stop sending before billed plus in-flight spend "
        "would pass it; the rest fails with reason 'budget' (exit 3)",
        minimum=0,
    ),
    _P("price_in", "float", "USD per million prompt tokens, for a model missing from the price "
       "table (or to override it)", minimum=0),
    _P("price_out", "float", "USD per million completion tokens (with --price-in)", minimum=0),
    _P(
        "failed_out",
        "path",
        "write one line per failed cell (the input's id columns, row, column, language, "
        "reason, message, attempts) to this CSV or JSONL file",
    ),
    _P("id_columns", "list", "an id column of the input, repeatable: copied into the "
       "--failed-out rows (default: the column named 'id', if any)", flag="--id-column"),
    _P(
        "log_format",
        "str",
        "text (default): progress bar and a summary line; json: one JSON "
        "object per line on stderr (start, progress, finish)",
        "text",
        ("text", "json"),
    ),
    _P("skip_bad_lines", "bool", "JSONL: write malformed lines to the rejects file and go on",
       False),
    _P("rejects", "path", "where --skip-bad-lines puts them (default: OUTPUT.rejects.jsonl)"),
    _P("allow_insecure_http", "bool", "allow sending the API key over plain http to a host "
       "that is not loopback", False),
    _P("glossary", "path", "CSV/TSV of source term, target term and optional language: the "
       "terms found in a cell are sent with it and checked in its translation"),
    _P("memory", "path", "translation memory: CSV/TSV/JSONL of example source,target pairs "
       "sent with every request (tm_list in options style)", flag="--tm"),
    _P("domain", "str", "domain and style, in English, e.g. 'e-commerce product titles, "
       "concise'"),
    _P("qa", "str", "warn (default): flag suspicious cells in mt_flags; strict: flagged cells "
       "fail (re-run them with --retry-failed); off", "warn", ("warn", "strict", "off")),
    _P("layout", "str", "wide (default): a column per language; long: a row per source row "
       "and language", "wide", ("wide", "long")),
    _P(
        "progress_seconds",
        "float",
        "seconds between progress lines (default 10)",
        10.0,
        minimum=0.1,
    ),
)
# fmt: on
BY_KEY = {option.key: option for option in OPTIONS}
_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "path": (str, os.PathLike),
    "list": (list, tuple, str),
}


def coerce(option: Option, value: Any, *, origin: str) -> Any:
    """``value`` (from TOML, --set or argparse) checked and converted for ``option``."""
    if value is False and option.off:
        return False
    if not isinstance(value, _KINDS[option.kind]) or (
        option.kind in ("int", "float") and isinstance(value, bool)
    ):
        raise UsageError(f"{origin}: {option.key} must be {describe(option)}, not {value!r}")
    if option.kind == "list":
        items: list[Any] = (
            value.split(",") if isinstance(value, str) else list(cast(list[Any], value))
        )
        value = [str(item).strip() for item in items if str(item).strip()]
    if option.choices and value not in option.choices:
        raise UsageError(f"{origin}: {option.key} must be one of {', '.join(option.choices)}")
    if option.minimum is not None and value < option.minimum:
        raise UsageError(f"{origin}: {option.key} must be at least {option.minimum:g}")
    return float(value) if option.kind == "float" else value


def describe(option: Option) -> str:
    if option.off:
        return "a path string, or false"
    return {
        "str": "a string",
        "int": "a whole number",
        "float": "a number",
        "bool": "true or false",
        "path": "a path string",
        "list": "a list of strings",
    }[option.kind]
