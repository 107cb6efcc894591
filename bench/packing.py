"""Quota efficiency: UI strings to German under 60 requests and 100,000 tokens a minute.

The simulator enforces ``--rpm 60 --tpm 100000`` (like a qwen-mt account);
mtpipe is told the same quota.  One cell per request (``--pack off``) is run
on the first 60 cells (a minute of quota); packing runs the whole corpus.
Figures: cells per minute both ways and their ratio (target >= 20x), and
billed prompt tokens per source token when packed (target <= 1.5), the
source's own tokens counted like the simulator bills them (4 characters a
token).

Then ``--pack auto`` against servers that do not keep the pack format (the
simulator's pack faults): one that prefixes ``[de]`` to every answer, one that
merges, drops, renumbers or refuses at random, and one that never aligns, each
with cells/min, requests per cell and billed prompt tokens per source token
(fewer cells where a run is mostly singles: a minute of quota is 60 of them).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bench.__main__ import ROOT, Figure, requests_seen, run_child, start_sim, translate_argv

QUOTA = ["--rpm", "60", "--tpm", "100000"]


def _corpus(path: Path, n: int | None) -> list[str]:
    lines = (ROOT / "tests" / "data" / "ui_strings.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines()][:n]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        w.writerows([t] for t in texts)
    return texts


SERVERS = (  # name, simulator faults, cells
    ("prefix", "prefix=1", None),
    ("random", "merge=0.2,drop=0.1,never=0.1,renumber=0.1,blank=0.1", 600),
    ("never", "never=1", 120),
)


def _run(
    tmp: Path, name: str, n: int | None, *extra: str, faults: str = ""
) -> tuple[float, int, dict[str, int]]:
    src = tmp / f"{name}.csv"
    texts = _corpus(src, n)
    sim, base = start_sim(*QUOTA, *(["--faults", faults] if faults else []))
    try:
        out = tmp / f"{name}.out.csv"
        argv = translate_argv(src, out, base, "--concurrency", "4", *QUOTA, *extra)
        wall, _, _, code = run_child(argv)
        report = json.loads(out.with_name(out.name + ".report.json").read_text())
        report["sim_requests"] = requests_seen(base)
        report["source_tokens"] = sum(len(t) for t in set(texts)) // 4
        report["exit_code"] = code
    finally:
        sim.terminate()
        sim.wait()
    return wall, len(texts), report


def packing(tmp: Path) -> list[Figure]:
    single_wall, single_cells, single = _run(tmp, "single", 60, "--pack", "off")
    packed_wall, packed_cells, packed = _run(tmp, "packed", None)
    single_rate = single_cells / single_wall * 60
    packed_rate = packed_cells / packed_wall * 60
    ratio = packed["prompt_tokens"] / packed["source_tokens"]
    name = "packing ui_strings -> de @60 rpm"
    return [
        Figure(name, "exit codes", single["exit_code"] + packed["exit_code"], "", "0"),
        Figure(name, "cells/min, one per request", round(single_rate, 1), "cells/min", ""),
        Figure(name, "cells/min, packed", round(packed_rate, 1), "cells/min", ""),
        Figure(name, "packed / single", round(packed_rate / single_rate, 1), "x", ">= 20"),
        Figure(name, "requests, packed", packed["requests"], "", ""),
        Figure(name, "prompt tokens / source token", round(ratio, 2), "x", "<= 1.5"),
        Figure(
            name,
            "429s (both runs)",
            single["retries"].get("rate_limit_requests", 0)
            + packed["retries"].get("rate_limit_requests", 0),
            "",
            "0",
        ),
        *_server_figures("align", packed_wall, packed_cells, packed),
        *(f for server in SERVERS for f in _server(tmp, *server)),
    ]


def _server(tmp: Path, name: str, faults: str, n: int | None) -> list[Figure]:
    wall, cells, report = _run(tmp, f"auto-{name}", n, faults=faults)
    return [Figure(f"packing auto, server {name}", "exit code", report["exit_code"], "", "0"),
            *_server_figures(name, wall, cells, report)]  # fmt: skip


def _server_figures(name: str, wall: float, cells: int, report: dict[str, int]) -> list[Figure]:
    scenario = f"packing auto, server {name} ({cells} cells)"
    target = "<= 1.1" if name == "never" else ""
    return [
        Figure(scenario, "cells/min", round(cells / wall * 60, 1), "cells/min", ""),
        Figure(scenario, "requests / cell", round(report["requests"] / cells, 3), "", target),
        Figure(scenario, "prompt tokens / source token",
               round(report["prompt_tokens"] / report["source_tokens"], 2), "x", ""),
    ]  # fmt: skip
