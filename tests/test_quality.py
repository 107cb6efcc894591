"""Glossaries, QA modes and layouts end to end through the simulator."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline.qa import check, prose
from pipeline.sim.pseudo import pseudo_translate
from tests.conftest import Run, Sim, corpus, mtpipe


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_glossary_terms_are_part_of_the_key_and_recorded(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "g.csv", [["text"], ["Edit the page tree"], ["Save draft"], ["Pages"]])
    glossary = _csv(
        tmp_path / "terms.csv", [["source", "target", "lang"], ["page tree", "Seitenbaum", "de"]]
    )
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url, "--pack", "off")
    assert mtpipe(*args).code == 0
    sim.reset()
    run = mtpipe(*args, "--glossary", glossary)
    assert run.code in (0, 3), run.stderr
    # only the cell the glossary applies to is translated again
    assert list(sim.stats()["texts"]) == ["Edit the page tree"]
    out = pl.read_csv(tmp_path / "g.translated.csv", infer_schema=False)
    assert out["mt_terms"].to_list() == ["text_de: page tree=Seitenbaum", None, None]


def test_long_layout_has_a_row_per_language(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "l.csv", [["id", "text"], ["1", "Hello"], ["2", "World"]])
    out = tmp_path / "l.out.csv"
    run = mtpipe(
        "translate", src, "--to", "de,ja", "--layout", "long", "-o", out, "--base-url", sim.base_url
    )
    assert run.code == 0, run.stderr
    frame = pl.read_csv(out, infer_schema=False)
    assert frame["id"].to_list() == ["1", "1", "2", "2"]
    assert frame["mt_lang"].to_list() == ["de", "ja", "de", "ja"]
    assert frame["text_translated"].null_count() == 0
    assert "text_de" not in frame.columns
    assert frame["mt_prompt_tokens"].cast(pl.Int64).sum() > 0


# --- every corrupted cell is caught, no correct cell is flagged ----------------------------
# The simulator's QA faults (pipeline/sim.py) corrupt chosen segments of its answers.  The
# right answer of a cell is pseudo_translate(source, lang): a cell is wrong when it differs.

FAST = ("--concurrency", "8", "--no-escape-formulas")  # cells exactly as the simulator sent them
Faults = Callable[..., Sim]


@pytest.fixture(scope="module")
def ui_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [[row["id"], row["text"]] for row in corpus("ui_strings.jsonl")]
    return _csv(tmp_path_factory.mktemp("ui") / "ui.csv", [["id", "text"], *rows])


def _translate(sim: Sim, src: Path, out: Path, *args: str | Path) -> tuple[Run, pl.DataFrame]:
    run = mtpipe("translate", src, "-o", out, "--base-url", sim.base_url, *FAST, *args)
    assert run.code in (0, 3), run.stderr
    return run, pl.read_csv(out, infer_schema=False)


def _report(out: Path) -> dict[str, Any]:
    report = json.loads(out.with_name(out.name + ".report.json").read_text(encoding="utf-8"))
    return report  # type: ignore[no-any-return]


def _flags(note: str | None, column: str = "text_de") -> tuple[str, ...]:
    """``text_de: echo,script`` -> ``("echo", "script")``."""
    return tuple(note.removeprefix(f"{column}: ").split(",")) if note else ()


def _flag_counts(frame: pl.DataFrame, column: str = "text_de") -> Counter[str]:
    return Counter(flag for note in frame["mt_flags"] for flag in _flags(note, column))


@pytest.mark.parametrize("qa", ["warn", "strict"])
def test_every_corrupted_corpus_cell_is_caught(
    sim_factory: Faults, ui_csv: Path, tmp_path: Path, qa: str
) -> None:
    sim = sim_factory("--faults", "placeholders=0.05,echo=0.03,script=0.03", "--seed", "11")
    out = tmp_path / "ui.de.csv"
    run, frame = _translate(sim, ui_csv, out, "--to", "de", "--qa", qa)
    report, corrupted = _report(out), sim.stats()["corrupted"]
    caught = 0
    for text, translation, note, error in frame.select(
        "text", "text_de", "mt_flags", "mt_error"
    ).iter_rows():
        flags = _flags(note)
        if error is not None:  # strict: a flagged cell fails with reason qa
            assert qa == "strict" and translation is None and flags, (text, error)
            assert error == f"text_de: qa (flagged by QA: {', '.join(flags)})"
            caught += 1
        elif translation != pseudo_translate(text, "German"):
            assert qa == "warn" and flags, (text, translation)
            caught += 1
        else:
            assert flags == (), (text, translation, flags)
    assert caught > 100 and run.code == (0 if qa == "warn" else 3)
    assert report["failed"] == (caught if qa == "strict" else 0)
    assert report["flags"] == _flag_counts(frame)
    # every corruption is accounted for: a broken placeholder is resent once (and fixed unless
    # broken again), an echo or a wrong script stays; packs always split back cleanly
    retries = report["retries"]
    assert retries["qa_placeholders"] > 30 and "pack_misaligned" not in retries
    assert corrupted["placeholders"] == retries["qa_placeholders"] + report["flags"].get(
        "placeholders", 0
    )
    assert corrupted["echo"] == report["flags"]["echo"] > 30
    assert corrupted["script"] == report["flags"]["script"] > 30


def test_wrong_script_answers_for_japanese_are_flagged(
    sim_factory: Faults, ui_csv: Path, tmp_path: Path
) -> None:
    sim = sim_factory("--faults", "script=0.1", "--seed", "5")
    out = tmp_path / "ui.ja.csv"
    _, frame = _translate(sim, ui_csv, out, "--to", "ja")
    wrong = 0
    for text, translation, note in frame.select("text", "text_ja", "mt_flags").iter_rows():
        flags = _flags(note, "text_ja")
        if translation == pseudo_translate(text, "Japanese"):
            assert flags == (), (text, translation, flags)
        else:
            assert translation == pseudo_translate(text, "English")  # Latin, not Japanese
            assert flags == ("script",), (text, translation, flags)
            wrong += 1
    assert wrong == sim.stats()["corrupted"]["script"] == _report(out)["flags"]["script"] > 150


GLOSSARY = [("page", "Seite"), ("image", "Bild"), ("user", "Benutzer"), ("password", "Passwort")]
GLOSSARY += [("document", "Dokument"), ("collection", "Sammlung"), ("workflow", "Arbeitsablauf")]


def _terms(note: str | None) -> list[tuple[str, str]]:
    """``text_de: page=Seite, image=Bild`` -> pairs."""
    if note is None:
        return []
    pairs = (pair.partition("=") for pair in note.removeprefix("text_de: ").split(", "))
    return [(source, target) for source, _, target in pairs]


@pytest.mark.parametrize("style", ["prompt", "options"])
def test_dropped_glossary_terms_are_flagged(
    sim_factory: Faults, ui_csv: Path, tmp_path: Path, style: str
) -> None:
    glossary = _csv(tmp_path / "terms.csv", [["source", "target"], *map(list, GLOSSARY)])
    sim = sim_factory("--faults", "dropterms=0.3", "--seed", "3")
    out = tmp_path / "ui.de.csv"
    _, frame = _translate(sim, ui_csv, out, "--to", "de", "--glossary", glossary, "--style", style)
    dropped = kept = 0
    rows = frame.select("text", "text_de", "mt_flags", "mt_terms").iter_rows()
    for text, translation, note, applied in rows:
        terms = _terms(applied)
        words = prose(text)  # terms inside placeholders are never sent
        found = {(s, t) for s, t in GLOSSARY if re.search(rf"(?<!\w){s}(?!\w)", words, re.I)}
        assert set(terms) == found, (text, applied)
        if translation == pseudo_translate(text, "German", terms=terms):
            assert _flags(note) == (), (text, translation, note)
            kept += bool(terms)
        else:
            assert terms and translation == pseudo_translate(text, "German"), text
            assert _flags(note) == ("glossary",), (text, translation, note)
            dropped += 1
    report = _report(out)
    assert dropped == sim.stats()["corrupted"]["dropterms"] == report["flags"]["glossary"]
    assert dropped > 40 and kept > 2 * dropped


def test_a_placeholder_broken_once_is_fixed_by_the_resend(sim: Sim, tmp_path: Path) -> None:
    once = "Delete {count} files [[sim:breakph]]"
    src = _csv(tmp_path / "b.csv", [["text"], [once], ["Save"], ["Rename %(name)s"]])
    out = tmp_path / "b.de.csv"
    run, frame = _translate(sim, src, out, "--to", "de")
    assert run.code == 0
    assert frame["text_de"].to_list() == [pseudo_translate(t, "de") for t in frame["text"]]
    assert frame["mt_flags"].null_count() == 3
    report = _report(out)
    assert report["retries"] == {"qa_placeholders": 1} and report["flags"] == {}


def test_a_placeholder_always_broken_is_flagged_or_failed(sim: Sim, tmp_path: Path) -> None:
    always = "Rename %(name)s [[sim:breakph-always]]"
    rows = [["text"], [always], ["Save the page"], ["Delete {count} files"]]
    src = _csv(tmp_path / "a.csv", rows)
    warned = tmp_path / "warn.csv"
    run, frame = _translate(sim, src, warned, "--to", "de")
    assert run.code == 0 and frame["mt_flags"].to_list() == ["text_de: placeholders", None, None]
    assert "%(name)s" not in frame["text_de"][0] and frame["mt_error"].null_count() == 3
    assert _report(warned)["retries"] == {"qa_placeholders": 1}

    strict = tmp_path / "strict.csv"
    run, frame = _translate(sim, src, strict, "--to", "de", "--qa", "strict")
    assert run.code == 3
    assert frame["mt_error"].to_list() == [
        "text_de: qa (flagged by QA: placeholders)",
        None,
        None,
    ]
    assert frame["text_de"][0] is None and frame["text_de"][1] is not None
    assert _report(strict)["failures"] == {"qa": 1}

    sim.reset()
    run, frame = _translate(sim, src, strict, "--to", "de", "--retry-failed", "--qa", "warn")
    assert run.code == 0
    assert sim.stats()["texts"] == {always: 2}  # only that cell, and its one QA resend
    assert frame["mt_flags"].to_list() == ["text_de: placeholders", None, None]
    assert frame["mt_error"].null_count() == 3 and "%(name)s" not in frame["text_de"][0]
    report = _report(strict)
    assert report["reused"] == 2 and report["new"] == 1 and report["flags"] == {"placeholders": 1}


def test_echoes_are_flagged_unless_nothing_is_translatable(
    sim_factory: Faults, tmp_path: Path
) -> None:
    texts = ["Echo this sentence [[sim:echo]]", "OK", "%(count)s / %(total)s", "{count}"]
    texts += ["Cancel", "Go", "No", "by %(user)s"]
    src = _csv(tmp_path / "e.csv", [["text"], *([t] for t in texts)])
    sim = sim_factory("--faults", "echo=1.0")  # every segment that has a word to translate
    out = tmp_path / "e.de.csv"
    run, frame = _translate(sim, src, out, "--to", "de")
    assert run.code == 0
    echoed = [t == s for s, t in zip(frame["text"], frame["text_de"], strict=True)]
    assert echoed == [True, False, True, True, True, True, True, True]
    assert [_flags(note) for note in frame["mt_flags"]] == [
        ("echo",),
        (),
        (),
        (),
        ("echo",),
        ("echo",),
        ("echo",),
        ("echo",),  # one real word beside a placeholder: translatable (issue 12 §6)
    ]
    # the placeholder-only strings come back as they went (their right answer), never
    # flagged; an acronym is not a word to translate, a 2-letter word is: the simulator
    # echoes exactly what QA would flag (placeholders.translatable, one rule for both)
    assert check("OK", "OK", target_lang="de") == ()
    assert sim.stats()["corrupted"] == {"echo": 5}


def test_glossary_terms_inside_placeholders_are_not_sent(sim: Sim, tmp_path: Path) -> None:
    src = _csv(tmp_path / "p.csv", [["text"], ["Select %(title)s"], ["Edit the title"]])
    glossary = _csv(tmp_path / "t.csv", [["source", "target"], ["title", "Titel"]])
    run = mtpipe("translate", src, "--to", "de", "--glossary", glossary, "--base-url", sim.base_url)
    assert run.code == 0, run.stderr
    out = pl.read_csv(tmp_path / "p.translated.csv", infer_schema=False)
    assert out["mt_terms"].to_list() == [None, "text_de: title=Titel"]
    assert out["text_de"][0].endswith("%(title)s")
