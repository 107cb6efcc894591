"""Packing through the simulator over loopback: a pack answer that deviates from the
format costs only what cannot be matched, and no translation lands in another row."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from pipeline.sim.pseudo import pseudo_translate
from tests.conftest import Sim, corpus, mtpipe

FAST = ("--concurrency", "8", "--no-escape-formulas", "--qa", "off")
TEXTS = sorted({row["text"] for row in corpus("ui_strings.jsonl", 120)})


@pytest.fixture(scope="module")
def ui_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packing") / "ui.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", "text"], *([f"{i:04d}", t] for i, t in enumerate(TEXTS))])
    return path


def translate(sim: Sim, src: Path, out: Path, *args: str) -> tuple[pl.DataFrame, dict]:
    run = mtpipe(
        "translate", src, "-o", out, "--to", "de", "--base-url", sim.base_url, *FAST, *args
    )
    assert run.code == 0, run.stderr
    report = json.loads(out.with_name(out.name + ".report.json").read_text())
    return pl.read_csv(out, infer_schema=False), report


def wrong_rows(frame: pl.DataFrame) -> list[str]:
    pairs = zip(frame["text"].to_list(), frame["text_de"].to_list(), strict=True)
    return [text for text, out in pairs if out != pseudo_translate(text, "German")]


@pytest.mark.parametrize("kind", ["prefix", "preamble", "renumber", "blank", "note"])
def test_a_deviation_that_can_be_matched_costs_no_request(
    sim_factory: Callable[..., Sim], ui_csv: Path, tmp_path: Path, kind: str
) -> None:
    sim = sim_factory("--faults", f"{kind}=1")
    frame, _ = translate(sim, ui_csv, tmp_path / "out.csv", "--pack", "on", "--pack-segments", "16")
    stats = sim.stats()
    assert wrong_rows(frame) == []
    assert stats["requests"] == -(-len(TEXTS) // 16)  # as many as a server that aligns
    assert stats["packs"][kind] == stats["requests"]


def test_random_merges_drops_and_refusals_never_misplace_a_translation(
    sim_factory: Callable[..., Sim], ui_csv: Path, tmp_path: Path
) -> None:
    sim = sim_factory("--faults", "merge=0.3,drop=0.2,never=0.2,renumber=0.2", "--seed", "5")
    frame, report = translate(
        sim, ui_csv, tmp_path / "out.csv", "--pack", "on", "--pack-segments", "16"
    )
    stats = sim.stats()
    assert wrong_rows(frame) == []
    assert {"merge", "drop", "never"} <= set(stats["packs"])
    assert report["retries"]["pack_misaligned"] >= 3
    assert stats["requests"] < len(TEXTS)  # the matched segments are not sent again


def billed(report: dict) -> int:
    return int(report["prompt_tokens"] + report["completion_tokens"])


def test_auto_on_a_server_that_never_aligns_costs_about_pack_off(
    sim_factory: Callable[..., Sim], big_csv: Path, tmp_path: Path
) -> None:
    sim = sim_factory("--faults", "never=1")
    _, off = translate(sim, big_csv, tmp_path / "off.csv", "--pack", "off")
    run = mtpipe("translate", big_csv, "-o", tmp_path / "auto.csv", "--to", "de", "--base-url",
                 sim.base_url, *FAST, "--log-format", "json")  # fmt: skip
    assert run.code == 0, run.stderr
    auto = json.loads((tmp_path / "auto.csv.report.json").read_text())
    assert wrong_rows(pl.read_csv(tmp_path / "auto.csv", infer_schema=False)) == []
    assert auto["requests"] <= 1.1 * off["requests"]
    assert billed(auto) <= 1.1 * billed(off)
    assert auto["packing"]["German"]["size"] == 1
    assert auto["packing"]["German"]["events"][-1].endswith(
        "packing off for German after the waste budget is spent"
    )
    assert "packing off for German after" in run.stderr


@pytest.mark.parametrize("cells", [20, 60, 120])
def test_auto_on_a_server_that_never_aligns_is_bounded_for_small_runs_too(
    sim_factory: Callable[..., Sim], tmp_path: Path, cells: int
) -> None:
    """The packs in flight before the first answer are a bet: bounded by the run's size,
    not by the concurrency (16 packs of 8 went out at once: a 50-cell run paid 1.29x)."""
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], *([t] for t in TEXTS[:cells])])
    sim = sim_factory("--faults", "never=1")
    _, off = translate(sim, src, tmp_path / "off.csv", "--pack", "off", "--concurrency", "16")
    frame, auto = translate(sim, src, tmp_path / "auto.csv", "--concurrency", "16")
    assert wrong_rows(frame) == []
    assert auto["requests"] <= 1.1 * off["requests"]
    assert billed(auto) <= 1.1 * billed(off)
    # it did try where a pack fits the bet (10% of the texts, a pack counting one more)
    assert (auto["packing"].get("German", {}).get("packs", 0) > 0) is (cells >= 40)


def test_auto_on_a_small_run_against_a_server_that_aligns_still_packs(
    sim_factory: Callable[..., Sim], tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], *([t] for t in TEXTS[:100])])
    frame, auto = translate(sim_factory(), src, tmp_path / "auto.csv", "--concurrency", "16")
    assert wrong_rows(frame) == []
    assert auto["requests"] <= 25 and auto["packing"]["German"]["events"] == []


def test_auto_on_a_server_that_aligns_keeps_the_gain(
    sim_factory: Callable[..., Sim], big_csv: Path, tmp_path: Path
) -> None:
    sim = sim_factory()
    _, off = translate(sim, big_csv, tmp_path / "off.csv", "--pack", "off")
    frame, auto = translate(sim, big_csv, tmp_path / "auto.csv")
    assert wrong_rows(frame) == []
    assert auto["requests"] * 20 <= off["requests"]
    assert auto["packing"]["German"]["size"] == 100 and auto["packing"]["German"]["events"] == []


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = sorted({row["text"] for row in corpus("ui_strings.jsonl")})
    path = tmp_path_factory.mktemp("packing") / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", "text"], *([f"{i:04d}", t] for i, t in enumerate(texts))])
    return path
