"""Glossaries (terms the translation must use) and translation memories (example pairs).

``load_glossary(path)`` reads a CSV, TSV or JSON Lines file with the columns
``source``, ``target`` and optionally ``lang`` (aliases: ``src``/``term``,
``tgt``/``translation``, ``language``/``target_lang``); ``lang`` is a code or
an English name, empty for every target.  Two different translations of one
term (case-insensitively) for one language are refused, naming both lines.

``Glossary.for_text(text, target_lang)`` finds the terms in a text with one
compiled regular expression per target language: the terms, lower-cased, are
folded into a character trie and written as nested alternations
(``(?:page(?:\\s+tree(?!\\w)|(?!\\w))|...)``), so the engine follows shared
prefixes instead of trying thousands of alternatives at every position; at
each node the longer continuation is tried first, so the longest term wins.
Terms match whole words (not inside a longer word), case-insensitively, with
any white space between their words; edges in scripts written without spaces
(CJK, Thai ...) have no word boundary.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import resolve_language
from .errors import UsageError

__all__ = ["Glossary", "Term", "load_glossary", "load_memory"]

_COLUMNS = {
    "source": ("source", "src", "term"),
    "target": ("target", "tgt", "translation"),
    "lang": ("lang", "language", "target_lang"),
}
_HINT = "name the header columns source,target[,lang]"
# Scripts written without spaces between words: no word boundary.  A pattern, compiled
# on first use (re's cache): compiling a class this wide costs ~3 ms at every start.
_UNSPACED = (
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff]"
)
_Trie = dict[str, "_Trie"]


@dataclass(frozen=True, slots=True)
class Term:
    source: str
    target: str
    lang: str | None = None  # a code or English name as in the file; None: every target


@dataclass(frozen=True, slots=True)
class _Index:
    pattern: re.Pattern[str] | None
    pairs: dict[str, tuple[str, str]]  # normalised source -> (source, target)


@dataclass(frozen=True, slots=True)
class Glossary:
    """Terms for one run.  A term for one language overrides the same term for all."""

    terms: tuple[Term, ...]
    _indexes: dict[str, _Index] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        for lang in {term.lang for term in self.terms if term.lang is not None}:
            _language_code(lang)  # an unknown language fails here, not on the first cell

    def for_text(self, text: str, target_lang: str) -> tuple[tuple[str, str], ...]:
        """The (source, target) terms that occur in ``text``, longest match first,
        in order of first occurrence, each once; ``target_lang`` is a name or code."""
        index = self._indexes.get(target_lang)
        if index is None:
            index = self._indexes[target_lang] = self._index(_language_code(target_lang))
        if index.pattern is None:
            return ()
        found: dict[tuple[str, str], None] = {}  # ordered set
        for match in index.pattern.finditer(text):
            key = _normalise(match.group())
            pair = index.pairs.get(key) or _fold_lookup(index.pairs, key)
            if pair is not None:
                found[pair] = None
        return tuple(found)

    def _index(self, code: str) -> _Index:
        general: dict[str, tuple[str, str]] = {}
        specific: dict[str, tuple[str, str]] = {}
        for term in self.terms:
            key = _normalise(term.source)
            if not key or not term.target.strip():
                continue
            if term.lang is None:
                general[key] = (term.source, term.target)
            elif _language_code(term.lang) == code:
                specific[key] = (term.source, term.target)
        pairs = general | specific
        if not pairs:
            return _Index(None, pairs)
        return _Index(re.compile(_trie_regex(pairs), re.IGNORECASE), pairs)


def _normalise(term: str) -> str:
    return " ".join(term.split()).lower()


def _fold_lookup(pairs: dict[str, tuple[str, str]], key: str) -> tuple[str, str] | None:
    """The entry whose key matched under the regex's case folding but not ``str.lower``."""
    folded = key.casefold()
    return next((pair for k, pair in pairs.items() if k.casefold() == folded), None)


@functools.lru_cache(maxsize=256)
def _language_code(lang: str) -> str:
    return resolve_language(lang).code


def _needs_boundary(char: str) -> bool:
    return (char.isalnum() or char == "_") and re.match(_UNSPACED, char) is None


def _trie_regex(keys: dict[str, Any]) -> str:
    trie: _Trie = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}  # a term ends here
    branches = [
        (r"(?<!\w)" if _needs_boundary(char) else "") + _emit(char, trie[char])
        for char in sorted(trie)
    ]
    return "|".join(branches)


