"""Deterministic pseudo-translation: what the simulator answers instead of a real translation.

    pseudo_translate("Save {count} files", "German") -> "Šáááṽé {count} ƒíííļéš"

Letters become accented Latin (words of 4+ letters about 30% longer) or the
target's script (Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, and one
character per 1-2 letters for Japanese, Chinese, Korean); the protected tokens
of the one placeholder grammar (``placeholders.py``, the one QA checks:
placeholders, ICU syntax, tags, entities, URLs, e-mail addresses, code) are
kept byte-exact.
Glossary ``terms`` (source, target) are honoured: each whole-word,
case-insensitive occurrence of a source term outside protected tokens becomes
the target term, verbatim.

``corrupt`` gives the simulator's deliberately wrong answers, one kind at a
time, for QA tests: a placeholder altered or dropped, the source echoed, the
glossary ignored, the wrong script; None when the text cannot show that fault.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence

from ..config import LANGUAGES
from ..placeholders import UNSPACED, parse, spans, translatable

__all__ = ["corrupt", "language_name", "pseudo_translate"]

_WORD4 = re.compile(r"[A-Za-z]{4,}")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_PAIR = re.compile(r"[A-Za-z]{1,2}")
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_HELD = re.compile("[\U000f0000-\U000ffffd]")  # a glossary term held out of the transform
_ICU_KEYWORD = re.compile(r"\b(?:plural|selectordinal|select)\b")
_RENAMED = {"plural": "pluriel", "selectordinal": "ordinal", "select": "selección"}


def _letter_table(letters: str) -> dict[int, str]:
    """26 space-separated replacements for a..z; A..Z map to their upper case."""
    values = letters.split()
    table = {ord(c): v for c, v in zip(_LOWER, values, strict=True)}
    table.update({ord(c.upper()): v.upper() for c, v in zip(_LOWER, values, strict=True)})
    return table


def _pair_table(first: int, size: int) -> dict[str, str]:
    """Every 1-2 letter ASCII run -> one character of the block [first, first + size)."""
    letters = _LOWER + _LOWER.upper()
    runs = list(letters) + [a + b for a in letters for b in letters]
    return {
        run: chr(first + (sum(ord(c) << (7 * i) for i, c in enumerate(run)) * 40503) % size)
        for run in runs
    }


_LATIN = _letter_table("á ƀ ç ď é ƒ ğ ĥ í ĵ ķ ļ ḿ ñ ö ṕ ʠ ř š ţ ü ṽ ŵ ẋ ý ž")
_TABLES = {
    "cyrillic": _letter_table("а б ц д е ф г х и й к л м н о п я р с т у в ш ж ы з"),  # noqa: RUF001
    "greek": _letter_table("α β ψ δ ε φ γ η ι ξ κ λ μ ν ο π θ ρ σ τ υ ω ς χ υ ζ"),  # noqa: RUF001
    "arabic": _letter_table("ا ب ك د ي ف غ ه ي ج ك ل م ن و ب ق ر س ت و ف و خ ي ز"),  # noqa: RUF001
    "hebrew": _letter_table("א ב ק ד ע פ ג ה י ג כ ל מ נ ו פ ק ר ס ת ו ב ו ח י ז"),  # noqa: RUF001
    "thai": _letter_table("อ บ ค ด เ ฟ ก ห ย จ ข ล ม น โ พ ค ร ส ท ว ว ว ซ ย ซ"),
    "devanagari": _letter_table("अ ब क द ए फ ग ह इ ज क ल म न ओ प क र स त उ व व ख य ज"),
}
_PAIRS = {"katakana": _pair_table(0x30A1, 86), "han": _pair_table(0x4E00, 0x5000),
          "hangul": _pair_table(0xAC00, 11172)}  # fmt: skip
_SCRIPT_OF = {
    language: script
    for script, languages in (
        ("cyrillic", "russian ukrainian bulgarian serbian belarusian macedonian kazakh"),
        ("han", "chinese simplified_chinese traditional_chinese cantonese"),
        ("arabic", "arabic persian western_persian urdu"),
        ("devanagari", "hindi marathi nepali"),
        ("katakana", "japanese"), ("hangul", "korean"), ("hebrew", "hebrew"),
        ("greek", "greek"), ("thai", "thai"),
    )
    for language in (name.replace("_", " ") for name in languages.split())
}  # fmt: skip
_NAMES = {code: lang.name for code, lang in LANGUAGES.items()}


def language_name(value: str) -> str:
    """``de``/``zh_tw``/``German`` -> the English name; unknown values come back stripped."""
    value = value.strip()
    return _NAMES.get(value.replace("_", "-").lower(), value)


def _stretch(match: re.Match[str]) -> str:
    word = match.group()
    vowel = _VOWEL.search(word)
    if vowel is None:
        return word
    i = vowel.start()
    return word[: i + 1] + word[i] * (len(word) // 2) + word[i + 1 :]


def _transform(script: str) -> Callable[[str], str]:
    if script == "latin":
        return lambda s: _WORD4.sub(_stretch, s).translate(_LATIN)
    if script in _PAIRS:
        pairs = _PAIRS[script]
        return lambda s: _PAIR.sub(lambda m: pairs[m.group()], s)
    table = _TABLES[script]
    return lambda s: s.translate(table)


_TRANSFORMS = {name: _transform(name) for name in ("latin", *_TABLES, *_PAIRS)}
Gap = Callable[[str], str]  # translates a stretch of text that holds no protected token
Terms = Sequence[tuple[str, str]]


def _plain(text: str, script: str) -> str:
    out = _TRANSFORMS[script](text)
    if out == text:  # no ASCII letters: mark the first letter so the text still changes
        for i, char in enumerate(text):
            if char.isalpha():
                return text[: i + 1] + _TRANSFORMS[script]("x") + text[i + 1 :]
    return out


_GAPS: dict[str, Gap] = {name: functools.partial(_plain, script=name) for name in _TRANSFORMS}


def _fold(term: str) -> str:
    return " ".join(term.split()).casefold()


def _term_regex(term: str) -> str:
    """``term`` as a whole word or phrase: any white space between its words."""
    words = term.split()
    edges = (words[0][0], words[-1][-1])
    bounded = [(c.isalnum() or c == "_") and not re.match(UNSPACED, c) for c in edges]
    body = r"\s+".join(map(re.escape, words))
    return (r"(?<!\w)" if bounded[0] else "") + body + (r"(?!\w)" if bounded[1] else "")


@functools.lru_cache(maxsize=256)
def _term_index(terms: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One case-insensitive pattern for the source terms, longest first; folded source -> target."""
    first: dict[str, tuple[str, str]] = {}
    for source, target in terms:
        if source.strip():
            first.setdefault(_fold(source), (source, target))
    sources = (source for source, _ in first.values())
    ordered = sorted(sources, key=lambda source: len(_fold(source)), reverse=True)
    pattern = re.compile("|".join(map(_term_regex, ordered)) or "(?!)", re.IGNORECASE)
    return pattern, {folded: target for folded, (_, target) in first.items()}


