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

Protected tokens (``placeholders``): printf (``%s``, ``%(name)s``, ``%1$s``,
``%%``), braces (``{name}``, ``{0}``, ``{name:fmt}``, ``{{var}}``), URLs, e-mail
addresses, Markdown code spans, entities and HTML/XML tags, compared as their
whole text except the values of ``title``/``alt`` (translatable: only their
placeholders count) and the text of comments.  An ICU ``plural``/``select``/
``selectordinal`` argument is reduced to its skeleton, recursively:
``{count, plural,`` ``one{`` ... ``}`` ``other{`` ... ``}`` ``}``, plus ``#``
inside plural cases; the case messages are translatable text.  White space
inside the skeleton is not significant.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .config import resolve_language

__all__ = ["FLAGS", "check", "missing_placeholders", "placeholders", "prose"]

FLAGS = ("echo", "empty", "length_ratio", "placeholders", "glossary", "script")

_SPECIAL = re.compile(r"[%{<&@`]|://|www\.")  # no match: the text has no protected token
_TOKEN = re.compile(
    r"""(?P<url>\b(?:https?|ftp)://[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}]|\bwww\.[\w-]+\.[^\s<>"'`]*\w)
    |(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    |(?P<code>``[^\n]+?``|`[^`\n]+`)
    |(?P<tag><!--.*?-->|</?[A-Za-z][\w:.-]*(?:\s[^<>\n]*)?/?>)
    |(?P<entity>&(?:[A-Za-z][A-Za-z0-9]*|\#[0-9]+|\#[xX][0-9A-Fa-f]+);)
    |(?P<printf>%(?:\([^()\s]+\))?(?:[0-9]+\$)?[-+\#0]*(?:[0-9]+|\*)?(?:\.[0-9]+)?[hlLqjzt]*[sdifFeEgGxXocrabu%@])
    |(?P<brace>\{)""",
    re.VERBOSE | re.DOTALL,
)
_BRACES = re.compile(r"[{}]")
# {name} {0} {} {name:fmt} {name!r} {n, number} {d, date, short} {{var}}: one token, exact.
_SIMPLE_BRACE = re.compile(
    r"\{(?:\s*[\w.\[\]-]*\s*(?:![rsa])?(?::[^{}\n]*)?|\s*[\w.]+\s*,\s*\w+\s*(?:,[^{}\n]*)?"
    r"|\{[^{}\n]*\})\}"
)
_ICU_HEAD = re.compile(r"\s*([\w.]+)\s*,\s*(plural|selectordinal|select)\s*,")
_ICU_CASE = re.compile(r"\s*(?:offset:\s*(\d+)\s*)?(=\d+|[\w-]+)\s*\{")
_TRANSLATABLE_ATTR = re.compile(r"""(\s(?:title|alt)\s*=\s*)("[^"]*"|'[^']*')""", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")  # a run of 2+ letters
_THREE_LETTERS = re.compile(r"[^\W\d_](?:[\W\d_]*[^\W\d_]){2}")
# Scripts written without spaces between words: no word boundary.  A pattern, compiled
# on first use (re's cache): compiling a class this wide costs ~3 ms at every start.
_UNSPACED = (
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff]"
)

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
    return (char.isalnum() or char == "_") and re.match(_UNSPACED, char) is None


@functools.lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str]:
    """``term`` as a whole word (or phrase), case-insensitive, any white space between words."""
    words = term.split()
    body = r"\s+".join(map(re.escape, words))
    start = r"(?<!\w)" if words and _needs_boundary(words[0][0]) else ""
    end = r"(?!\w)" if words and _needs_boundary(words[-1][-1]) else ""
    return re.compile(start + body + end, re.IGNORECASE)


# --- protected tokens ------------------------------------------------------------------


def _brace_end(text: str, start: int, end: int) -> int:
    """Index just past the brace closing the one at ``start`` (before ``end``); -1 if none."""
    depth = 0
    for brace in _BRACES.finditer(text, start, end):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return brace.end()
    return -1


_Acc = tuple[list[str], list[str]]  # (tokens, prose) being collected


