"""The options of a translation run: one table for the command line and for job files.

``mtpipe translate`` builds its flags from ``OPTIONS``; ``mtpipe run JOB.toml``
takes the same names as keys.  Both produce a mapping of given values that
``build_job`` turns into a resolved ``Job``.  No option ever carries the API
key: it comes from the environment or ``api_key_file``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .config import DEFAULT_BASE_URL, MODELS, OUTPUT_PARAMS, Job, Language, resolve_language
from .errors import UsageError

__all__ = [
    "OPTIONS",
    "Option",
    "build_job",
    "load_job_file",
    "output_path_for",
    "parse_set",
    "unpriced",
]


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
    _P("input", "path", "CSV, TSV, Parquet or JSONL file, or a job file (.toml) whose keys the "
       "options given here override"),
    _P("to", "list", "target languages, comma-separated: de,ja,zh-TW,pt_BR (required, unless "
       "INPUT is a job file naming them)"),
    _P("output", "path", "output file (default: INPUT.translated.EXT)", short="-o"),
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
    _P("concurrency", "int", "requests in flight at most (default 16)", 16, minimum=1),
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
       "a folder of part files or a glob) (default local)", "local", ("local", "ray")),
    _P("ray_address", "str", "--engine ray: the cluster, auto or HOST:PORT (default: Ray's own: "
       "$RAY_ADDRESS or a local instance)"),
    _P("actors", "int", "--engine ray: block translators running at once (default 2)", 2,
       minimum=1),
    _P("base_url", "str", f"API base URL (default: $ROUTESCOPE_BASE_URL or {DEFAULT_BASE_URL})"),
    _P("api_key_file", "path", "read the API key from this file (default: $ROUTESCOPE_API_KEY)"),
    _P("sim", "bool", "use the built-in offline simulator", False),
    _P("input_format", "str", "input format: csv, tsv, parquet, jsonl, xlsx", flag="--format"),
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
        "write one line per failed cell (row, column, language, reason, "
        "attempts) to this CSV or JSONL file",
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
        raise UsageError(f"{origin}: {option.key} must be {_describe(option)}, not {value!r}")
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


def _describe(option: Option) -> str:
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


def parse_set(assignment: str, *, origin: str = "--set") -> tuple[str, Any]:
    """``key=value`` from the command line, typed by the option's kind."""
    key, sep, raw = assignment.partition("=")
    option = _option(key.strip(), origin=origin)
    if not sep:
        raise UsageError(f"{origin} {assignment!r}: write key=value, e.g. --set concurrency=4")
    value: Any = raw.strip()
    try:
        if option.kind == "int":
            value = int(value)
        elif option.kind == "float":
            value = float(value)
        elif option.kind == "bool":
            value = {"true": True, "false": False}[value.lower()]
        elif option.off and value.lower() == "false":
            value = False
    except (ValueError, KeyError) as exc:
        raise UsageError(f"{origin} {assignment!r}: {key} must be {_describe(option)}") from exc
    return option.key, coerce(option, value, origin=origin)


