"""Deterministic pseudo-translation: what the simulator answers instead of a real translation.

    pseudo_translate("Save {count} files", "German") -> "Šáááṽé {count} ƒíííļéš"

Letters become accented Latin (words of 4+ letters about 30% longer) or the
target's script (Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, and one
character per 1-2 letters for Japanese, Chinese, Korean); placeholders, ICU
syntax, tags, entities, URLs, e-mail addresses and code are kept byte-exact.
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
from collections.abc import Callable, Sequence

from ..config import LANGUAGES

__all__ = ["corrupt", "language_name", "pseudo_translate"]

_SPECIAL = re.compile(r"[%{<&@`]|://|\[\[|www\.")
_PROTECTED = re.compile(
    r"""(?P<url>\b(?:https?|ftp)://[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}]|\bwww\.[\w-]+\.[^\s<>"'`]*\w)
    |(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    |(?P<code>``[^\n]+?``|`[^`\n]+`)
    |(?P<tag><!--.*?-->|</?[A-Za-z][\w:.-]*(?:\s[^<>\n]*)?/?>)
    |(?P<entity>&(?:[A-Za-z][A-Za-z0-9]*|\#[0-9]+|\#[xX][0-9A-Fa-f]+);)
    |(?P<printf>%(?:\([^()\s]+\))?(?:[0-9]+\$)?[-+\#0]*(?:[0-9]+|\*)?(?:\.[0-9]+)?[hlLqjzt]*[sdifFeEgGxXocrabu%@])
    |(?P<marker>\[\[sim:[\w-]+\]\])
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
_UNSPACED = re.compile(  # scripts written without spaces between words: no word boundary
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff]"
)
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
    bounded = [(c.isalnum() or c == "_") and not _UNSPACED.match(c) for c in edges]
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


def _brace_end(text: str, start: int) -> int:
    """Index just past the brace that closes the one at ``start``; -1 if unbalanced."""
    depth = 0
    for brace in _BRACES.finditer(text, start):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return brace.end()
    return -1


def _render_icu_cases(cases: str, gap: Gap) -> str:
    """`` one {# item} other {# items}`` -> selectors kept, case messages translated."""
    out: list[str] = []
    pos = 0
    while (match := _ICU_CASE.match(cases, pos)) is not None:
        end = _brace_end(cases, match.end())
        if end < 0:
            return cases
        out.append(cases[pos : match.end() + 1])
        out.append(_render(cases[match.end() + 1 : end - 1], gap) + "}")
        pos = end
    return "".join(out) + cases[pos:] if not cases[pos:].strip() else cases


def _render_brace(group: str, gap: Gap) -> str:
    if _SIMPLE_BRACE.fullmatch(group):
        return group
    head = _ICU_HEAD.match(group, 1)
    if head is not None:
        return group[: head.end()] + _render_icu_cases(group[head.end() : -1], gap) + "}"
    return "{" + _render(group[1:-1], gap) + "}"


_Span = tuple[int, int, str]  # start, end, kind: a _PROTECTED group, or "lone" for a lone "{"


def _spans(text: str) -> list[_Span]:
    """The protected tokens of ``text``, outermost only: a brace group up to its closing brace."""
    spans: list[_Span] = []
    pos = 0
    while (match := _PROTECTED.search(text, pos)) is not None:
        start, end, kind = match.start(), match.end(), match.lastgroup or ""
        if kind == "brace":
            end = _brace_end(text, start)
            if end < 0:
                end, kind = start + 1, "lone"
        spans.append((start, end, kind))
        pos = end
    return spans


def _render(text: str, gap: Gap) -> str:
    """Translate one line (or fence-free text): protected tokens kept, the rest transformed."""
    if _SPECIAL.search(text) is None:
        return gap(text)
    out: list[str] = []
    pos = 0
    for start, end, kind in _spans(text):
        if kind == "lone":  # a lone "{" is punctuation, translated with the text before it
            out.append(gap(text[pos:end]))
        else:
            token = text[start:end]
            out.append(gap(text[pos:start]))
            out.append(_render_brace(token, gap) if kind == "brace" else token)
        pos = end
    out.append(gap(text[pos:]))
    return "".join(out)


def _translate(text: str, gap: Gap) -> str:
    if "```" not in text and "~~~" not in text:
        return _render(text, gap)
    lines = text.split("\n")
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines[i] = _render(line, gap)
    return "\n".join(lines)


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


def _outside(text: str) -> str:
    """``text`` with its protected tokens (simulator markers included) blanked out."""
    pieces, pos = [], 0
    for start, end, kind in _spans(text) if _SPECIAL.search(text) else ():
        if kind != "lone":
            pieces.append(text[pos:start])
            pos = end
    return " ".join([*pieces, text[pos:]])


def _altered(token: str, kind: str) -> str:
    """A placeholder as a careless translator leaves it: renamed, or (``""``) dropped."""
    if kind == "printf" and token.startswith("%("):
        close = token.index(")")
        name = _TRANSFORMS["latin"](token[2:close])
        if name != token[2:close]:
            return f"%({name}{token[close:]}"
    if kind == "brace" and _ICU_HEAD.match(token, 1):
        return _ICU_KEYWORD.sub(lambda m: _RENAMED[m.group()], token, count=1)
    return ""


def _broken_placeholder(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    answer = pseudo_translate(text, target_lang, terms=terms)
    spans = [span for span in _spans(answer) if span[2] not in ("lone", "marker")]
    if not spans:
        return None
    start, end, kind = spans[pick % len(spans)]
    token = answer[start:end]
    new = _altered(token, kind)
    if not (answer[:start] + new + answer[end:]).strip():  # dropped the only content
        new = _TRANSFORMS["latin"](token)  # "translated" it instead
    return None if new == token else answer[:start] + new + answer[end:]


def _echo(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    return text if _WORD4.search(_outside(text)) else None


def _dropped_terms(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    answer = pseudo_translate(text, target_lang)
    return answer if terms and answer != pseudo_translate(text, target_lang, terms=terms) else None


def _wrong_script(text: str, target_lang: str, terms: Terms, pick: int) -> str | None:
    letters = [char for char in _outside(text) if char.isalpha()]
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
                      ``<b>``): the ``pick``-th, modulo their number; None without one
        echo          ``text`` itself; None unless it has a word of 4+ ASCII letters
        dropterms     the answer without the glossary ``terms``; None if they change nothing
        script        the wrong script (Cyrillic for a Latin-script target, else Latin),
                      terms ignored; None unless 3+ letters outside tokens, all ASCII
        latin         the answer in Latin script; None when the target is written in it

    Never the right answer: None when the wrong one would equal it.
    """
    wrong = _CORRUPTIONS[fault](text, target_lang, terms, pick)
    return None if wrong == pseudo_translate(text, target_lang, terms=terms) else wrong
