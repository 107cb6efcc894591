"""Deterministic pseudo-translation: what the simulator answers instead of a real translation.

    pseudo_translate("Save {count} files", "German") -> "Šáááṽé {count} ƒíííļéš"

Letters become accented Latin (words of 4+ letters about 30% longer) or the
target's script (Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, and one
character per 1-2 letters for Japanese, Chinese, Korean); placeholders, ICU
syntax, tags, entities, URLs, e-mail addresses and code are kept byte-exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .config import LANGUAGES

__all__ = ["language_name", "pseudo_translate"]

_SPECIAL = re.compile(r"[%{<&@`]|://|\[\[|www\.")
_PROTECTED = re.compile(
    r"""(?P<url>\b(?:https?|ftp)://[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}]|\bwww\.[\w-]+\.[^\s<>"'`]*\w)
    |(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    |(?P<code>``[^\n]+?``|`[^`\n]+`)
    |(?P<tag><!--.*?-->|</?[A-Za-z][\w:.-]*(?:\s[^<>\n]*)?/?>)
    |(?P<entity>&(?:[A-Za-z][A-Za-z0-9]*|\#[0-9]+|\#[xX][0-9A-Fa-f]+);)
    |(?P<printf>%(?:\([^()\s]+\))?(?:[0-9]+\$)?[-+\#0]*(?:[0-9]+|\*)?(?:\.[0-9]+)?[hlLqjzt]*[sdifFeEgGxXocrabu%@])
    |(?P<marker>\[\[sim:\w+\]\])
    |(?P<brace>\{)""",
    re.VERBOSE,
)
_ICU_HEAD = re.compile(r"\s*[\w.]+\s*,\s*(?:plural|selectordinal|select)\s*,")
_ICU_CASE = re.compile(r"\s*(?:offset:\s*\d+\s*)?(=\d+|[\w-]+)\s*(?=\{)")
_SIMPLE_BRACE = re.compile(
    r"\{(?:\s*[\w.\[\]-]*\s*(?:![rsa])?(?::[^{}]*)?|\s*[\w.]+\s*,\s*\w+\s*(?:,[^{}]*)?|\{[^{}]*\})\}"
)
_WORD4 = re.compile(r"[A-Za-z]{4,}")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_PAIR = re.compile(r"[A-Za-z]{1,2}")
_BRACES = re.compile(r"[{}]")
_LOWER = "abcdefghijklmnopqrstuvwxyz"


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


def _plain(text: str, script: str) -> str:
    out = _TRANSFORMS[script](text)
    if out == text:  # no ASCII letters: mark the first letter so the text still changes
        for i, char in enumerate(text):
            if char.isalpha():
                return text[: i + 1] + _TRANSFORMS[script]("x") + text[i + 1 :]
    return out


def _brace_end(text: str, start: int) -> int:
    """Index just past the brace that closes the one at ``start``; -1 if unbalanced."""
    depth = 0
    for brace in _BRACES.finditer(text, start):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return brace.end()
    return -1


def _render_icu_cases(cases: str, script: str) -> str:
    """`` one {# item} other {# items}`` -> selectors kept, case messages translated."""
    out: list[str] = []
    pos = 0
    while (match := _ICU_CASE.match(cases, pos)) is not None:
        end = _brace_end(cases, match.end())
        if end < 0:
            return cases
        out.append(cases[pos : match.end() + 1])
        out.append(_render(cases[match.end() + 1 : end - 1], script) + "}")
        pos = end
    return "".join(out) + cases[pos:] if not cases[pos:].strip() else cases


def _render_brace(group: str, script: str) -> str:
    if _SIMPLE_BRACE.fullmatch(group):
        return group
    head = _ICU_HEAD.match(group, 1)
    if head is not None:
        return group[: head.end()] + _render_icu_cases(group[head.end() : -1], script) + "}"
    return "{" + _render(group[1:-1], script) + "}"


def _render(text: str, script: str) -> str:
    """Translate one line (or fence-free text): protected tokens kept, the rest transformed."""
    if _SPECIAL.search(text) is None:
        return _plain(text, script)
    out: list[str] = []
    pos = 0
    while (match := _PROTECTED.search(text, pos)) is not None:
        start, end, token = match.start(), match.end(), match.group()
        if match.lastgroup == "brace":
            end = _brace_end(text, start)
            if end < 0:  # a lone "{" is punctuation
                out.append(_plain(text[pos : start + 1], script))
                pos = start + 1
                continue
            token = _render_brace(text[start:end], script)
        out.append(_plain(text[pos:start], script))
        out.append(token)
        pos = end
    out.append(_plain(text[pos:], script))
    return "".join(out)


def pseudo_translate(text: str, target_lang: str) -> str:
    """Deterministic fake translation into the script of ``target_lang`` (name or code).

    Keeps line breaks, each line's outer whitespace, printf and brace
    placeholders, ICU syntax, tags, entities, URLs, e-mail addresses, code
    spans and fenced code blocks byte-exact; digits and punctuation unchanged.
    """
    script = _SCRIPT_OF.get(language_name(target_lang).lower(), "latin")
    if "```" not in text and "~~~" not in text:
        return _render(text, script)
    lines = text.split("\n")
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines[i] = _render(line, script)
    return "\n".join(lines)
