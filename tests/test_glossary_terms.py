"""Glossary terms are matched once, in the key stage, and travel with the cells: the
planner (prompts) and the output (``mt_terms``) read them from the plan."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import keying, runner
from pipeline.cells import match_terms, plan_cells, terms_of
from pipeline.glossary import Glossary, Term, load_glossary
from pipeline.options import build_job
from pipeline.output import applied_terms
from tests.conftest import Sim

TERMS = (Term("page", "Seite"), Term("page tree", "Seitenbaum", "de"), Term("e-mail", "E-Mail"))


@dataclass(frozen=True)
class CountingGlossary(Glossary):
    """A real glossary that counts what it is asked to match."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter, compare=False)

    def for_text(self, text: str, target_lang: str) -> tuple[tuple[str, str], ...]:
        self.calls[(text, target_lang)] += 1
        return super().for_text(text, target_lang)


def test_each_distinct_text_is_matched_once_per_language() -> None:
    glossary = CountingGlossary(TERMS)
    texts = {
        "title": pl.Series(["the page tree", "an e-mail", None, "the page tree", "  ", ""]),
        "body": pl.Series(["an e-mail", "the page tree", "nothing", None, "page", "page"]),
    }
    targets = [("de", "German"), ("ja", "Japanese")]
    plan = plan_cells(texts, targets, fp="f", terms_for=glossary.for_text)
    distinct = {"the page tree", "an e-mail", "nothing", "page"}
    assert glossary.calls == Counter({(t, lang): 1 for t in distinct for _, lang in targets})
    assert plan.terms is not None
    by_pair = dict(zip(plan.pairs, plan.terms, strict=True))
    assert [terms_of(j) for j in by_pair[("title", "de")].to_list()] == [
        (("page tree", "Seitenbaum"),),
        (("e-mail", "E-Mail"),),
        (),
        (("page tree", "Seitenbaum"),),
        (),  # blank cells are never sent: no terms
        (),
    ]
    assert terms_of(by_pair[("title", "ja")][0]) == (("page", "Seite"),)  # "page tree" is de only
    # the units carry the terms to the planner, and the key depends on them
    units = pl.concat(plan.units())
    assert {terms_of(j) for j in units.filter(pl.col("text") == "page")["terms"]} == {
        (("page", "Seite"),)
    }
    plain = plan_cells(texts, targets, fp="f")
    assert plain.terms is None and pl.concat(plain.units())["terms"].null_count() == len(units)
    assert plain.keys[0].to_list() != plan.keys[0].to_list()


def test_match_terms_in_blocks_matches_as_in_one(tmp_path: Path) -> None:
    sources = [pl.Series([f"page {i % 7}" if i % 3 else "e-mail" for i in range(50)])]
    whole = match_terms(sources, "German", Glossary(TERMS).for_text)
    glossary = CountingGlossary(TERMS)
    blocks = match_terms(sources, "German", glossary.for_text, block_rows=3)
    assert blocks[0].to_list() == whole[0].to_list()
    assert sum(glossary.calls.values()) == 8  # 7 "page n" and "e-mail"


def test_a_run_matches_the_glossary_once_per_text_and_language(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["Edit the page tree", "Send an e-mail", "Edit the page tree", None, "Plain", "page"]
    source = tmp_path / "in.csv"
    pl.DataFrame({"text": texts, "note": list(reversed(texts))}).write_csv(source)
    terms = tmp_path / "terms.csv"
    terms.write_text("source,target,lang\npage,Seite,\npage tree,Seitenbaum,de\ne-mail,E-Mail,\n")
    counting: list[CountingGlossary] = []

    def load(path: Path) -> Glossary:  # the run's own glossary, read from the file, counted
        counting.append(CountingGlossary(load_glossary(path).terms))
        return counting[-1]

    monkeypatch.setattr(keying, "load_glossary", load)
    values = {"input": str(source), "to": ["de", "fr"], "columns": ["text", "note"]}
    job = build_job(
        values | {"base_url": sim.base_url, "glossary": str(terms), "cache": False},
        env={"ROUTESCOPE_API_KEY": "test-key"},
    )
    report = runner.run(job)
    [glossary] = counting
    distinct = {t for t in texts if t}
    assert glossary.calls == Counter(
        {(t, lang): 1 for t in distinct for lang in ("German", "French")}
    )
    assert report.cells == report.translated == 20  # 4 distinct texts in 10 cells, 2 languages
    out = pl.read_csv(job.output, infer_schema=False)
    assert out["mt_terms"].to_list()[:2] == [
        "text_de: page tree=Seitenbaum; text_fr: page=Seite; "
        "note_de: page=Seite; note_fr: page=Seite",
        "text_de: e-mail=E-Mail; text_fr: e-mail=E-Mail",
    ]
    assert "Seitenbaum" in out["text_de"][0]  # the simulator applies the terms it is sent


_TERM = st.text(min_size=1, max_size=12)


@given(st.lists(st.lists(st.tuples(_TERM, _TERM), max_size=4), max_size=6))
def test_terms_round_trip_and_read_as_the_mt_terms_text(cells: list[list[tuple[str, str]]]) -> None:
    raw = [json.dumps(c, ensure_ascii=False) if c else None for c in cells]
    assert [terms_of(j) for j in raw] == [tuple(c) for c in cells]
    expected = [", ".join(f"{s}={t}" for s, t in c) or None for c in cells]
    assert applied_terms(pl.Series(raw, dtype=pl.String)).to_list() == expected
