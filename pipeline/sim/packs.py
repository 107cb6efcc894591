"""Pack deviations: how a model's answer to a numbered pack goes wrong.

``deviate`` takes the translated lines of a pack (``"[n] segment"``) and
returns the answer text as a model that does not keep the format would:

    prefix    a language tag before the first marker: ``[de] [1] ...``
    preamble  a sentence and a blank line before the answer
    renumber  other markers: full-width brackets, ``1.``, ``(1)``, ``[ 1 ]``, full-width digits
    blank     a blank line between segments
    merge     two neighbouring segments on one line, the second's marker gone
    drop      the last segment left out
    note      a note after a blank line at the end
    never     the segments run together on one line, no markers at all

``pick`` (a hashed draw) chooses the variant and place, so a run is seeded.
"""

from __future__ import annotations

import re

__all__ = ["PACK_FAULTS", "deviate"]

PACK_FAULTS: tuple[str, ...] = (
    "prefix", "preamble", "renumber", "blank", "merge", "drop", "note", "never",
)  # fmt: skip
_MARKER = re.compile(r"^\[(\d+)\] ")
_WIDE = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
_RENUMBER = ("\uff3b{}\uff3d ", "{}. ", "({}) ", "[ {} ] ", "[{}] ")  # the last: wide digits


def _body(line: str) -> str:
    return _MARKER.sub("", line, count=1)


def deviate(lines: list[str], kind: str, *, target: str, pick: int) -> str:
    """The answer text of a pack whose translated ``lines`` a ``kind`` deviation hits."""
    if kind == "prefix":
        return f"[{target[:2].lower()}] " + "\n".join(lines)
    if kind == "preamble":
        return f"Here is the translation into {target}:\n\n" + "\n".join(lines)
    if kind == "renumber":
        choice = pick % len(_RENUMBER)
        mark = _RENUMBER[choice].format
        wide = choice == len(_RENUMBER) - 1
        return "\n".join(
            mark(str(n).translate(_WIDE) if wide else n) + _body(line)
            for n, line in enumerate(lines, 1)
        )
    if kind == "blank":
        return "\n\n".join(lines)
    if kind == "merge":
        k = pick % (len(lines) - 1)
        merged = [*lines[:k], lines[k] + " " + _body(lines[k + 1]), *lines[k + 2 :]]
        return "\n".join(merged)
    if kind == "drop":
        return "\n".join(lines[:-1])
    if kind == "note":
        return "\n".join(lines) + "\n\nNote: the numbering of the source is kept."
    if kind == "never":
        return " ".join(_body(line) for line in lines)
    raise ValueError(f"unknown pack fault {kind!r}")
