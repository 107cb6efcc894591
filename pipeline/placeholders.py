"""The placeholder grammar: which characters of a text are protected, which are prose.

One grammar for QA (``qa.py``: the tokens of a source and its translation must
match) and the simulator (``sim/pseudo.py``: it keeps every token byte-exact and
transforms the prose), so a correct simulated answer is never flagged.

    parse("Save {count} <b>files</b>").tokens == ("{count}", "<b>", "</b>")

Protected tokens (``Span.kind``), tried in this order at each position:

    url      ``https://...``, ``ftp://...``, ``www.example.com`` (no trailing punctuation)
    email    ``admin@example.org``
    fence    a Markdown fenced code block: from a line starting with ```` ``` ```` or
             ``~~~`` to the next such line (or the end of the text)
    code     Markdown code spans: ```` `make test` ````
    element  an element kept whole with its content: Android ``<xliff:g>``, XLIFF 1.2
             native code ``<ph>``, ``<bpt>``, ``<ept>``, ``<it>``
    tag      HTML/XML tags and comments (``<x id="1"/>``, ``<g>``, ``<pc>``), react-i18next
             numbered tags (``<1>``, ``</1>``, ``<2/>``); compared whole except the
             values of ``title``/``alt`` (translatable: only their placeholders count)
             and the text of comments
    entity   ``&amp;``, ``&#160;``, ``&#xA0;``
    printf   ``%s``, ``%d``, ``%1$s``, ``%lld``, ``%@``, ``%1$@``, ``%(name)s``, ``%-5.2f``, ``%%``
    marker   ``[[name]]``, ``[[sim:echo]]`` (the simulator's test hooks)
    brace    ``{name}``, ``{0}``, ``{}``, ``{name:fmt}``, ``{name!r}``, ``{n, number}``,
             ``{{var}}``: one token each; an ICU ``plural``/``select``/``selectordinal``
             argument as its skeleton, recursively (``{count, plural,`` ``one{`` ...
             ``}`` ``other{`` ... ``}`` ``}``, plus ``#`` inside plural cases; white space
             in the skeleton is not significant); braces around other text: ``{``, the
             text (prose), ``}``.  A lone ``{`` is punctuation.

``translatable(prose)`` is the rule for "has a word to translate" (echo detection).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["UNSPACED", "Parsed", "Piece", "Span", "parse", "spans", "translatable"]

_SPECIAL = re.compile(r"[%{<&@`]|://|\[\[|www\.|~~~")  # no match: the text has no token
_TOKEN = re.compile(
    r"""(?P<url>\b(?:https?|ftp)://[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}]|\bwww\.[\w-]+\.[^\s<>"'`]*\w)
    |(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    |(?P<fence>(?m:^)[ \t]*(?:```|~~~)[^\n]*
        (?:\n(?:[^\n]*\n)*?[ \t]*(?:```|~~~)[^\n]*|(?:\n[^\n]*)*))
    |(?P<code>``[^\n]+?``|`[^`\n]+`)
    |(?P<element><(?P<whole>xliff:g|ph|bpt|ept|it)(?:\s[^<>\n]*)?(?<!/)>.*?</(?P=whole)\s*>)
    |(?P<tag><!--.*?-->|</?[A-Za-z][\w:.-]*(?:\s[^<>\n]*)?/?>|</?[0-9]+/?>)
    |(?P<entity>&(?:[A-Za-z][A-Za-z0-9]*|\#[0-9]+|\#[xX][0-9A-Fa-f]+);)
    |(?P<printf>%(?:\([^()\s]+\))?(?:[0-9]+\$)?[-+\#0]*(?:[0-9]+|\*)?(?:\.[0-9]+)?[hlLqjzt]*[sdifFeEgGxXocrabu%@])
    |(?P<marker>\[\[[A-Za-z_][\w.:-]*\]\])
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
# Scripts written without spaces between words: no word boundary.  A pattern, compiled
# on first use (re's cache): compiling a class this wide costs ~3 ms at every start.
UNSPACED = (
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff]"
)


@dataclass(frozen=True, slots=True)
class Span:
    """An outermost protected token: ``text[start:end]``, of a kind named above."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of a text: prose (``kind == ""``) or protected characters, kept byte-exact.

    ``tokens`` is what the stretch adds to the multiset QA compares (``()`` for
    prose): usually its text, but an ICU skeleton without white space, a tag
    with its ``title``/``alt`` values blanked, a comment without its text.
    """

    text: str
    kind: str = ""
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    """A text cut into pieces (their texts join to it), its tokens, and its prose."""

    pieces: tuple[Piece, ...]
    tokens: tuple[str, ...]
    prose: str  # the prose pieces joined with a space where each token was


def spans(text: str) -> list[Span]:
    """The outermost protected tokens of ``text``: a brace group up to its closing brace."""
    return list(_spans(text, 0, len(text))) if _SPECIAL.search(text) else []


def parse(text: str) -> Parsed:
    """``text`` as prose and protected pieces, brace groups and ICU arguments opened up."""
    if _SPECIAL.search(text) is None:
        return Parsed((Piece(text),) if text else (), (), text)
    out: list[Piece] = []
    _walk(text, 0, len(text), out, False)
    tokens = tuple(token for piece in out for token in piece.tokens)
    prose = " ".join(piece.text for piece in out if not piece.kind)
    return Parsed(tuple(out), tokens, prose)


def translatable(prose: str) -> bool:
    """A word to translate: 2+ letters not all capitals (acronyms such as URL, SKU, UTC
    stay as they are), or any letter of a script written without spaces."""
    if any(not word.isupper() for word in _WORD.findall(prose)):
        return True
    return re.search(UNSPACED, prose) is not None


# --- the walk ------------------------------------------------------------------------


def _brace_end(text: str, start: int, end: int) -> int:
    """Index just past the brace closing the one at ``start`` (before ``end``); -1 if none."""
    depth = 0
    for brace in _BRACES.finditer(text, start, end):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return brace.end()
    return -1


def _spans(text: str, pos: int, end: int) -> Iterator[Span]:
    while (match := _TOKEN.search(text, pos, end)) is not None:
        start, kind = match.start(), match.lastgroup or ""
        stop = _brace_end(text, start, end) if kind == "brace" else match.end()
        if stop < 0:  # a lone "{" is punctuation
            pos = start + 1
            continue
        yield Span(start, stop, kind)
        pos = stop


def _walk(text: str, pos: int, end: int, out: list[Piece], plural: bool) -> None:
    """Append the pieces of ``text[pos:end]`` to ``out``; ``plural``: inside a plural case."""
    for span in _spans(text, pos, end):
        _prose(text[pos : span.start], out, plural)
        if span.kind == "brace":
            _brace(text, span.start, span.end, out, plural)
        else:
            token = text[span.start : span.end]
            out.append(Piece(token, span.kind, _compared(token, span.kind)))
        pos = span.end
    _prose(text[pos:end], out, plural)


def _prose(text: str, out: list[Piece], plural: bool) -> None:
    """Translatable text between tokens; ``#`` is the number inside a plural case."""
    if plural and "#" in text:
        first, *rest = text.split("#")
        _prose(first, out, False)
        for part in rest:
            out.append(Piece("#", "brace", ("#",)))
            _prose(part, out, False)
    elif text:
        out.append(Piece(text))


def _compared(token: str, kind: str) -> tuple[str, ...]:
    """A tag as compared: ``title``/``alt`` values blanked, their placeholders kept; a
    comment's text is free (a note to translators may be translated or not)."""
    if kind != "tag":
        return (token,)
    if token.startswith("<!--"):
        return ("<!--…-->",)
    lowered = token.lower()
    if "title" not in lowered and "alt" not in lowered:
        return (token,)
    inner: list[str] = []

    def blank(match: re.Match[str]) -> str:
        inner.extend(parse(match.group(2)[1:-1]).tokens)
        return match.group(1) + '"…"'

    blanked = _TRANSLATABLE_ATTR.sub(blank, token)
    return (*inner, blanked)


def _brace(text: str, start: int, close: int, out: list[Piece], plural: bool) -> None:
    group = text[start:close]
    if _SIMPLE_BRACE.fullmatch(group):
        out.append(Piece(group, "brace", (group,)))
    elif (head := _ICU_HEAD.match(text, start + 1, close)) is not None:
        _icu(text, start, head, close, out, plural)
    else:  # braces around text: the braces are kept, the text inside is translated
        out.append(Piece("{", "brace", ("{",)))
        _walk(text, start + 1, close - 1, out, plural)
        out.append(Piece("}", "brace", ("}",)))


def _icu(
    text: str, start: int, head: re.Match[str], close: int, out: list[Piece], plural: bool
) -> None:
    """An ICU plural/select argument from ``start`` to ``close``: its skeleton as tokens."""
    out.append(Piece(text[start : head.end()], "icu", (f"{{{head.group(1)}, {head.group(2)},",)))
    plural = plural or head.group(2) != "select"  # "#" is the number of the nearest plural
    pos, last = head.end(), close - 1
    while (case := _ICU_CASE.match(text, pos, last)) is not None:
        end = _brace_end(text, case.end() - 1, last)
        if end < 0:
            break
        offset = (f"offset:{case.group(1)}",) if case.group(1) is not None else ()
        out.append(Piece(text[pos : case.end()], "icu", (*offset, case.group(2) + "{")))
        _walk(text, case.end(), end - 1, out, plural)
        out.append(Piece("}", "icu", ("}",)))
        pos = end
    rest = text[pos:last].strip()  # not ICU after all: what is left is compared exactly
    out.append(Piece(text[pos:close], "icu", (rest, "}") if rest else ("}",)))