def _emit(char: str, node: _Trie) -> str:
    """``char`` and the subtree after it; longer continuations before the term's end."""
    parts = [_literal(char)]
    while len(node) == 1 and "" not in node:  # a chain without branches: no group, no recursion
        ((char, node),) = node.items()
        parts.append(_literal(char))
    alternatives = [_emit(child, node[child]) for child in sorted(node) if child]
    if "" in node:
        alternatives.append(r"(?!\w)" if _needs_boundary(char) else "")
    if len(alternatives) == 1:
        return "".join(parts) + alternatives[0]
    return "".join(parts) + "(?:" + "|".join(alternatives) + ")"


def _literal(char: str) -> str:
    return r"\s+" if char == " " else re.escape(char)


# --- files ----------------------------------------------------------------------------


def _decode(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{path}: cannot read the {what} ({reason}); check the path") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: the {what} is not UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from exc


def _pick(path: Path, names: list[str], want: str, *, required: bool) -> str | None:
    """The header name standing for ``want`` (source, target, lang)."""
    present = [name for name in names if name.strip().lower() in _COLUMNS[want]]
    if len(present) > 1:
        raise UsageError(f"{path}: columns {' and '.join(present)} both give the {want}; keep one")
    if not present and required:
        raise UsageError(f"{path}: no {want} column (columns: {', '.join(names)}); {_HINT}")
    return present[0] if present else None


def _rows(path: Path, what: str) -> Iterator[tuple[int, str, str, str]]:
    """(line, source, target, lang) of each row of a CSV, TSV or JSON Lines file."""
    text = _decode(path, what)
    suffix = path.suffix.lower()
    sniffed = suffix not in (".csv", ".tsv", ".tab") and text.lstrip().startswith("{")
    if suffix in (".jsonl", ".ndjson") or sniffed:
        yield from _json_rows(path, text)
        return
    first = text.split("\n", 1)[0]
    tabs = suffix in (".tsv", ".tab") or (suffix != ".csv" and first.count("\t") > first.count(","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if tabs else ",")
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{path}: the {what} is empty; {_HINT} on the first line")
        columns = [_pick(path, header, want, required=want != "lang") for want in _COLUMNS]
        at = [header.index(name) if name is not None else -1 for name in columns]
        for row in reader:
            cells = [row[i] if 0 <= i < len(row) else "" for i in at]
            yield reader.line_num, cells[0], cells[1], cells[2]
    except csv.Error as exc:
        raise UsageError(f"{path}, line {reader.line_num}: {exc}; fix the quoting") from exc


def _json_rows(path: Path, text: str) -> Iterator[tuple[int, str, str, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path}, line {number}: not JSON ({exc.msg}); one object a line"
            ) from exc
        if not isinstance(item, dict):
            raise UsageError(f"{path}, line {number}: not a JSON object; {_HINT} as keys")
        keys = [_pick(path, list(item), want, required=want != "lang") for want in _COLUMNS]
        source, target, lang = (_text(item.get(key)) if key else "" for key in keys)
        yield number, source, target, lang


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _pairs(path: Path, what: str) -> Iterator[tuple[int, str, str, str | None]]:
    """Non-empty rows; a source given two different targets for one language is refused."""
    seen: dict[tuple[str, str | None], tuple[int, str]] = {}
    for line, source, target, lang in _rows(path, what):
        source, target, lang = source.strip(), target.strip(), lang.strip()
        if not source or not target:
            continue
        code = None
        if lang:
            try:
                code = _language_code(lang)
            except UsageError as exc:
                raise UsageError(f"{path}, line {line}: {exc}") from exc
        key = (_normalise(source), code)
        if key in seen:
            first, earlier = seen[key]
            if earlier == target:
                continue
            scope = f" for {lang}" if lang else ""
            raise UsageError(
                f"{path}, line {line}: {source!r}{scope} is translated {target!r} here and "
                f"{earlier!r} on line {first}; keep one"
            )
        seen[key] = (line, target)
        yield line, source, target, lang or None


def load_glossary(path: Path) -> Glossary:
    """The terms of a CSV/TSV/JSONL glossary (see the module docstring); empty terms skipped."""
    return Glossary(tuple(Term(s, t, lang) for _, s, t, lang in _pairs(path, "glossary")))


def load_memory(path: Path, *, limit: int | None = 20) -> tuple[tuple[str, str], ...]:
    """The (source, target) example pairs of a translation memory, in file order.

    More than ``limit`` pairs is refused rather than cut silently (``None``: no limit).
    """
    pairs = tuple((source, target) for _, source, target, _ in _pairs(path, "translation memory"))
    if limit is not None and len(pairs) > limit:
        raise UsageError(
            f"{path}: {len(pairs)} translation-memory pairs, at most {limit} are sent; "
            f"keep the {limit} most representative"
        )
    return pairs
