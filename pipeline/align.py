"""A pack's answer -> one translation per segment, or None where it is not certain.

A pack is sent as numbered lines, ``[1] ...``.  Models keep the numbers but
not always the format, so ``align`` accepts what can be matched without
ambiguity and refuses the rest:

- text before the first marker is dropped (a preamble, or a ``[de]`` tag on
  the first line);
- markers may be ``[1]``, ``[ 1 ]``, ``(1)``, ``1.``, full-width brackets or
  digits;
- blank lines between segments are skipped;
- after the last segment, text that follows a blank line is a note, dropped.

Segment k is kept only when exactly one line carries marker k, the marker
lines before and after it carry k-1 and k+1 (or it is the first / the last),
no other text sits between it and the next marker, and its text is not
empty.  So a merged line, a dropped segment or a stray line costs only the
segments next to it: those come back None and are sent again, never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["align"]

_DIGITS = r"[0-9\uff10-\uff19]+"
_MARK = re.compile(
    rf"^\s*(?:[\[\uff3b(\uff08]\s*(?P<a>{_DIGITS})\s*[\]\uff3d)\uff09]|(?P<b>{_DIGITS})[.\uff0e](?=\s))"
    r"\s*(?P<text>.*?)\s*$"
)
_FIRST = re.compile(
    r"[\[\uff3b(\uff08]\s*[1\uff11]\s*[\]\uff3d)\uff09]|(?<!\S)[1\uff11][.\uff0e](?=\s)"
)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int | None  # the marker's number; None for a line without a marker
    text: str  # the segment text after the marker, or the whole stripped line
    blank: bool


def _line(raw: str) -> _Line:
    found = _MARK.match(raw)
    if found is None:
        return _Line(None, raw.strip(), not raw.strip())
    digits = unicodedata.normalize("NFKC", found.group("a") or found.group("b"))
    return _Line(int(digits), found.group("text"), False)


def _lines(answer: str) -> list[_Line]:
    """The answer's lines from the first marker on; text before it (a preamble, a tag before
    the first marker on its line) is dropped."""
    raws = answer.split("\n")
    lines = [_line(raw) for raw in raws]
    for i, line in enumerate(lines):
        if line.number is not None:
            return lines[i:]
        head = _FIRST.search(raws[i])
        if head is not None:
            return [_line(raws[i][head.start() :]), *lines[i + 1 :]]
    return []


def align(answer: str, count: int) -> list[str | None]:
    """One entry per segment 1..``count``: its translation, or None when not certain.

    When the last marker is not ``count`` nothing is certain: a dropped tail and two
    segments merged on one line with the rest renumbered look alike."""
    lines = _lines(answer)
    marked = [i for i, line in enumerate(lines) if line.number is not None and line.text]
    numbers = [lines[i].number for i in marked]
    out: list[str | None] = [None] * count
    if not numbers or numbers[-1] != count:
        return out
    for j, i in enumerate(marked):
        k = lines[i].number
        assert k is not None
        if not 1 <= k <= count or numbers.count(k) != 1:
            continue
        before = numbers[j - 1] if j > 0 else 0
        after = numbers[j + 1] if j + 1 < len(marked) else count + 1
        if before != k - 1 or after != k + 1:
            continue
        end = marked[j + 1] if j + 1 < len(marked) else len(lines)
        between = lines[i + 1 : end]
        if k == count:
            between = _before_note(between)
        if all(line.blank for line in between):  # an empty marker line is not blank
            out[k - 1] = lines[i].text
    return out


def _before_note(tail: list[_Line]) -> list[_Line]:
    """The lines after the last segment up to the first blank one: a note follows a gap."""
    gap = next((n for n, line in enumerate(tail) if line.blank), len(tail))
    return tail[:gap]
