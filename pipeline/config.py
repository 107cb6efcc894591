"""Static knowledge about models and languages: one table each, overridable by job files.

Prices are USD per million tokens (Singapore region unless noted); limits
are the documented qwen-mt limits.  See README, "Models and prices".
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

__all__ = [
    "DEFAULT_BASE_URL",
    "LANGUAGES",
    "MODELS",
    "Job",
    "Language",
    "ModelInfo",
    "cost_usd",
    "model_info",
    "resolve_language",
]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    family: str  # "mt": one user message, no system message; "chat": system + user
    input_price: float  # USD per million prompt tokens
    output_price: float  # USD per million completion tokens
    max_input_tokens: int = 8192
    max_output_tokens: int = 8192
    thinking: bool = False  # thinking on by default: send enable_thinking=false
    streams_whole_text: bool = False  # every stream chunk repeats the whole text so far


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("qwen-mt-flash", "mt", 0.10, 0.28),
        ModelInfo("qwen-mt-plus", "mt", 0.25, 0.75, streams_whole_text=True),
        ModelInfo("qwen-mt-turbo", "mt", 0.16, 0.49, streams_whole_text=True),
        ModelInfo("qwen-mt-lite", "mt", 0.12, 0.36),
        ModelInfo("qwen3.5-flash", "chat", 0.10, 0.40, 30000, 8192, thinking=True),
        ModelInfo("qwen3.5-plus", "chat", 0.40, 1.20, 30000, 8192, thinking=True),
        ModelInfo("qwen3.5-397b-a17b", "chat", 0.60, 3.60, 30000, 8192, thinking=True),
        ModelInfo("qwen3-max-preview", "chat", 1.20, 6.00, 30000, 8192, thinking=True),
        ModelInfo("qwen2.5-14b-instruct", "chat", 0.35, 1.40, 30000, 8192),
    )
}


def model_info(name: str) -> ModelInfo:
    """The table entry for ``name``; unknown models are treated as chat models."""
    if name in MODELS:
        return MODELS[name]
    family = "mt" if name.startswith("qwen-mt") else "chat"
    return ModelInfo(name, family, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str  # the English name the API expects


_LANGS = """\
en English|zh Chinese|zh-TW Traditional Chinese|ja Japanese|ko Korean|de German|fr French
es Spanish|it Italian|pt Portuguese|pt-BR Brazilian Portuguese|ru Russian|ar Arabic|nl Dutch
pl Polish|tr Turkish|uk Ukrainian|cs Czech|sk Slovak|sv Swedish|da Danish|nb Norwegian Bokmål
no Norwegian|fi Finnish|el Greek|he Hebrew|hi Hindi|bn Bengali|ur Urdu|fa Western Persian
th Thai|vi Vietnamese|id Indonesian|ms Malay|tl Tagalog|hu Hungarian|ro Romanian|bg Bulgarian
hr Croatian|sr Serbian|sl Slovenian|lt Lithuanian|lv Latvian|et Estonian|ca Catalan
gl Galician|eu Basque|is Icelandic|ga Irish|cy Welsh|mt Maltese|sq Albanian|mk Macedonian
bs Bosnian|be Belarusian|hy Armenian|ka Georgian|az North Azerbaijani|kk Kazakh|uz Northern Uzbek
tg Tajik|ky Kyrgyz|mn Mongolian|ta Tamil|te Telugu|kn Kannada|ml Malayalam|mr Marathi
gu Gujarati|pa Eastern Panjabi|ne Nepali|si Sinhala|my Burmese|km Khmer|lo Lao|sw Swahili
af Afrikaans|zu Zulu|xh Xhosa|yo Yoruba|ig Igbo|ha Hausa|so Somali|am Amharic|jv Javanese
su Sundanese|ceb Cebuano|yue Cantonese|lb Luxembourgish|oc Occitan|ast Asturian
es-MX Mexican Spanish
"""

LANGUAGES: dict[str, Language] = {}
for _entry in _LANGS.replace("\n", "|").split("|"):
    if _entry.strip():
        _code, _name = _entry.strip().split(" ", 1)
        LANGUAGES[_code.lower()] = Language(_code, _name)
_BY_NAME = {lang.name.lower(): lang for lang in LANGUAGES.values()}


def resolve_language(value: str) -> Language:
    """A target the API supports, from a code, an English name or a BCP 47 / POSIX locale.

    ``de``, ``German``, ``de-DE``, ``pt_BR``, ``zh-Hant``, ``ja_JP.UTF-8`` are accepted;
    the code keeps what was asked for (``de-DE``, ``zh-Hant``: the column is
    ``text_de-DE``), the name is the supported language it maps to (CLDR's likely
    script decides Chinese: ``zh-HK`` and ``zh-Hant`` are Traditional Chinese).
    Anything else is a UsageError with the nearest suggestions.
    """
    wanted = value.strip()
    found = LANGUAGES.get(wanted.replace("_", "-").lower()) or _BY_NAME.get(wanted.lower())
    if found is not None:
        return found
    tag = _parse_tag(wanted)
    if tag is not None:
        code, base = tag
        if base is not None:
            return Language(code, base.name)
    raise UsageError(f"unknown language {value!r}; {_suggest(wanted)}")


def _parse_tag(value: str) -> tuple[str, Language | None] | None:
    """``de_de`` -> (``de-DE``, German); None when babel does not know the locale."""
    import babel  # loaded on first use: most runs name plain codes

    try:
        parts = babel.core.parse_locale(value.replace("-", "_"))
        locale = babel.Locale.parse(value.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        return None
    language = locale.language  # the canonical code: iw -> he, deu -> de
    code = babel.core.get_locale_identifier((language, *parts[1:3]), sep="-")
    if language == "zh":
        return code, LANGUAGES["zh-tw" if locale.script == "Hant" else "zh"]
    regional = LANGUAGES.get(f"{language}-{locale.territory}".lower())
    return code, regional or LANGUAGES.get(language)


def _suggest(value: str) -> str:
    """``jp`` -> ja (Japan's language); ``de-XX`` -> de; close spellings; else every code."""
    from babel.core import parse_locale
    from babel.languages import get_official_languages

    near = [lang for lang in get_official_languages(value.upper()) if lang in LANGUAGES]
    with contextlib.suppress(ValueError):
        near += [parse_locale(value.replace("-", "_"))[0]]
    shown = {c: lang.code for c, lang in LANGUAGES.items()} | {
        n: lang.name for n, lang in _BY_NAME.items()
    }
    near += difflib.get_close_matches(value.replace("_", "-").lower(), shown, n=3, cutoff=0.6)
    near = [shown[n] for n in dict.fromkeys(near) if n in shown]
    if near:
        return f"did you mean {', '.join(near)}?"
    codes = ", ".join(lang.code for lang in LANGUAGES.values())
    return f"use one of {codes}, or a locale of one of them such as de-DE or pt_BR"


DEFAULT_BASE_URL = "https://api.routescope.ai/v1"


@dataclass(frozen=True, slots=True)
class Job:
    """Everything one translation run needs, resolved: paths absolute, languages known.

    Built by the command line or from a job file; the runner takes nothing else.
    """

    input: Path
    output: Path
    checkpoint: Path
    report: Path
    targets: tuple[Language, ...]
    columns: tuple[str, ...] = ()
    model: str = "qwen-mt-turbo"
    source_lang: str = "auto"
    style: str = "prompt"
    template: Path | None = None
    context: tuple[str, ...] = ()  # without a template: columns sent as a context note, keyed
    params: tuple[tuple[str, Any], ...] = ()  # change the output: part of the key
    extra: tuple[tuple[str, Any], ...] = ()  # max_tokens, stream, user: not part of the key
    input_format: str | None = None
    output_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    sim: bool = False
    concurrency: int = 16
    timeout: float = 120.0
    max_attempts: int = 8
    chunk_chars: int = 6000
    pack: bool | None = None  # None: on for qwen-mt models
    pack_segments: int = 100
    pack_tokens: int = 2000
    retry_failed: bool = False
    escape_formulas: bool = True
    progress: bool = True
    name: str = ""  # the job file, for logs
    max_cost: float | None = None  # USD; stop sending new requests before passing it
    prices: tuple[float, float] | None = None  # USD per million tokens in, out; else the table's
    failed_out: Path | None = None  # CSV/JSONL of failed cells
    id_columns: tuple[str, ...] = ()  # copied into failed cells (default: "id" if present)
    log_format: str = "text"  # text | json
    progress_seconds: float = 10.0  # JSON progress lines and bar postfix
    qa: str = "warn"  # warn: flag; strict: flagged cells fail; off
    glossary: Path | None = None
    memory: Path | None = None  # --tm: example translations
    domain: str = ""
    layout: str = "wide"  # wide: a column per language; long: a row per language
    rpm: float | None = None  # requests per minute to pace at
    tpm: float | None = None  # tokens per minute to pace at
    shared_quota: bool = False  # pace together with other processes on the same key
    skip_bad_lines: bool = False  # JSONL: malformed lines go to ``rejects``
    rejects: Path | None = None
    cache: Path | None = None  # the translation cache shared across outputs; None: off
    overwrite: bool = False  # catalogs: re-send entries an existing target already translates
    engine: str = "local"  # local | ray (pipeline/ray/engine.py)
    ray_address: str | None = None  # auto | HOST:PORT; None: Ray's default
    actors: int = 2  # --engine ray: block translators at once


# Request parameters that change the translation are part of the unit key; the
# others (max_tokens, stream, user) are not.
OUTPUT_PARAMS = frozenset({"temperature", "top_p", "enable_thinking", "response_format", "seed"})


def cost_usd(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    prices: tuple[float, float] | None = None,
) -> float:
    """USD for the tokens at ``prices`` (input, output per million), else the table's."""
    info = model_info(model)
    price_in, price_out = prices or (info.input_price, info.output_price)
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6
