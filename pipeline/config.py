"""Static knowledge about models and languages: one table each, overridable by job files.

Prices are USD per million tokens (Singapore region unless noted); limits
are the documented qwen-mt limits.  See README, "Models and prices".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import UsageError

__all__ = ["LANGUAGES", "MODELS", "Language", "ModelInfo", "model_info", "resolve_language"]


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
su Sundanese|ceb Cebuano|yue Cantonese|lb Luxembourgish|oc Occitan|ast Asturian|es-MX Mexican Spanish
"""

LANGUAGES: dict[str, Language] = {}
for _entry in _LANGS.replace("\n", "|").split("|"):
    if _entry.strip():
        _code, _name = _entry.strip().split(" ", 1)
        LANGUAGES[_code.lower()] = Language(_code, _name)
_BY_NAME = {lang.name.lower(): lang for lang in LANGUAGES.values()}


def resolve_language(value: str) -> Language:
    """``de``, ``pt_BR``, ``zh-tw`` or ``German`` -> Language; else UsageError with suggestions."""
    wanted = value.strip().replace("_", "-").lower()
    found = LANGUAGES.get(wanted) or _BY_NAME.get(wanted)
    if found is not None:
        return found
    choices = list(LANGUAGES) + list(_BY_NAME)
    near = difflib.get_close_matches(wanted, choices, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(near)}?" if near else "; use a code such as de, ja, zh-TW"
    raise UsageError(f"unknown language {value!r}{hint}")
