"""gettext PO/POT: every accepted file writes back byte for byte (real files and generated ones)."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.catalog import CatalogError, Target
from pipeline.formats.po import FORMAT
from pipeline.formats.po_file import PoCatalog

DATA = Path(__file__).parent / "data" / "l10n" / "po"
REAL = sorted(DATA.iterdir())


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_catalogs_round_trip_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    catalog = FORMAT.parse(data, path)
    assert FORMAT.serialize(catalog) == data
    assert isinstance(catalog, PoCatalog)
    ours = [(e.msgctxt, e.msgid, e.msgstr) for e in catalog.entries()]
    theirs = polib.pofile(data.decode(catalog.codec))
    expected = [
        (
            e.msgctxt,
            e.msgid,
            tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural)) or (e.msgstr,),
        )
        for e in theirs
        if not e.obsolete
    ]
    assert ours == expected


def test_the_iso_8859_15_catalog_is_read_in_its_charset() -> None:
    path = DATA / "polib-test-iso-8859-15-fr.po"
    catalog = FORMAT.parse(path.read_bytes(), path)
    assert isinstance(catalog, PoCatalog)
    assert catalog.codec == "iso8859-15"
    assert any("échoué" in e.msgstr[0] for e in catalog.entries())


_TEXT = st.text(
    alphabet=st.sampled_from(list('abc XYZ%s{}"\\\t\né€ü\u2028\x85\x1c\r')), max_size=30
)
_WORD = st.text(alphabet=st.sampled_from(list("abcdef :./0123456789")), max_size=20).map(str.strip)


def _literal_lines(keyword: str, text: str, cut: int, prefix: str) -> list[str]:
    escaped = [polib.escape(text[i : i + cut]) for i in range(0, len(text), cut)] or [""]
    if len(escaped) == 1:
        return [f'{prefix}{keyword} "{escaped[0]}"']
    return [f'{prefix}{keyword} ""'] + [f'{prefix}"{chunk}"' for chunk in escaped]


@st.composite
def _entries(
    draw: st.DrawFn, index: int
) -> tuple[list[str], tuple[str | None, str, tuple[str, ...]]]:
    obsolete = draw(st.booleans()) and draw(st.booleans())
    prefix = "#~ " if obsolete else ""
    lines = [f"# {c}" for c in draw(st.lists(_WORD, max_size=2))]
    lines += [f"#. {c}" for c in draw(st.lists(_WORD, max_size=2))]
    lines += [f"#: {r}" for r in draw(st.lists(_WORD.filter(bool), max_size=2))]
    flags = draw(st.lists(st.sampled_from(["fuzzy", "c-format", "python-format"]), unique=True))
    if flags:
        lines.append("#, " + ", ".join(flags))
    cut = draw(st.integers(1, 12))
    context = draw(st.none() | _TEXT)
    if context is not None:
        lines += _literal_lines("msgctxt", context, cut, prefix)
    msgid = f"{index}:" + draw(_TEXT)
    lines += _literal_lines("msgid", msgid, cut, prefix)
    if draw(st.booleans()):
        lines += _literal_lines("msgid_plural", draw(_TEXT), cut, prefix)
        forms = (draw(_TEXT), draw(_TEXT))
        for i, form in enumerate(forms):
            lines += _literal_lines(f"msgstr[{i}]", form, cut, prefix)
    else:
        forms = (draw(_TEXT),)
        lines += _literal_lines("msgstr", forms[0], cut, prefix)
    return lines, ((context, msgid, forms) if not obsolete else (None, "", ()))


@st.composite
def _catalogs(draw: st.DrawFn) -> tuple[bytes, list[tuple[str | None, str, tuple[str, ...]]]]:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    header = [
        "# A catalog",
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"',
    ]
    blocks = [header]
    expected = []
    for index in range(draw(st.integers(0, 6))):
        lines, entry = draw(_entries(index))
        blocks.append(lines)
        if entry[1]:
            expected.append(entry)
    separator = draw(st.sampled_from(["", " ", "\t"]))
    text = (newline + separator + newline).join(newline.join(block) for block in blocks)
    text += draw(st.sampled_from(["", newline, newline + "# trailing" + newline]))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + text.encode("utf-8"), expected


@settings(max_examples=150, deadline=None)
@given(_catalogs())
def test_generated_catalogs_round_trip(
    generated: tuple[bytes, list[tuple[str | None, str, tuple[str, ...]]]],
) -> None:
    data, expected = generated
    catalog = FORMAT.parse(data, Path("gen.po"))
    assert FORMAT.serialize(catalog) == data
    assert isinstance(catalog, PoCatalog)
    assert [(e.msgctxt, e.msgid, e.msgstr) for e in catalog.entries()] == expected


def test_target_paths_follow_the_gettext_layouts() -> None:
    assert FORMAT.target_path(Path("po/messages.pot"), "de") == Path("po/de.po")
    assert FORMAT.target_path(Path("locale/en/LC_MESSAGES/django.po"), "pt-BR") == Path(
        "locale/pt_BR/LC_MESSAGES/django.po"
    )


_HEADER = 'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (
            'msgid "a"\nmsgstr ""\n\n#: x.py:1\nmsgid "a"\nmsgstr ""\n',
            9,
            "duplicate msgid 'a', first at line 5",
        ),
        (
            'msgctxt "m"\nmsgid "a"\nmsgstr ""\n\nmsgctxt "m"\nmsgid "a"\nmsgstr ""\n',
            10,
            "duplicate msgid 'a' (msgctxt 'm')",
        ),
        (
            'msgid "a"\nmsgid_plural "as"\nmsgstr[0] ""\nmsgstr[1] ""\nmsgstr[2] ""\n',
            7,
            "has 3 plural forms but the header's Plural-Forms says nplurals=2",
        ),
        ('msgid "a"\nmsgstr "open\n', 6, "unterminated string"),
        ('msgid "a\nmsgstr ""\n', 5, "unterminated string"),
        ('msgid "a"\n', 5, "msgid without msgstr"),
    ],
)
def test_a_bad_catalog_names_its_line(body: str, line: int, words: str) -> None:
    with pytest.raises(CatalogError) as raised:
        FORMAT.parse((_HEADER + body).encode(), Path("de.po"))
    message = str(raised.value)
    assert raised.value.line == line and words in message, message
    assert message.startswith(f"de.po:{line}: ") and "\n" not in message
    assert raised.value.exit_code == 2


def test_the_same_msgid_in_two_contexts_and_an_obsolete_twin_are_not_duplicates() -> None:
    body = (
        'msgid "a"\nmsgstr ""\n\nmsgctxt "m"\nmsgid "a"\nmsgstr ""\n\n#~ msgid "a"\n#~ msgstr "x"\n'
    )
    catalog = FORMAT.parse((_HEADER + body).encode(), Path("de.po"))
    assert isinstance(catalog, PoCatalog)
    assert [e.msgctxt for e in catalog.entries()] == [None, "m"]


@settings(max_examples=100, deadline=None)
@given(generated=_catalogs(), lang=st.sampled_from(["de", "ja", "ru", "ar"]), choices=st.data())
def test_any_subset_of_a_generated_catalog_translated_reads_back_exactly(
    generated: tuple[bytes, list[tuple[str | None, str, tuple[str, ...]]]],
    lang: str,
    choices: st.DataObject,
) -> None:
    src = FORMAT.parse(generated[0], Path("messages.pot"))
    target = None
    expected: dict[str, str] = {}
    for _round in range(2):  # a new target, then into it as the existing one
        messages = FORMAT.messages(src, lang, target)
        chosen = (
            choices.draw(st.sets(st.sampled_from([m.id for m in messages]))) if messages else set()
        )
        translations = {
            i: Target(choices.draw(_TEXT), review=choices.draw(st.booleans())) for i in chosen
        }
        rendered = FORMAT.render(src, lang, target, translations)
        target = FORMAT.parse(rendered, Path(f"{lang}.po"))
        assert FORMAT.serialize(target) == rendered
        expected |= {i: t.text for i, t in translations.items()}
        again = {m.id: m.existing for m in FORMAT.messages(src, lang, target)}
        assert {i: again[i] for i in expected} == expected
