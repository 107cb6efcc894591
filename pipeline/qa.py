"""Quality flags for one translated cell: pure functions, run on every translation.

``check(source, translation, target_lang=...)`` returns the names of the
checks that failed, in ``FLAGS`` order (``()`` when clean):

    echo          the translation is the source again (case-folded), although the
                  languages differ and the source has a translatable word outside its
                  protected tokens: 2+ letters not all capitals (``by %(user)s`` is
                  one; ``URL``, ``ID: %(id)s``, ``{count}/{max}`` have none), or one
                  letter of a script written without spaces
    empty         the translation is blank while the source is not (reported alone)
    length_ratio  len(translation) / len(source) outside 0.3..3.0 (CJK targets
                  0.1..2.0); sources of 20+ characters only
    placeholders  the protected tokens of the two texts differ (as multisets)
    glossary      a term of ``terms`` occurs in the source, its target term is
                  missing from the translation
    script        no letter of the target's script among the translated letters
                  (judged on 3+ letters outside protected tokens)

Protected tokens (``placeholders``) are those of the one placeholder grammar,
``placeholders.py``, which the simulator's pseudo-translation keeps too: printf
(``%s``, ``%(name)s``, ``%1$s``, ``%lld``, ``%@``, ``%1$@``, ``%%``), braces (``{name}``,
``{0}``, ``{name:fmt}``, ``{{var}}``), ICU arguments as their skeleton (the case
messages are translatable text), URLs, e-mail addresses, Markdown code spans and
fenced blocks, entities, HTML/XML tags (XLIFF inline codes, react-i18next ``<1>``),
elements kept whole (Android ``<xliff:g>``, XLIFF ``<ph>``...) and ``[[name]]`` markers.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .config import resolve_language
from .placeholders import UNSPACED, parse, translatable

__all__ = ["FLAGS", "check", "missing_placeholders", "placeholders", "prose"]

FLAGS = ("echo", "empty", "length_ratio", "placeholders", "glossary", "script")

_THREE_LETTERS = re.compile(r"[^\W\d_](?:[\W\d_]*[^\W\d_]){2}")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SCRIPTS = {
    "latin": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff",
    "japanese": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f" + _HAN,
    "han": _HAN,
    "hangul": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "cyrillic": "\u0400-\u052f",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "hebrew": "\u0590-\u05ff\ufb1d-\ufb4f",
    "thai": "\u0e00-\u0e7f",
    "devanagari": "\u0900-\u097f\ua8e0-\ua8ff",
}
_SCRIPT_OF = {
    code: script
    for script, codes in (
        ("japanese", "ja"),
        ("han", "zh zh-tw yue"),
        ("hangul", "ko"),
        ("cyrillic", "ru uk bg sr be mk kk"),
        ("greek", "el"),
        ("arabic", "ar fa ur"),
        ("hebrew", "he"),
        ("thai", "th"),
        ("devanagari", "hi mr ne"),
        ("latin", "en de fr es es-mx it pt pt-br nl pl tr cs sk sv da nb no fi hu ro hr sl"),
        ("latin", "lt lv et ca gl eu is ga cy mt sq bs az uz vi id ms tl sw af zu xh yo ig"),
        ("latin", "ha so jv su ceb lb oc ast"),
    )
    for code in codes.split()
}
_DENSE = frozenset({"ja", "zh", "zh-tw", "ko", "yue"})  # CJK: fewer characters per meaning
_MIN_RATIO_SOURCE = 20  # characters; shorter sources vary too much to judge


@dataclass(frozen=True, slots=True)
class _Target:
    code: str
    script: re.Pattern[str] | None  # None: no rule for this language
    low: float
    high: float


@functools.lru_cache(maxsize=256)
def _target(lang: str) -> _Target:
    code = resolve_language(lang).code.lower()
    script = _SCRIPT_OF.get(code)
    pattern = re.compile(f"[{_SCRIPTS[script]}]") if script else None
    low, high = (0.1, 2.0) if code in _DENSE else (0.3, 3.0)
    return _Target(code, pattern, low, high)


@functools.lru_cache(maxsize=256)
def _same_language(source_lang: str, target_lang: str) -> bool:
    if source_lang.strip().lower() == "auto":
        return False
    return resolve_language(source_lang).code == resolve_language(target_lang).code


def _needs_boundary(char: str) -> bool:
    return (char.isalnum() or char == "_") and re.match(UNSPACED, char) is None


@functools.lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str]:
    """``term`` as a whole word (or phrase), case-insensitive, any white space between words."""
    words = term.split()
    body = r"\s+".join(map(re.escape, words))
    start = r"(?<!\w)" if words and _needs_boundary(words[0][0]) else ""
    end = r"(?!\w)" if words and _needs_boundary(words[-1][-1]) else ""
    return re.compile(start + body + end, re.IGNORECASE)


# --- protected tokens ------------------------------------------------------------------

_NONE: Counter[str] = Counter()  # shared, never mutated


def _scan(text: str) -> tuple[Counter[str], str]:
    """(protected tokens, the translatable rest with each token replaced by a space)."""
    parsed = parse(text)
    return (Counter(parsed.tokens) if parsed.tokens else _NONE), parsed.prose


_scan_short = functools.lru_cache(maxsize=4096)(_scan)
_CACHED_CHARS = 1000  # longer texts are rare: not worth the memory


def _scan_source(text: str) -> tuple[Counter[str], str]:
    """``_scan``, remembered for short texts: a source is checked once per target language."""
    return _scan_short(text) if len(text) <= _CACHED_CHARS else _scan(text)


def prose(text: str) -> str:
    """``text`` with every protected token blanked out: what a translator may change."""
    return _scan_source(text)[1]


def placeholders(text: str) -> Counter[str]:
    """The multiset of protected tokens in ``text`` (ICU arguments as their skeleton)."""
    return Counter(_scan_source(text)[0])


def missing_placeholders(source: str, translation: str) -> list[str]:
    """Tokens of ``source`` lost or altered in ``translation``, in source order."""
    return list((_scan_source(source)[0] - _scan(translation)[0]).elements())


# --- the checks -----------------------------------------------------------------------


def _echo(source: str, translation: str, prose: str) -> bool:
    if translation.strip().casefold() != source.strip().casefold():
        return False
    return translatable(prose)


def _length_off(source: str, translation: str, target: _Target) -> bool:
    size = len(source.strip())
    if size < _MIN_RATIO_SOURCE:
        return False
    return not target.low <= len(translation.strip()) / size <= target.high


def _glossary_missed(prose: str, translated: str, terms: Sequence[tuple[str, str]]) -> bool:
    folded = translated.casefold()
    return any(
        target.casefold() not in folded
        for source, target in terms
        if source.strip() and _term_pattern(source).search(prose) is not None
    )


def _script_missing(prose: str, target: _Target) -> bool:
    if target.script is None or _THREE_LETTERS.search(prose) is None:
        return False
    return target.script.search(prose) is None


def check(
    source: str,
    translation: str,
    *,
    target_lang: str,
    source_lang: str = "auto",
    terms: Sequence[tuple[str, str]] = (),
) -> tuple[str, ...]:
    """The flags ``translation`` earns, in ``FLAGS`` order; ``()`` when clean.

    ``target_lang``/``source_lang`` are English names or codes (``"auto"``: the
    source language is unknown and taken to differ from the target).  A blank
    translation of a non-blank source gets ``("empty",)`` and nothing else.
    """
    if not source.strip():
        return ()
    if not translation.strip():
        return ("empty",)
    target = _target(target_lang)
    src_tokens, src_prose = _scan_source(source)
    tgt_tokens, tgt_prose = _scan(translation)
    flags: list[str] = []
    if not _same_language(source_lang, target_lang) and _echo(source, translation, src_prose):
        flags.append("echo")
    if _length_off(source, translation, target):
        flags.append("length_ratio")
    if src_tokens != tgt_tokens:
        flags.append("placeholders")
    if terms and _glossary_missed(src_prose, tgt_prose, terms):
        flags.append("glossary")
    if _script_missing(tgt_prose, target):
        flags.append("script")
    return tuple(flags)