def _option(key: str, *, origin: str) -> Option:
    if key in BY_KEY:
        return BY_KEY[key]
    if key == "api_key":
        raise UsageError(
            f"{origin}: api_key is not accepted here; set ROUTESCOPE_API_KEY or api_key_file"
        )
    near = difflib.get_close_matches(key, BY_KEY, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise UsageError(f"{origin}: unknown key {key!r}{hint}")


def load_job_file(path: Path, sets: Sequence[str] = ()) -> dict[str, Any]:
    """The values of a job file, checked, with paths resolved against its folder."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the job file ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a valid TOML job file ({exc})") from exc
    values = {
        _option(k, origin=str(path)).key: coerce(BY_KEY[k], v, origin=str(path))
        for k, v in data.items()
    }
    for assignment in sets:
        key, value = parse_set(assignment)
        values[key] = value
    for key, value in values.items():
        if BY_KEY[key].kind == "path" and value is not False:
            values[key] = (path.parent / Path(value).expanduser()).resolve()
    return values


def output_path_for(input_path: Path) -> Path:
    """``<stem>.translated.<ext>`` beside the input: data.csv -> data.translated.csv."""
    return input_path.with_name(f"{input_path.stem}.translated{input_path.suffix}")


def build_job(values: Mapping[str, Any], *, env: Mapping[str, str]) -> Job:
    """A resolved Job from given ``values`` (option key -> value); defaults fill the rest."""
    checked = {
        _option(k, origin="build_job").key: coerce(BY_KEY[k], v, origin="build_job")
        for k, v in values.items()
        if v is not None
    }
    given = {o.key: o.default for o in OPTIONS} | checked
    if given["input"] is None or not given["to"]:
        raise UsageError(
            "an input file and --to languages are required, e.g. "
            "mtpipe translate data.csv --to de,ja"
        )
    source, targets = Path(given["input"]), _languages(given["to"])
    _check_not_same(given["source_lang"], targets)
    output = Path(given["output"]) if given["output"] else output_path_for(source)
    if output.resolve() == source.resolve():
        raise UsageError(f"{output}: the output would overwrite the input; pass another -o")
    params = _params(given)
    return Job(
        input=source,
        output=output,
        checkpoint=Path(
            given["checkpoint"] or output.with_name(output.name + ".checkpoint.sqlite")
        ),
        report=Path(given["report"] or output.with_name(output.name + ".report.json")),
        cache=_cache(given["cache"], env),
        targets=targets,
        columns=tuple(given["columns"] or ()),
        id_columns=tuple(given["id_columns"] or ()),
        model=given["model"],
        source_lang=_source(given["source_lang"]),
        style=given["style"],
        template=Path(given["template"]) if given["template"] else None,
        params=tuple(sorted((k, v) for k, v in params.items() if k in OUTPUT_PARAMS)),
        extra=tuple(sorted((k, v) for k, v in params.items() if k not in OUTPUT_PARAMS)),
        input_format=given["input_format"],
        output_format=given["output_format"],
        delimiter=given["delimiter"],
        encoding=given["encoding"],
        base_url=_base_url(given, env),
        api_key=_api_key(given["api_key_file"], env, sim=given["sim"]),
        sim=given["sim"],
        concurrency=given["concurrency"],
        timeout=given["timeout"],
        max_attempts=given["max_attempts"],
        chunk_chars=given["chunk_chars"],
        pack={"auto": None, "on": True, "off": False}[given["pack"]],
        pack_segments=given["pack_segments"],
        pack_tokens=given["pack_tokens"],
        retry_failed=given["retry_failed"],
        escape_formulas=given["escape_formulas"],
        progress=given["progress"],
        max_cost=given["max_cost"],
        prices=_prices(given),
        failed_out=Path(given["failed_out"]) if given["failed_out"] else None,
        log_format=given["log_format"],
        progress_seconds=given["progress_seconds"],
        qa=given["qa"],
        glossary=Path(given["glossary"]) if given["glossary"] else None,
        memory=Path(given["memory"]) if given["memory"] else None,
        domain=given["domain"] or "",
        layout=given["layout"],
        skip_bad_lines=given["skip_bad_lines"],
        rpm=given["rpm"],
        tpm=given["tpm"],
        shared_quota=given["shared_quota"],
        engine=given["engine"],
        ray_address=given["ray_address"],
        actors=given["actors"],
        rejects=Path(given["rejects"] or _beside(output, ".rejects.jsonl")),
    )


def _prices(given: Mapping[str, Any]) -> tuple[float, float] | None:
    """The model's prices: given ones, else the table's; an unknown model under a budget
    without them is refused, since its spend could not be counted."""
    model, price_in, price_out = given["model"], given["price_in"], given["price_out"]
    if model in MODELS:
        if price_in is None and price_out is None:
            return None
        info = MODELS[model]
        return (
            info.input_price if price_in is None else price_in,
            info.output_price if price_out is None else price_out,
        )
    if price_in is not None and price_out is not None:
        return price_in, price_out
    if given["max_cost"] is not None or price_in is not None or price_out is not None:
        near = difflib.get_close_matches(model, MODELS, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(
            f"model {model!r} is not in the price table{hint}, so its spend cannot be "
            "counted against --max-cost: pass --price-in and --price-out (USD per million "
            "tokens), or a known --model"
        )
    return None


def unpriced(job: Job) -> str | None:
    """A warning when the job's spend cannot be priced (an unknown model, no prices)."""
    if job.model in MODELS or job.prices is not None:
        return None
    return (
        f"model {job.model!r} is not in the price table: costs are reported as $0; "
        "pass --price-in and --price-out to count them"
    )


def _base_url(given: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The API base URL; plain http is refused unless to loopback or explicitly allowed."""
    url = str(given["base_url"] or env.get("ROUTESCOPE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"base URL {url!r} is not an http(s) URL, e.g. {DEFAULT_BASE_URL}")
    loopback = parts.hostname in ("localhost", "::1") or parts.hostname.startswith("127.")
    if parts.scheme == "http" and not loopback and not given["allow_insecure_http"]:
        raise UsageError(
            f"base URL {url} is plain http: the API key would cross the network unencrypted; "
            "use https, or pass --allow-insecure-http if this network is trusted"
        )
    return url


def _cache(value: Any, env: Mapping[str, str]) -> Path | None:
    """The translation cache file: given, off (false), or the user's default (XDG)."""
    if value is False:
        return None
    if value is not None:
        return Path(value).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "mtpipe" / "cache.sqlite"


def _beside(output: Path, suffix: str) -> Path:
    return output.with_name(output.name + suffix)


def _languages(values: Sequence[str]) -> tuple[Language, ...]:
    targets = tuple(dict.fromkeys(resolve_language(v) for v in values))
    if not targets:
        raise UsageError("--to needs at least one language, e.g. --to de,ja")
    return targets


def _check_not_same(source_lang: str, targets: Sequence[Language]) -> None:
    """A target in the source language would come back as it went: refused unless auto."""
    if source_lang.strip().lower() == "auto":
        return
    source = resolve_language(source_lang)
    for target in targets:
        if target.name == source.name:
            raise UsageError(
                f"--from {source.code} and --to {target.code} are both {source.name}: "
                "drop it from --to, or pass --from auto"
            )


def _source(value: str) -> str:
    return "auto" if value.strip().lower() == "auto" else resolve_language(value).name


def _params(given: Mapping[str, Any]) -> dict[str, Any]:
    params = {
        "temperature": given["temperature"],
        "top_p": given["top_p"],
        "enable_thinking": None
        if given["enable_thinking"] is None
        else given["enable_thinking"] == "true",
        "response_format": {"type": given["response_format"]} if given["response_format"] else None,
        "max_tokens": given["max_tokens"],
        "stream": True if given["stream"] else None,
        "user": given["user"],
    }
    return {k: v for k, v in params.items() if v is not None}


def _api_key(key_file: Path | None, env: Mapping[str, str], *, sim: bool) -> str | None:
    """The key from ``key_file`` or the environment; with ``sim`` none, but a named file
    must still be readable (a typo is refused the same with and without the simulator)."""
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"{key_file}: cannot read the API key file ({exc.strerror})") from exc
        if not key:
            raise UsageError(f"{key_file}: the API key file is empty")
        return None if sim else key
    if sim:
        return None
    key = env.get("ROUTESCOPE_API_KEY", "").strip()
    if not key:
        raise UsageError(
            "no API key: export ROUTESCOPE_API_KEY=... (or pass --api-key-file FILE), "
            "or add --sim to run on the offline simulator"
        )
    return key
