"""A translation run's options resolved: given values -> a ``Job``.

The options table (optiontable.py) names every option; job files and ``--set``
are read and checked here, and ``build_job`` turns a mapping of given values
into a resolved ``Job`` (paths, languages, base URL, key, prices, cache).
"""

from __future__ import annotations

import contextlib
import difflib
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import DEFAULT_BASE_URL, MODELS, OUTPUT_PARAMS, Job, Language, resolve_language
from .errors import UsageError
from .optiontable import BY_KEY, OPTIONS, Option, coerce, describe

__all__ = [
    "OPTIONS",
    "Option",
    "build_job",
    "coerce",
    "load_job_file",
    "output_path_for",
    "parse_set",
    "unpriced",
]


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
        raise UsageError(f"{origin} {assignment!r}: {key} must be {describe(option)}") from exc
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


# Job fields that take the option's checked value as it is given.
_AS_GIVEN = (
    "model", "style", "input_format", "output_format", "delimiter", "encoding", "sim",
    "concurrency", "timeout", "max_attempts", "chunk_chars", "pack_segments", "pack_tokens",
    "retry_failed", "escape_formulas", "progress", "max_cost", "log_format",
    "progress_seconds", "qa", "layout", "skip_bad_lines", "rpm", "tpm", "shared_quota",
    "overwrite", "engine", "ray_address", "actors",
)  # fmt: skip


def build_job(values: Mapping[str, Any], *, env: Mapping[str, str]) -> Job:
    """A resolved Job from given ``values`` (option key -> value); defaults fill the rest."""
    given = _catalog_defaults(_given(values))
    source, targets = Path(given["input"]), _languages(given["to"])
    _check_not_same(given["source_lang"], targets)
    output = Path(given["output"]) if given["output"] else output_path_for(source)
    if output.resolve() == source.resolve():
        raise UsageError(f"{output}: the output would overwrite the input; pass another -o")
    params = _params(given)
    return Job(
        input=source,
        output=output,
        checkpoint=Path(given["checkpoint"] or _beside(output, ".checkpoint.sqlite")),
        report=Path(given["report"] or _beside(output, ".report.json")),
        cache=_cache(given["cache"], env),
        targets=targets,
        columns=tuple(given["columns"] or ()),
        id_columns=tuple(given["id_columns"] or ()),
        source_lang=_source(given["source_lang"]),
        template=_path(given["template"]),
        params=tuple(sorted((k, v) for k, v in params.items() if k in OUTPUT_PARAMS)),
        extra=tuple(sorted((k, v) for k, v in params.items() if k not in OUTPUT_PARAMS)),
        base_url=_base_url(given, env),
        api_key=_api_key(given["api_key_file"], env, sim=given["sim"]),
        pack={"auto": None, "on": True, "off": False}[given["pack"]],
        prices=_prices(given),
        failed_out=_path(given["failed_out"]),
        glossary=_path(given["glossary"]),
        memory=_path(given["memory"]),
        domain=given["domain"] or "",
        rejects=Path(given["rejects"] or _beside(output, ".rejects.jsonl")),
        **{key: given[key] for key in _AS_GIVEN},
    )


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every option's value: the given ones checked, defaults for the rest."""
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
    return given


def _catalog_defaults(given: dict[str, Any]) -> dict[str, Any]:
    """A localization catalog's defaults (``catalog_folders``); a table's values, or an
    input of no known format (the run refuses it), as given."""
    from .formats.catalog import catalog_folders  # polars: for a run, never for --help
    from .formats.registry import catalog_for

    source = Path(given["input"])
    with contextlib.suppress(UsageError):
        fmt = catalog_for(source, given["input_format"])
        if fmt is not None:
            out, checkpoint, report = catalog_folders(fmt, source, given["output"])
            given = given | {"output": out, "checkpoint": given["checkpoint"] or checkpoint}
            return given | {"report": given["report"] or report}
    return given


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


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