def _gap(text: str, acc: _Acc, plural: bool) -> None:
    """Translatable text between tokens; ``#`` is the number inside a plural case."""
    tokens, prose = acc
    if plural and "#" in text:
        tokens.extend("#" * text.count("#"))
        text = text.replace("#", " ")
    prose.append(text)


def _tag(tag: str, tokens: list[str]) -> str:
    """The tag as compared: ``title``/``alt`` values blanked, their placeholders kept;
    a comment's text is free (a note to translators may be translated or not)."""
    if tag.startswith("<!--"):
        return "<!--…-->"
    lowered = tag.lower()
    if "title" not in lowered and "alt" not in lowered:
        return tag

    def blank(match: re.Match[str]) -> str:
        value = match.group(2)
        _walk(value, 1, len(value) - 1, (tokens, []), False)
        return match.group(1) + '"…"'

    return _TRANSLATABLE_ATTR.sub(blank, tag)


def _icu(text: str, head: re.Match[str], close: int, acc: _Acc, plural: bool) -> None:
    """An ICU plural/select argument from ``head`` to ``close``: its skeleton as tokens."""
    tokens = acc[0]
    tokens.append(f"{{{head.group(1)}, {head.group(2)},")
    plural = plural or head.group(2) != "select"  # "#" is the number of the nearest plural
    pos, last = head.end(), close - 1
    while (case := _ICU_CASE.match(text, pos, last)) is not None:
        end = _brace_end(text, case.end() - 1, last)
        if end < 0:
            break
        if case.group(1) is not None:
            tokens.append(f"offset:{case.group(1)}")
        tokens.append(case.group(2) + "{")
        _walk(text, case.end(), end - 1, acc, plural)
        tokens.append("}")
        pos = end
    if rest := text[pos:last].strip():  # not ICU after all: compare what is left exactly
        tokens.append(rest)
    tokens.append("}")


def _brace(text: str, start: int, close: int, acc: _Acc, plural: bool) -> None:
    tokens = acc[0]
    group = text[start:close]
    if _SIMPLE_BRACE.fullmatch(group):
        tokens.append(group)
    elif (head := _ICU_HEAD.match(text, start + 1, close)) is not None:
        _icu(text, head, close, acc, plural)
    else:  # braces around text: the braces are kept, the text inside is translated
        tokens.append("{")
        _walk(text, start + 1, close - 1, acc, plural)
        tokens.append("}")


def _walk(text: str, pos: int, end: int, acc: _Acc, plural: bool) -> None:
    """Collect the protected tokens of ``text[pos:end]`` and the translatable rest in ``acc``."""
    while (match := _TOKEN.search(text, pos, end)) is not None:
        start = match.start()
        _gap(text[pos:start], acc, plural)
        if match.lastgroup == "brace":
            close = _brace_end(text, start, end)
            if close < 0:  # a lone "{" is punctuation
                _gap("{", acc, plural)
                pos = start + 1
                continue
            _brace(text, start, close, acc, plural)
            pos = close
        else:
            token = match.group()
            acc[0].append(_tag(token, acc[0]) if match.lastgroup == "tag" else token)
            pos = match.end()
    _gap(text[pos:end], acc, plural)


_NONE: Counter[str] = Counter()  # shared, never mutated


def _scan(text: str) -> tuple[Counter[str], str]:
    """(protected tokens, the translatable rest with each token replaced by a space)."""
    if _SPECIAL.search(text) is None:
        return _NONE, text
    tokens: list[str] = []
    prose: list[str] = []
    _walk(text, 0, len(text), (tokens, prose), False)
    return Counter(tokens), " ".join(prose)


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


def _translatable(prose: str) -> bool:
    """A word to translate: 2+ letters not all capitals (acronyms such as URL, SKU, UTC
    stay as they are), or any letter of a script written without spaces."""
    if any(not word.isupper() for word in _WORD.findall(prose)):
        return True
    return re.search(_UNSPACED, prose) is not None


def _echo(source: str, translation: str, prose: str) -> bool:
    if translation.strip().casefold() != source.strip().casefold():
        return False
    return _translatable(prose)


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
