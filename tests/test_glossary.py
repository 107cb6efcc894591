"""glossary: files read strictly, terms found as whole words, longest first, per language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.glossary import Glossary, Term, load_glossary, load_memory


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- reading files ---------------------------------------------------------------------


def test_csv_with_a_lang_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "terms.csv",
        'source,target,lang\npage,Seite,de\npage,ページ,Japanese\n"Page tree","Seitenbaum, der",\n',
    )
    assert load_glossary(path).terms == (
        Term("page", "Seite", "de"),
        Term("page", "ページ", "Japanese"),
        Term("Page tree", "Seitenbaum, der", None),
    )


def test_tsv_by_extension_bom_and_aliases(tmp_path: Path) -> None:
    path = _write(tmp_path / "terms.tsv", "\ufeffTerm\tTranslation\nsnippet\tSchnipsel\n")
    assert load_glossary(path).terms == (Term("snippet", "Schnipsel"),)


def test_tsv_is_sniffed_when_the_extension_says_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "terms.txt", "src\ttgt\tlanguage\nred, green\trot, grün\tfr\n")
    assert load_glossary(path).terms == (Term("red, green", "rot, grün", "fr"),)


def test_csv_is_sniffed_too(tmp_path: Path) -> None:
    path = _write(tmp_path / "terms", "source,target_lang,target\npage,de,Seite\n")
    assert load_glossary(path).terms == (Term("page", "Seite", "de"),)


def test_jsonl_glossary(tmp_path: Path) -> None:
    rows = [
        {"source": "page", "target": "Seite", "lang": "de"},
        {"src": "tag", "tgt": "Schlagwort"},
    ]
    path = _write(tmp_path / "terms.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert load_glossary(path).terms == (Term("page", "Seite", "de"), Term("tag", "Schlagwort"))


def test_empty_terms_and_blank_lines_are_skipped_and_cells_stripped(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.csv", "source,target,notes\n,Seite,x\npage,,x\n\n page , Seite ,x\n"
    )
    assert load_glossary(path).terms == (Term("page", "Seite"),)


def test_a_header_only_file_is_an_empty_glossary(tmp_path: Path) -> None:
    glossary = load_glossary(_write(tmp_path / "t.csv", "source,target\n"))
    assert glossary.terms == ()
    assert glossary.for_text("page", "German") == ()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "t.csv",
            "term,meaning\npage,Seite\n",
            r"t\.csv: no target column \(columns: term, meaning\)",
        ),
        ("t.csv", "", r"t\.csv: the glossary is empty"),
        ("t.csv", "source,src,target\n", r"columns source and src both give the source; keep one"),
        (
            "t.csv",
            "source,target,lang\npage,Seite,xx-klingon\n",
            r"t\.csv, line 2: unknown language",
        ),
        ("t.jsonl", '{"source": "page", "target": "Seite"}\n{"source": \n', r"line 2: not JSON"),
        ("t.jsonl", '["page", "Seite"]\n', r"t\.jsonl, line 1: not a JSON object"),
        ("t.jsonl", '{"source": "page"}\n', r"t\.jsonl: no target column"),
    ],
)
def test_bad_files_are_refused_with_the_file_and_what_to_do(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_glossary(_write(tmp_path / name, content))
    assert "\n" not in str(info.value)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"missing\.csv: cannot read the glossary .*check the path"
    ):
        load_glossary(tmp_path / "missing.csv")
    with pytest.raises(UsageError, match=r"cannot read the glossary"):
        load_glossary(tmp_path)
    latin1 = _write(tmp_path / "l.csv", "source,target\nstreet,Straße\n", encoding="latin-1")
    with pytest.raises(UsageError, match=r"l\.csv: the glossary is not UTF-8 .*save it as UTF-8"):
        load_glossary(latin1)


def test_conflicting_duplicates_are_refused_naming_both_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.csv", 'source,target,lang\npage,Seite,de\n"x\ny",z,\nPage,Blatt,German\n'
    )
    message = r"t\.csv, line 5: 'Page' for German .*'Blatt' here and 'Seite' on line 2; keep one"
    with pytest.raises(UsageError, match=message):
        load_glossary(path)


def test_repeated_identical_terms_and_one_term_per_language_are_fine(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.csv", "source,target,lang\npage,Seite,\npage,Seite,\npage,Page,fr\n"
    )
    assert load_glossary(path).terms == (Term("page", "Seite"), Term("page", "Page", "fr"))


def test_a_term_with_an_unknown_language_fails_when_the_glossary_is_built() -> None:
    with pytest.raises(UsageError, match="Klingon"):
        Glossary((Term("page", "Seite", "Klingon"),))


# --- finding terms ---------------------------------------------------------------------

GLOSSARY = Glossary(
    (
        Term("page", "Seite"),
        Term("page tree", "Seitenbaum"),
        Term("pages", "Seiten"),
        Term("C++", "C++"),
        Term("e-mail", "E-Mail", "de"),
        Term("page", "Page", "fr"),
        Term("数据", "データ"),
    )
)


def test_whole_words_case_insensitive_longest_first_in_order_of_occurrence() -> None:
    text = "The Page\nTree shows pages; homepage, paged, each page and PAGE again, C++ and e-mail"
    assert GLOSSARY.for_text(text, "German") == (
        ("page tree", "Seitenbaum"),
        ("pages", "Seiten"),
        ("page", "Seite"),
        ("C++", "C++"),
        ("e-mail", "E-Mail"),
    )


def test_terms_for_one_language_only_and_overrides() -> None:
    assert GLOSSARY.for_text("a page by e-mail", "French") == (("page", "Page"),)
    assert GLOSSARY.for_text("a page by e-mail", "fr") == (("page", "Page"),)
    assert GLOSSARY.for_text("a page by e-mail", "de") == (("page", "Seite"), ("e-mail", "E-Mail"))


def test_unspaced_scripts_have_no_word_boundary() -> None:
    assert GLOSSARY.for_text("数据库里的数据", "Japanese") == (("数据", "データ"),)


def test_nothing_found() -> None:
    assert GLOSSARY.for_text("Homepages and subpages", "German") == ()
    assert GLOSSARY.for_text("", "German") == ()


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(UsageError, match="Klingon"):
        GLOSSARY.for_text("page", "Klingon")


def _reference(terms: list[str], text: str) -> tuple[tuple[str, str], ...]:
    """The plain way: one alternation, longest term first, whole words only."""
    ordered = sorted(set(terms), key=lambda t: (-len(t), t))
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in ordered), re.I)
    found = dict.fromkeys(m.group().lower() for m in pattern.finditer(text))
    return tuple((t, t.upper()) for t in found)


@given(
    st.lists(st.text("abAB", min_size=1, max_size=4), min_size=1, max_size=12),
    st.text("abAB .", max_size=40),
)
def test_the_trie_finds_what_a_plain_alternation_finds(terms: list[str], text: str) -> None:
    lowered = sorted({t.lower() for t in terms})
    glossary = Glossary(tuple(Term(t, t.upper()) for t in lowered))
    assert glossary.for_text(text, "German") == _reference(lowered, text)


# --- translation memory ----------------------------------------------------------------


def test_memory_from_csv_tsv_and_jsonl(tmp_path: Path) -> None:
    pairs = (("Save", "Speichern"), ("Delete page", "Seite löschen"))
    csv_path = _write(
        tmp_path / "tm.csv", "source,target\nSave,Speichern\nDelete page,Seite löschen\n"
    )
    tsv_path = _write(
        tmp_path / "tm.tsv", "src\ttgt\nSave\tSpeichern\nDelete page\tSeite löschen\n"
    )
    lines = [json.dumps({"source": s, "target": t}, ensure_ascii=False) for s, t in pairs]
    jsonl_path = _write(tmp_path / "tm.jsonl", "\n".join(lines))
    for path in (csv_path, tsv_path, jsonl_path):
        assert load_memory(path) == pairs


def test_memory_over_the_limit_is_refused_not_cut(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "tm.csv", "source,target\n" + "".join(f"s{i},t{i}\n" for i in range(25))
    )
    with pytest.raises(UsageError, match=r"tm\.csv: 25 translation-memory pairs, at most 20"):
        load_memory(path)
    assert len(load_memory(path, limit=None)) == 25


def test_memory_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"tm\.csv: no source column"):
        load_memory(_write(tmp_path / "tm.csv", "english,german\nSave,Speichern\n"))
    with pytest.raises(UsageError, match=r"tm\.csv, line 3: 'save' is translated 'Sichern' here"):
        load_memory(_write(tmp_path / "tm.csv", "source,target\nSave,Speichern\nsave,Sichern\n"))
