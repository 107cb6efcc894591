"""placeholders: one grammar, so the simulator keeps exactly the tokens QA compares."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.catalog import CatalogError
from pipeline.placeholders import parse, spans, translatable
from pipeline.qa import check, placeholders
from pipeline.sim.pseudo import corrupt, pseudo_translate

FRAGMENTS = [
    "%s", "%d", "%1$s", "%2$@", "%@", "%lld", "%(name)s", "%%", "%-5.2f", "100%", "%é",
    "{name}", "{0}", "{}", "{price:.2f}", "{{var}}", "{{count}}", "{", "}", "{a b}", "{a:\nb}",
    "{n, plural, one {# item} other {# items}}", "{g, select, male {he} other {they}}",
    "{n,plural,offset:1 =0{none} one{#} other{{k} #}}", "plural", "select", "one {", "other",
    "<b>", "</b>", "<br/>", '<x id="1"/>', '<g id="2">', "</g>", '<pc id="1">', "</pc>",
    '<ph id="3"><br/></ph>', '<xliff:g id="n" example="5">%1$d</xliff:g>', "<1>", "</1>",
    '<img alt="Photo of %(who)s" src="a.png">', '<a title="Edit">', "<!-- note\nhere -->",
    "<", ">", "&amp;", "&#160;", "&", ";", "https://example.com/a?b=1", "www.example.org",
    "://", "admin@example.org", "@", "`make test`", "``a`b``", "`", "\n```\ncode {x} %s\n```\n",
    "\n~~~\n", "[[sim:echo]]", "[[name]]", "[[", "]]", "#", "\n", "\t", " ", ",", ".", "!",
]  # fmt: skip
ALPHABET = "abcdeHTPxyzéßä保存ページ Привет0129,.!?:;-_'\"/()$=#\n"  # noqa: RUF001
TEXTS = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(ALPHABET, max_size=6)), max_size=12
).map("".join)
LANGS = ["German", "Japanese", "Russian", "Arabic", "Korean", "Thai"]


@settings(max_examples=400)
@given(text=TEXTS, lang=st.sampled_from(LANGS))
def test_the_pseudo_translation_keeps_exactly_the_tokens_qa_extracts(text: str, lang: str) -> None:
    answer = pseudo_translate(text, lang)
    assert placeholders(answer) == placeholders(text), (text, answer)
    assert "placeholders" not in check(text, answer, target_lang=lang)


@settings(max_examples=300)
@given(text=TEXTS)
def test_the_pieces_of_a_text_join_back_to_it(text: str) -> None:
    parsed = parse(text)
    assert "".join(piece.text for piece in parsed.pieces) == text
    assert parsed.tokens == tuple(token for piece in parsed.pieces for token in piece.tokens)
    for span in spans(text):
        assert text[span.start : span.end]  # outermost tokens are never empty
    # the simulator's broken placeholder (when it can break one) is always flagged
    wrong = corrupt(text, "German", "placeholders")
    if wrong is not None:
        assert "placeholders" in check(text, wrong, target_lang="de"), (text, wrong)


# --- where the two copies of the grammar disagreed -----------------------------------------


def test_markers_are_tokens_so_they_are_not_words_to_translate() -> None:
    # qa saw "[[sim:echo]]" as prose with the words "sim" and "echo"; pseudo kept it
    assert placeholders("Save [[sim:flaky]] now") == Counter(["[[sim:flaky]]"])
    assert check("[[sim:flaky]]", "[[sim:flaky]]", target_lang="de") == ()
    assert "placeholders" in check("Save [[name]]", "Speichern", target_lang="de")


def test_a_comment_over_several_lines_is_one_token_for_both() -> None:
    # pseudo's copy lacked DOTALL: it translated the comment's words and its "-->"
    text = "Save <!-- a note\nfor translators --> now"
    assert placeholders(text) == Counter(["<!--…-->"])
    assert "<!-- a note\nfor translators -->" in pseudo_translate(text, "de")


def test_a_fenced_block_is_one_token_and_icu_around_it_survives() -> None:
    # pseudo translated fenced texts line by line, so an ICU message spanning lines in
    # a text with a fence lost its "plural" keyword; qa read the fence as prose
    text = "{n, plural,\none {# file}\nother {# files}}\n```\nrm -rf {dir}\n```\n"
    answer = pseudo_translate(text, "German")
    assert "{n, plural,\none {#" in answer and "```\nrm -rf {dir}\n```" in answer
    assert check(text, answer, target_lang="German") == ()
    assert "placeholders" in check(text, answer.replace("rm -rf", "rm -r"), target_lang="de")


def test_a_brace_group_across_lines_is_text_in_braces() -> None:
    # pseudo's copy took "{a:\nb}" for one placeholder; qa's did not (the right one)
    assert placeholders("{a:\nb} c") == Counter(["{", "}"])
    assert pseudo_translate("{a:\nb}", "de") == "{á:\nƀ}"


@pytest.mark.parametrize(
    ("text", "has_word"),
    [("No", True), ("Café", True), ("保存", True), ("by %(user)s", True), ("OK", False),
     ("URL", False), ("{count}/{max}", False), ("42", False), ("[[sim:echo]]", False)],
)  # fmt: skip
def test_one_echo_rule_for_qa_and_the_simulator(text: str, has_word: bool) -> None:
    # the simulator echoed only texts with 4+ ASCII letters; qa flags any 2+ letter word
    assert translatable(parse(text).prose) is has_word
    assert ("echo" in check(text, text, target_lang="de")) is has_word
    assert (corrupt(text, "German", "echo") is not None) is has_word


# --- the placeholders of localization formats (issue 14) -------------------------------------


@pytest.mark.parametrize(
    ("source", "token"),
    [
        ("Hello %1$s, you have %2$d new", "%1$s"),  # Android, gettext c-format
        ("%@ liked your photo", "%@"),  # Apple
        ("%1$@ invited %2$@", "%1$@"),
        ("%lld files left", "%lld"),
        ("Welcome back, {{name}}!", "{{name}}"),  # i18next
        ("Hi {name}, see {count, number} items", "{count, number}"),  # ICU simple argument
        ('Open <x id="1"/> now', '<x id="1"/>'),  # XLIFF 1.2 inline codes
        ('Press <g id="2">Save</g> here', '<g id="2">'),
        ('A <bx id="3"/>bold<ex id="4"/> word', '<ex id="4"/>'),
        ('Line<ph id="5"><br/></ph>break', '<ph id="5"><br/></ph>'),  # native code, whole
        ('Click <pc id="1" dataRefStart="d1">here</pc>', "</pc>"),  # XLIFF 2.0
        ('Photo <ph id="2" disp="{img}"/> taken', '<ph id="2" disp="{img}"/>'),
        ('Saved <xliff:g id="count" example="3">%1$d</xliff:g> files', "</xliff:g>"),  # Android
        ("The payee <1>{payeeNamesList}</1> is due", "<1>"),  # react-i18next Trans
    ],
)
def test_format_placeholders_are_protected_and_checked(source: str, token: str) -> None:
    found = placeholders(source)
    assert any(token in kept for kept in found), (token, found)
    answer = pseudo_translate(source, "German")
    assert check(source, answer, target_lang="German") == ()
    dropped = answer.replace(token, "", 1)
    assert "placeholders" in check(source, dropped, target_lang="German"), dropped
    altered = answer.replace(token, token.replace("1", "7").replace("@", "s").replace("d", "x"), 1)
    if altered != answer:
        assert "placeholders" in check(source, altered, target_lang="German"), altered


def test_an_icu_plural_keeps_its_skeleton_and_hash() -> None:
    source = "{count, plural, one {# file in {folder}} other {# files in {folder}}}"
    answer = pseudo_translate(source, "Russian")
    assert check(source, answer, target_lang="Russian") == ()
    edits = [("plural", "plurals"), ("#", ""), ("other", "others"), ("{folder}", "{ordner}")]
    for old, new in edits:
        broken = answer.replace(old, new, 1)
        assert "placeholders" in check(source, broken, target_lang="Russian"), broken


def test_the_content_of_a_whole_element_may_not_be_translated() -> None:
    # Android writes <xliff:g> back only if it is unchanged; XLIFF <ph> holds native code
    source = 'Call <xliff:g id="name" example="Bob">%1$s</xliff:g> <ph id="1">[img]</ph> now'
    answer = pseudo_translate(source, "de")
    assert '<xliff:g id="name" example="Bob">%1$s</xliff:g>' in answer and "[img]" in answer
    changed = answer.replace("[img]", "[bild]")
    assert check(source, changed, target_lang="de") == ("placeholders",)


def _catalog_formats() -> dict[str, object]:
    from pipeline.formats import android, apple, arb, i18next, xcstrings, xliff

    strings, json = apple.StringsFormat(), i18next.I18nextFormat()
    return {".xml": android.FORMAT, ".xlf": xliff.FORMAT, ".xliff": xliff.FORMAT,
            ".xlf2": xliff.FORMAT, ".strings": strings, ".xcstrings": xcstrings.XcstringsFormat(),
            ".arb": arb.ArbFormat(), ".json": json}  # fmt: skip


L10N = Path(__file__).parent / "data" / "l10n"
CATALOGS = sorted(p for p in L10N.rglob("*") if p.suffix in _catalog_formats())


def _check_catalog(path: Path) -> int:
    """Check every message of the catalog at ``path``; the number of spans checked."""
    fmt: Any = _catalog_formats()[path.suffix]
    try:
        catalog = fmt.parse(path.read_bytes(), path)
    except CatalogError:  # the format's own business (and its own tests)
        return 0
    checked = 0
    for message in fmt.messages(catalog, "de", None):
        answer = pseudo_translate(message.text, "German")
        assert "placeholders" not in check(message.text, answer, target_lang="de"), message
        for span in message.placeholders:
            checked += 1
            assert span in answer, (span, answer)
            dropped = answer.replace(span, "", 1)
            flags = check(message.text, dropped, target_lang="de")
            assert "placeholders" in flags, (span, message.text)
    return checked


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(L10N)))
def test_every_placeholder_a_catalog_protects_is_checked_by_qa(path: Path) -> None:
    """Each span a format lists in ``Message.placeholders`` (the spans it protects on
    writing) is a QA token: the simulator keeps it, and dropping it is flagged."""
    _check_catalog(path)


def test_the_real_catalogs_protect_hundreds_of_placeholders() -> None:
    assert len(CATALOGS) >= 25
    assert sum(map(_check_catalog, CATALOGS)) > 800  # 915 today (PO not counted yet)