def _with_terms(plain: Gap, terms: Terms) -> Gap:
    """``plain``, with each glossary source term replaced by its target, untransformed."""
    pattern, targets = _term_index(tuple(terms))

    def gap(text: str) -> str:
        held: list[str] = []

        def hold(match: re.Match[str]) -> str:
            target = targets.get(_fold(match.group()))
            if target is None:  # case-insensitive matching and folding disagree: leave it
                return match.group()
            held.append(target)
            return chr(0xF0000 + len(held) - 1)

        if _HELD.search(text) is not None:  # the text uses the private area itself
            return plain(text)
        out = plain(pattern.sub(hold, text))
        return _HELD.sub(lambda m: held[ord(m.group()) - 0xF0000], out) if held else out

    return gap


def _translate(text: str, gap: Gap) -> str:
    """``text`` with its protected pieces kept and its prose through ``gap``."""
    return "".join(gap(p.text) if not p.kind else p.text for p in parse(text).pieces)


def _script(target_lang: str) -> str:
    return _SCRIPT_OF.get(language_name(target_lang).lower(), "latin")


def pseudo_translate(text: str, target_lang: str, *, terms: Terms = ()) -> str:
    """Deterministic fake translation into the script of ``target_lang`` (name or code).

    Keeps line breaks, each line's outer whitespace, printf and brace
    placeholders, ICU syntax, tags, entities, URLs, e-mail addresses, code
    spans and fenced code blocks byte-exact; digits and punctuation unchanged.
    ``terms``: glossary (source, target) pairs; a source term found in the
    text (whole words, any case, longest first) is answered with its target.
    """
    gap = _GAPS[_script(target_lang)]
    return _translate(text, _with_terms(gap, terms) if terms else gap)


