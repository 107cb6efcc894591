"""Pack encodings compared offline, the simulator's pack faults as proxies for models.

Three encodings of a pack of 16 UI strings:

- ``[n]``: numbered lines ``[1] ...`` (what mtpipe sends; decoded by ``pipeline.align``);
- ``tags``: ``<s id="1">...</s>`` one per line, decoded by a tolerant tag reader
  (any quotes or none, any case, ``seg`` for ``s``, full-width digits, blank lines,
  text outside the tags ignored, an unclosed tag read up to the next one) under the
  same certainty rule as ``align``: segment k is kept when id k appears once, its
  neighbours are k-1 and k+1, and the last id is the pack's size;
- ``lines``: one segment per line without numbers, the line count said in the prompt
  (kept only when the non-blank lines are exactly as many as the segments).

Each simulator pack fault is applied to each encoding as a model would do it to that
format (``prefix``, ``preamble``, ``blank``, ``note``, ``merge``, ``drop``, ``never``
alike; ``renumber`` rewrites the tags: other quotes, no quotes, upper case, ``<seg>``,
full-width digits); two faults of tag-shaped answers are added: ``untag`` (the model
drops the markup, one segment per line) and ``unclose`` (closing tags left out).

Figures per fault: the share of segments kept right and kept wrong (a translation in
another row, or with junk in it); then the characters each encoding adds per segment to
the request and to the answer (the simulator bills 4 characters a token).

    python -m bench.encoding
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable

from bench.__main__ import ROOT
from pipeline.align import align
from pipeline.sim.packs import PACK_FAULTS, deviate
from pipeline.sim.pseudo import pseudo_translate

SIZE = 16
FAULTS = (*PACK_FAULTS, "untag", "unclose")
ENCODINGS = ("[n]", "tags", "lines")
_WIDE = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
_TAG_STYLES = (
    "<s id='{}'>{}</s>",
    "<s id={}>{}</s>",
    '<S ID="{}">{}</S>',
    '<seg id="{}">{}</seg>',
    '<s id="{}">{}</s>',
)  # fmt: skip  the last: wide
_OPEN = re.compile(r"<\s*(?:s|seg)\s+id\s*=\s*[\"']?([0-9\uff10-\uff19]+)[\"']?\s*>", re.I)
_CLOSE = re.compile(r"<\s*/\s*(?:s|seg)\s*>", re.I)


def tag(n: int, text: str) -> str:
    return f'<s id="{n}">{text}</s>'


def _tag_answer(right: list[str], kind: str, *, target: str, pick: int) -> str:
    """What a model that breaks the format as ``kind`` answers to a tag-encoded pack."""
    rows = [tag(n, t) for n, t in enumerate(right, 1)]
    if kind == "renumber":
        choice = pick % len(_TAG_STYLES)
        wide = choice == len(_TAG_STYLES) - 1
        return "\n".join(
            _TAG_STYLES[choice].format(str(n).translate(_WIDE) if wide else n, t)
            for n, t in enumerate(right, 1)
        )
    if kind == "merge":
        k = pick % (len(right) - 1)
        rows[k : k + 2] = [tag(k + 1, right[k] + " " + right[k + 1])]
        return "\n".join(rows)
    if kind == "never":
        return " ".join(right)
    if kind == "untag":
        return "\n".join(right)
    if kind == "unclose":
        return "\n".join(f'<s id="{n}">{t}' for n, t in enumerate(right, 1))
    if kind in ("prefix", "preamble", "blank", "drop", "note"):  # as for [n]: the lines moved
        return deviate(rows, kind, target=target, pick=pick)
    raise ValueError(kind)


def read_tags(answer: str, count: int) -> list[str | None]:
    """Tag answer -> one entry per segment, None where not certain (``align``'s rule)."""
    found: list[tuple[int, str | None]] = []  # (id, text; unclosed: up to the next tag)
    opens = list(_OPEN.finditer(answer))
    for j, m in enumerate(opens):
        end = opens[j + 1].start() if j + 1 < len(opens) else len(answer)
        close = _CLOSE.search(answer, m.end(), end)
        text = answer[m.end() : close.start() if close else end].strip()
        if close is None and j + 1 == len(opens):  # an unclosed last tag: a note follows a gap
            text = text.split("\n\n")[0].strip()
        found.append((int(unicodedata.normalize("NFKC", m.group(1))), text or None))
    ids = [n for n, _ in found]
    out: list[str | None] = [None] * count
    if not ids or ids[-1] != count:
        return out
    for j, (k, text) in enumerate(found):
        before = ids[j - 1] if j else 0
        after = ids[j + 1] if j + 1 < len(ids) else count + 1
        if 1 <= k <= count and ids.count(k) == 1 and before == k - 1 and after == k + 1:
            out[k - 1] = text
    return out


def _lines_answer(right: list[str], kind: str, *, target: str, pick: int) -> str:
    """The same fault to unnumbered lines: the [n] answer with the markers taken out."""
    if kind in ("untag", "unclose"):
        return "\n".join(right)  # markup faults: nothing to lose without markup
    return _strip(deviate([f"[{n}] {t}" for n, t in enumerate(right, 1)], kind,
                          target=target, pick=pick))  # fmt: skip


def _numbered_answer(right: list[str], kind: str, *, target: str, pick: int) -> str:
    numbered = [f"[{n}] {t}" for n, t in enumerate(right, 1)]
    if kind == "untag":
        return "\n".join(right)  # the markers dropped, one segment per line
    if kind == "unclose":
        return "\n".join(numbered)  # a marker has nothing to close
    return deviate(numbered, kind, target=target, pick=pick)


def _unnumbered(answer: str, count: int) -> list[str | None]:
    lines = [line.strip() for line in answer.split("\n") if line.strip()]
    return list(lines) if len(lines) == count else [None] * count


def _strip(answer: str) -> str:
    """The same deviation without markers: what an unnumbered answer would carry."""
    out = []
    for line in answer.split("\n"):
        head, sep, rest = line.partition("] ")
        out.append(rest if sep and head.lstrip("[ ").strip("0123456789 ") == "" else line)
    return "\n".join(out)


Codec = tuple[Callable[..., str], Callable[[str, int], list[str | None]]]
CODECS: dict[str, Codec] = {
    "[n]": (_numbered_answer, align),
    "tags": (_tag_answer, read_tags),
    "lines": (_lines_answer, _unnumbered),
}


def _packs() -> list[list[str]]:
    path = ROOT / "tests" / "data" / "ui_strings.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [t.strip() for t in texts if "\n" not in t and t.strip()][: SIZE * 40]  # as sent
    return [texts[i : i + SIZE] for i in range(0, len(texts), SIZE)]


def compare() -> dict[str, dict[str, tuple[float, float]]]:
    packs = _packs()
    figures: dict[str, dict[str, tuple[float, float]]] = {}
    for kind in FAULTS:
        tally = {name: [0, 0] for name in ENCODINGS}
        for pick, pack in enumerate(packs):
            right = [pseudo_translate(t, "German") for t in pack]
            for name, (answer_of, decode) in CODECS.items():
                got = decode(answer_of(right, kind, target="German", pick=pick), SIZE)
                pairs = list(zip(got, right, strict=True))
                tally[name][0] += sum(g == r for g, r in pairs)
                tally[name][1] += sum(g not in (None, r) for g, r in pairs)
        total = len(packs) * SIZE
        figures[kind] = {k: (ok / total, bad / total) for k, (ok, bad) in tally.items()}
    return figures


def overhead() -> dict[str, float]:
    """Characters each encoding adds per segment, request and answer alike."""
    packs = _packs()
    source = sum(len(t) for pack in packs for t in pack)
    segments = sum(len(pack) for pack in packs)
    sizes = {
        "[n]": sum(len("\n".join(f"[{n}] {t}" for n, t in enumerate(p, 1))) for p in packs),
        "tags": sum(len("\n".join(tag(n, t) for n, t in enumerate(p, 1))) for p in packs),
        "lines": sum(len("\n".join(p)) for p in packs),
    }
    return {name: (size - source) / segments for name, size in sizes.items()} | {
        "source": source / segments
    }


if __name__ == "__main__":
    print(f"{'fault':<9}" + "".join(f"{e + ' kept':>11}{e + ' wrong':>12}" for e in ENCODINGS))
    for kind, row in compare().items():
        print(f"{kind:<9}" + "".join(f"{row[e][0]:>11.0%}{row[e][1]:>12.0%}" for e in ENCODINGS))
    added = overhead()
    source = added.pop("source")
    each = (f"{e} {added[e]:.1f} ({1 + added[e] / source:.2f}x)" for e in ENCODINGS)
    print(f"characters added per segment (source {source:.1f} a segment), and the pack's text "
          f"per source character (request and answer alike): {', '.join(each)}")  # fmt: skip
