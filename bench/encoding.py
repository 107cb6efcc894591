"""Pack encodings compared offline, the simulator's pack faults as proxies for models.

``[n]`` numbered lines (decoded by ``pipeline.align``) against unnumbered lines
with the line count said in the prompt (decoded: the non-blank lines, kept only
when there are exactly as many as segments).  Each fault is applied to packs of
16 UI strings as the simulator applies it (for unnumbered lines: the same change
without markers); figures: the share of segments kept right, and kept wrong
(a translation in another row, or with junk in it).

    python -m bench.encoding
"""

from __future__ import annotations

import json

from bench.__main__ import ROOT
from pipeline.align import align
from pipeline.sim.packs import PACK_FAULTS, deviate
from pipeline.sim.pseudo import pseudo_translate

SIZE = 16


def _unnumbered(answer: str, count: int) -> list[str | None]:
    lines = [line.strip() for line in answer.split("\n") if line.strip()]
    return list(lines) if len(lines) == count else [None] * count


def _strip(answer: str) -> str:
    """The same deviation without markers: what an unnumbered answer would carry."""
    lines = answer.split("\n")
    out = []
    for line in lines:
        head, sep, rest = line.partition("] ")
        out.append(rest if sep and head.lstrip("[ ").strip("0123456789 ") == "" else line)
    return "\n".join(out)


def compare() -> dict[str, dict[str, tuple[float, float]]]:
    path = ROOT / "tests" / "data" / "ui_strings.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [t.strip() for t in texts if "\n" not in t and t.strip()][: SIZE * 40]  # as sent
    packs = [texts[i : i + SIZE] for i in range(0, len(texts), SIZE)]
    figures: dict[str, dict[str, tuple[float, float]]] = {}
    for kind in PACK_FAULTS:
        tally = {"[n]": [0, 0], "lines": [0, 0]}
        for pick, pack in enumerate(packs):
            right = [pseudo_translate(t, "German") for t in pack]
            numbered = [f"[{n}] {t}" for n, t in enumerate(right, 1)]
            answer = deviate(numbered, kind, target="German", pick=pick)
            for name, got in (("[n]", align(answer, SIZE)),
                              ("lines", _unnumbered(_strip(answer), SIZE))):  # fmt: skip
                tally[name][0] += sum(g == r for g, r in zip(got, right, strict=True))
                tally[name][1] += sum(g not in (None, r) for g, r in zip(got, right, strict=True))
        total = len(packs) * SIZE
        figures[kind] = {k: (ok / total, bad / total) for k, (ok, bad) in tally.items()}
    return figures


if __name__ == "__main__":
    print(f"{'fault':<10} {'[n] kept':>9} {'[n] wrong':>9} {'lines kept':>10} {'lines wrong':>11}")
    for kind, row in compare().items():
        (a, b), (c, d) = row["[n]"], row["lines"]
        print(f"{kind:<10} {a:>9.0%} {b:>9.0%} {c:>10.0%} {d:>11.0%}")
