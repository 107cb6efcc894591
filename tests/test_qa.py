"""qa: protected tokens survive a correct translation, and every kind of damage is flagged."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.qa import FLAGS, check, missing_placeholders, placeholders
from pipeline.sim import pseudo_translate

DATA = Path(__file__).parent / "data"
UI = [
    json.loads(line)["text"] for line in (DATA / "ui_strings.jsonl").read_text("utf-8").splitlines()
]
GERMAN = [pseudo_translate(text, "German") for text in UI]
PRINTF = re.compile(r"%(?:\([^()\s]+\))?[sd]")


def _brace_end(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise AssertionError(text)


# --- the whole corpus ------------------------------------------------------------------


def test_corpus_has_the_promised_size() -> None:
    assert len(UI) == 2444
    assert sum(1 for text in UI if placeholders(text)) >= 1000


@pytest.mark.parametrize("lang", ["German", "Japanese", "Russian", "Arabic", "Korean"])
def test_pseudo_translations_of_the_corpus_keep_every_placeholder(lang: str) -> None:
    flagged = [
        (text, missing_placeholders(text, pseudo))
        for text in UI
        if "placeholders" in check(text, pseudo := pseudo_translate(text, lang), target_lang=lang)
    ]
    assert flagged == []


def test_pseudo_german_of_the_corpus_is_clean() -> None:
    flagged = [
        (s, f) for s, t in zip(UI, GERMAN, strict=True) if (f := check(s, t, target_lang="de"))
    ]
    assert flagged == []


@pytest.mark.parametrize("name", ["long_docs", "news"])
def test_pseudo_translations_of_long_documents_and_news_are_clean(name: str) -> None:
    lines = (DATA / f"{name}.jsonl").read_text("utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    flagged = [
        (text[:40], flags)
        for text in texts
        if (flags := check(text, pseudo_translate(text, "German"), target_lang="German"))
    ]
    assert flagged == []


Corrupt = Callable[[str], str]
CORRUPTIONS: dict[str, tuple[re.Pattern[str], Corrupt]] = {
    "printf dropped": (PRINTF, lambda t: PRINTF.sub("", t, count=1)),
    "printf renamed": (
        re.compile(r"%\(\w+\)"),
        lambda t: re.sub(r"%\((\w+)\)", lambda m: f"%({m[1]}_nom)", t, count=1),
    ),
    "plural renamed": (
        re.compile(r",\s*plural\s*,"),
        lambda t: re.sub(r",(\s*)plural(\s*),", r",\1pluriel\2,", t, count=1),
    ),
    "select renamed": (
        re.compile(r",\s*select\s*,"),
        lambda t: re.sub(r",(\s*)select(\s*),", r",\1selekt\2,", t, count=1),
    ),
    "other dropped": (
        re.compile(r"\bother\s*\{"),
        lambda t: (
            t[: (m := re.search(r"\bother\s*\{", t)).start()]  # type: ignore[union-attr]
            + t[_brace_end(t, m.end() - 1) :]
        ),  # type: ignore[union-attr]
    ),
    "one renamed": (
        re.compile(r"\bone\s*\{"),
        lambda t: re.sub(r"\bone(\s*)\{", r"un\1{", t, count=1),
    ),
    "# dropped": (re.compile(r"plural.*#"), lambda t: t.replace("#", "", 1)),
    "tag dropped": (
        re.compile(r"</?[a-z]+[^<>]*>"),
        lambda t: re.sub(r"</?[a-z]+[^<>]*>", "", t, count=1),
    ),
    "url altered": (re.compile(r"https?://"), lambda t: re.sub(r"(https?://)", r"\1x", t)),
}
MINIMUM = {"printf dropped": 450, "plural renamed": 130, "tag dropped": 90}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_every_corrupted_corpus_string_is_flagged(name: str) -> None:
    has, corrupt = CORRUPTIONS[name]
    eligible = [(s, t) for s, t in zip(UI, GERMAN, strict=True) if has.search(s)]
    assert len(eligible) >= MINIMUM.get(name, 2)
    missed = []
    for source, translation in eligible:
        damaged = corrupt(translation)
        assert damaged != translation, source
        if "placeholders" not in check(source, damaged, target_lang="German"):
            missed.append((source, damaged))
    assert missed == []


def _simple_brace(text: str) -> str | None:
    """The first ``{name}`` placeholder of ``text`` (not an ICU case message such as ``{it}``)."""
    return next((t for t in placeholders(text) if re.fullmatch(r"\{\w+\}", t)), None)


@pytest.mark.parametrize("damage", ["drop", "rename"])
def test_every_corpus_string_with_a_brace_placeholder_is_flagged_when_it_is_damaged(
    damage: str,
) -> None:
    eligible = [(s, t, b) for s, t in zip(UI, GERMAN, strict=True) if (b := _simple_brace(s))]
    assert len(eligible) >= 400
    missed = []
    for source, translation, brace in eligible:
        new = "" if damage == "drop" else brace[:-1] + "_nom}"
        damaged = translation.replace(brace, new, 1)
        if "placeholders" not in check(source, damaged, target_lang="German"):
            missed.append((source, damaged))
    assert missed == []


# --- hand translations -----------------------------------------------------------------


def _cases() -> list[dict[str, object]]:
    lines = (DATA / "qa_translations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: str(c["translation"])[:40])
def test_human_translations_get_the_expected_flags(case: dict[str, str]) -> None:
    flags = check(case["source"], case["translation"], target_lang=case["target_lang"])
    assert list(flags) == case["flags"]


# --- placeholders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("%s of %d at %i, %f and 100%%", ["%s", "%d", "%i", "%f", "%%"]),
        ("%(title)s by %1$s", ["%(title)s", "%1$s"]),
        (
            "{name}, {0}, {{var}}, {price:.2f}, {}",
            ["{name}", "{0}", "{{var}}", "{price:.2f}", "{}"],
        ),
        ("See https://example.com/a?b=1.", ["https://example.com/a?b=1"]),
        ("Mail admin@example.org today", ["admin@example.org"]),
        ("Run `make test` now", ["`make test`"]),
        ("Fish &amp; chips&#160;now", ["&amp;", "&#160;"]),
        ("<b>Hi</b><br />", ["<b>", "</b>", "<br />"]),
        ('<a href="%(url)s">add</a>', ['<a href="%(url)s">', "</a>"]),
        ("{value}% off", ["{value}"]),
        ("Letters, digits and @/./+/-/_ only.", []),
        ("Order #{orderNumber}", ["{orderNumber}"]),
        ("a { b", []),
        ("a <!-- note\n for translators --> b", ["<!--…-->"]),
    ],
)
def test_placeholders_finds_each_kind(text: str, tokens: list[str]) -> None:
    assert placeholders(text) == Counter(tokens)


def test_icu_is_reduced_to_its_skeleton() -> None:
    text = "{count, plural, =0 {None} one {# item} other {{count} items}} left"
    assert placeholders(text) == Counter(
        ["{count, plural,", "=0{", "one{", "#", "other{", "{count}"] + ["}"] * 4
    )


def test_icu_skeleton_ignores_white_space_and_keeps_hash_in_nested_select() -> None:
    source = "{n, plural, offset:1 one {# x} other {{g, select, male {# him} other {# them}}}}"
    translation = "{n,plural,offset: 1 one{# X} other{{g,select,male{# ihn} other{# sie}}}}"
    assert placeholders(source) == placeholders(translation)
    assert placeholders(source)["#"] == 3
    assert "offset:1" in placeholders(source)


def test_hash_outside_a_plural_is_text() -> None:
    assert placeholders("{kind, select, order {Order #5} other {Item}}")["#"] == 0


def test_title_and_alt_values_are_translatable_but_their_placeholders_are_not() -> None:
    source = '<img alt="Photo of %(name)s" src="a.png"><a title="Edit" href="/e">'
    translated = '<img alt="Foto von %(name)s" src="a.png">' + "<a title='Bearbeiten' href=\"/e\">"
    assert placeholders(source) == placeholders(translated)
    assert placeholders(source) != placeholders(
        '<img alt="Foto" src="a.png"><a title="E" href="/e">'
    )
    assert placeholders(source) != placeholders(
        '<img alt="x %(name)s" src="b.png"><a title="E" href="/e">'
    )


def test_missing_placeholders_lists_lost_and_altered_tokens_in_source_order() -> None:
    source = "%(a)s {b} <i>%(c)s</i> {n, plural, one {#} other {# x}}"
    translation = "%(c)s {b} %(nom)s {n, plural, one {#} other {x}}"
    assert missing_placeholders(source, translation) == ["%(a)s", "<i>", "</i>", "#"]
    assert missing_placeholders(source, source) == []


# --- the other checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "translation", "flagged"),
    [
        ("Delete this page", "delete this PAGE ", True),
        ("Delete", "Delete", True),
        ("%(range_start)s - %(range_end)s", "%(range_start)s - %(range_end)s", False),
        ("{count}/{max} orders", "{count}/{max} orders", True),
        ("{count}/{max}", "{count}/{max}", False),
        ("OK", "OK", False),
        ("URL", "URL", False),
        ("ID: %(id)s", "ID: %(id)s", False),
        ("by %(user)s", "by %(user)s", True),
        ("No", "No", True),
        ("%(num)s min", "%(num)s min", True),
        ("{prefix} <all>All</all>", "{prefix} <all>All</all>", True),
        ("保存", "保存", True),
        ("Delete this page", "Diese Seite löschen", False),
    ],
)
def test_echo(source: str, translation: str, flagged: bool) -> None:
    assert ("echo" in check(source, translation, target_lang="German")) is flagged


# Every string of the UI corpus that may come back unchanged without an echo flag: no word
# outside its placeholders, or only acronyms that stay as they are (URL, ID, SKU, UTC).
ECHO_EXEMPT = [
    "%(range_start)s - %(range_end)s",
    "URL",
    "%(field_label)s:",
    "%(status_display)s %(task_name)s %(started_at)s",
    "%(related_model_name)s %(field_label)s",
    "ID",
    "%(time_zone_option)s: %(localized_time_zone_label)s",
    "SKU {sku}",
    "{fromValue} {fromUnit} - {toValue} {toUnit}",
    "/ {max}",
    "{country} · {currency}",
    "{scope} · {amount}",
    "UTC: {time}",
    "{value} {unit}",
    "{currency} {totalAmount}",
    "→ {example}",
    "{extensionLabel} — {appName}",
    "{slug} · {currency} · {country}",
]


def test_the_echo_exemption_over_the_whole_corpus_is_exactly_the_listed_strings() -> None:
    exempt = [text for text in UI if "echo" not in check(text, text, target_lang="German")]
    assert exempt == ECHO_EXEMPT


def test_no_echo_when_the_source_is_already_the_target_language() -> None:
    assert (
        check("Delete this page", "Delete this page", target_lang="English", source_lang="en") == ()
    )
    assert check("Seite", "Seite", target_lang="German", source_lang="German") == ()
    assert "echo" in check("Seite", "Seite", target_lang="German", source_lang="en")


def test_empty_is_reported_alone() -> None:
    assert check("Delete %(title)s", " \n", target_lang="Japanese", terms=[("title", "x")]) == (
        "empty",
    )
    assert check("  ", "", target_lang="German") == ()


@pytest.mark.parametrize(
    ("lang", "length", "flagged"),
    [
        ("German", 30, False),
        ("German", 11, True),
        ("German", 12, False),
        ("German", 120, False),
        ("German", 121, True),
        ("Japanese", 4, False),
        ("Japanese", 3, True),
        ("Japanese", 80, False),
        ("Japanese", 81, True),
        ("Cantonese", 81, True),
        ("zh-TW", 3, True),
    ],
)
def test_length_ratio_band_depends_on_the_target(lang: str, length: int, flagged: bool) -> None:
    source = "Publish the page now, please!!!!!!!!!!!!"  # 40 characters
    assert len(source) == 40
    letter = "字" if lang in ("Japanese", "Cantonese", "zh-TW") else "ä"
    assert ("length_ratio" in check(source, letter * length, target_lang=lang)) is flagged


def test_length_ratio_skips_short_sources() -> None:
    assert check("Publish the page now", "Jetzt", target_lang="German") == ("length_ratio",)
    assert check("Publish the page no", "J", target_lang="German") == ()


@pytest.mark.parametrize(
    ("lang", "good", "bad"),
    [
        ("Japanese", "ページを公開", "Seite veröffentlichen"),
        ("Japanese", "パブリッシュ", "퍼블리시하다"),
        ("Chinese", "发布页面", "ページヲコウカイ"),
        ("Traditional Chinese", "發佈頁面", "Publish"),
        ("Cantonese", "發佈頁面", "Publish"),
        ("Korean", "페이지 게시", "ページ公開"),
        ("Russian", "Опубликовать", "Opublikovat"),
        ("Ukrainian", "Опублікувати", "Opublikuvaty"),
        ("Serbian", "Објави", "Objavi"),
        ("Kazakh", "Жариялау", "Zhariyalau"),
        ("Greek", "Δημοσίευση", "Dimosieusi"),
        ("Arabic", "نشر الصفحة", "Publish"),
        ("Western Persian", "انتشار صفحه", "Publish"),
        ("Urdu", "صفحہ شائع کریں", "Publish"),
        ("Hebrew", "פרסם דף", "Publish"),
        ("Thai", "เผยแพร่หน้า", "Publish"),
        ("Hindi", "पेज प्रकाशित करें", "Publish"),
        ("Nepali", "पृष्ठ प्रकाशित", "Publish"),
        ("German", "Veröffentlichen", "Опубликовать"),
        ("Vietnamese", "Xuất bản trang", "发布页面"),
    ],
)
def test_script_of_the_target(lang: str, good: str, bad: str) -> None:
    assert "script" not in check("Publish", good, target_lang=lang)
    assert "script" in check("Publish", bad, target_lang=lang)


def test_script_is_judged_on_three_letters_outside_placeholders() -> None:
    assert check("OK {title}", "OK {title}", target_lang="Japanese") == ()
    assert check("Go to %(page_title)s", "%(page_title)s へ", target_lang="Japanese") == ()
    assert check("Go to %(page_title)s", "Gehe zu %(page_title)s", target_lang="ja") == ("script",)
    assert check("Publish", "Publish", target_lang="Armenian") == ("echo",)  # no rule for hy


def test_glossary_terms_must_appear_in_the_translation() -> None:
    terms = [("page tree", "Seitenbaum"), ("snippet", "Schnipsel")]
    assert check("Open the page tree", "Öffne den Seitenbaum", target_lang="de", terms=terms) == ()
    assert check("Open the Page  Tree", "Öffne den SEITENBAUM", target_lang="de", terms=terms) == ()
    assert check("Open the page tree", "Öffne die Seiten", target_lang="de", terms=terms) == (
        "glossary",
    )
    # a source term that does not occur (as a word, outside placeholders) asks for nothing
    assert check("Open the snippets", "Öffne", target_lang="de", terms=terms) == ()
    assert check("Open %(snippet)s", "Öffne %(snippet)s", target_lang="de", terms=terms) == ()


def test_flags_come_in_flags_order() -> None:
    source = "Delete the page tree %(title)s now, please"
    flags = check(source, "Delete", target_lang="Russian", terms=[("page tree", "дерево")])
    assert flags == ("length_ratio", "placeholders", "glossary", "script")
    assert list(flags) == [flag for flag in FLAGS if flag in flags]
    assert check(source, source, target_lang="ja") == ("echo", "script")


def test_an_unknown_target_language_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Klingon"):
        check("Publish", "Qapla", target_lang="Klingon")
