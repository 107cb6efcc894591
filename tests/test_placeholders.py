"""placeholders: one grammar, so the simulator keeps exactly the tokens QA compares."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