# --- wrong answers, for QA tests -----------------------------------------------------------


def _altered(token: str, kind: str) -> str:
    """A placeholder as a careless translator leaves it: renamed, or (``""``) dropped."""
    if kind == "printf" and token.startswith("%("):
        close = token.index(")")
        name = _TRANSFORMS["latin"](token[2:close])
        if name != token[2:close]:
            return f"%({name}{token[close:]}"
    if kind == "brace" and parse(token).pieces[0].kind == "icu":
        return _ICU_KEYWORD.sub(lambda m: _RENAMED[m.group()], token, count=1)
    return ""


def _broken_placeholder(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    answer = pseudo_translate(text, target_lang, terms=terms)
    found = [span for span in spans(answer) if span.kind != "marker"]
    if not found:
        return None
    span = found[pick % len(found)]
    start, end = span.start, span.end
    token = answer[start:end]
    new = _altered(token, span.kind)
    if not (answer[:start] + new + answer[end:]).strip():  # dropped the only content
        new = _TRANSFORMS["latin"](token)  # "translated" it instead
    wrong = answer[:start] + new + answer[end:]
    # a comment's text is free: "translating" a text that is one comment breaks nothing
    return None if Counter(parse(wrong).tokens) == Counter(parse(answer).tokens) else wrong


def _echo(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    return text if translatable(parse(text).prose) else None


def _dropped_terms(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    answer = pseudo_translate(text, target_lang)
    return answer if terms and answer != pseudo_translate(text, target_lang, terms=terms) else None


def _wrong_script(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    letters = [char for char in parse(text).prose if char.isalpha()]
    if len(letters) < 3 or not all(char.isascii() for char in letters):
        return None
    wrong = "cyrillic" if _script(target_lang) == "latin" else "latin"
    return _translate(text, _GAPS[wrong])


def _latin(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    return None if _script(target_lang) == "latin" else _translate(text, _GAPS["latin"])


_CORRUPTIONS = {
    "placeholders": _broken_placeholder,
    "echo": _echo,
    "dropterms": _dropped_terms,
    "script": _wrong_script,
    "latin": _latin,
}


def corrupt(
    text: str, target_lang: str, fault: str, *, terms: Terms = (), pick: int = 0
) -> str | None:
    """A wrong answer for ``text`` of the kind ``fault`` names; None if ``text`` cannot show it.

        placeholders  one protected token of the answer altered (``%(name)s`` ->
                      ``%(ñáḿé)s``, ``plural`` -> ``pluriel``) or dropped (``{count}``,
                      ``<b>``): the ``pick``-th, modulo their number; None without one (or when
                      the break would not change the tokens QA compares)
        echo          ``text`` itself; None unless QA would flag it: a word to translate
                      outside its tokens (``placeholders.translatable``)
        dropterms     the answer without the glossary ``terms``; None if they change nothing
        script        the wrong script (Cyrillic for a Latin-script target, else Latin),
                      terms ignored; None unless 3+ letters outside tokens, all ASCII
        latin         the answer in Latin script; None when the target is written in it

    Never the right answer: None when the wrong one would equal it.
    """
    wrong = _CORRUPTIONS[fault](text, target_lang, terms, pick)
    return None if wrong == pseudo_translate(text, target_lang, terms=terms) else wrong
