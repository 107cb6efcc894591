"""gettext PO: messages per target (plural forms, contexts, kept translations) and render."""

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
POT = DATA / "wtforms.pot"

SMALL = b"""\
# header comment
#, fuzzy
msgid ""
msgstr ""
"Content-Type: text/plain; charset=CHARSET\\n"
"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n"

# a translator note
#. shown to translators
#: app.py:1 app.py:9
#, python-format
msgctxt "menu"
msgid "Open %(name)s"
msgstr ""

msgctxt "verb"
msgid "Open %(name)s"
msgstr ""

#, c-format
msgid "%d file"
msgid_plural "%d files"
msgstr[0] ""
msgstr[1] ""

#~ msgid "Gone"
#~ msgstr "Weg"
"""


def _parse(data: bytes, name: str = "messages.pot") -> PoCatalog:
    catalog = FORMAT.parse(data, Path(name))
    assert isinstance(catalog, PoCatalog)
    return catalog


def _read(data: bytes) -> dict[tuple[str | None, str], tuple[tuple[str, ...], bool]]:
    """What polib reads from a rendered catalog: (msgctxt, msgid) -> (msgstr forms, fuzzy)."""
    out = {}
    for e in polib.pofile(data.decode("utf-8")):
        if not e.obsolete:
            forms = tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural)) or (e.msgstr,)
            out[(e.msgctxt, e.msgid)] = (forms, "fuzzy" in e.flags)
    return out


@pytest.mark.parametrize(
    ("lang", "forms", "categories"),
    [
        ("ja", 1, ["other"]),
        ("de", 2, ["one", "other"]),
        ("ru", 3, ["one", "few", "many"]),
        ("ar", 6, ["zero", "one", "two", "few", "many", "other"]),
    ],
)
def test_each_plural_is_asked_in_the_targets_gettext_forms(
    lang: str, forms: int, categories: list[str]
) -> None:
    messages = FORMAT.messages(_parse(SMALL), lang, None)
    plural = [m for m in messages if m.id.startswith("%d file#")]
    assert [m.plural for m in plural] == categories
    assert [m.id for m in plural] == [f"%d file#{c}" for c in categories]
    assert all(m.context["count"] for m in plural)
    for m in plural:
        one = "1" in m.context["count"].split(", ") and forms > 1
        assert m.text == ("%d file" if one else "%d files")
    rendered = FORMAT.render(
        _parse(SMALL), lang, None, {m.id: Target(f"{m.plural} form") for m in plural}
    )
    read = polib.pofile(rendered.decode())
    entry = read.find("%d file")
    assert entry is not None
    assert [entry.msgstr_plural[i] for i in range(forms)] == [f"{c} form" for c in categories]
    assert read.metadata["Language"] == lang
    assert read.metadata["Plural-Forms"].startswith(f"nplurals={forms};")


def test_ru_counts_name_the_numbers_of_each_form() -> None:
    messages = FORMAT.messages(_parse(SMALL), "ru", None)
    counts = {m.plural: m.context["count"] for m in messages if m.plural}
    assert counts == {"one": "1, 21, 31, 41, …", "few": "2, 3, 4, 22, …", "many": "0, 5, 6, 7, …"}


def test_contexts_travel_and_tell_identical_texts_apart() -> None:
    messages = FORMAT.messages(_parse(SMALL), "de", None)
    menu, verb = messages[0], messages[1]
    assert menu.text == verb.text == "Open %(name)s"
    assert menu.id != verb.id
    assert dict(menu.context) == {
        "key": "Open %(name)s",
        "msgctxt": "menu",
        "comment": "shown to translators",
        "note": "a translator note",
        "references": "app.py:1 app.py:9",
        "flags": "python-format",
    }
    assert menu.placeholders == ("%(name)s",)
    assert verb.placeholders == ()  # no python-format flag: nothing is a placeholder
    assert messages[2].placeholders == ("%d",)


def test_obsolete_entries_are_not_sent_and_kept_as_they_are() -> None:
    messages = FORMAT.messages(_parse(SMALL), "de", None)
    assert not any("Gone" in m.text for m in messages)
    rendered = FORMAT.render(_parse(SMALL), "de", None, {m.id: Target("x") for m in messages})
    assert rendered.endswith(b'#~ msgid "Gone"\n#~ msgstr "Weg"\n')


def test_a_new_target_gets_the_header_of_its_language() -> None:
    rendered = FORMAT.render(
        _parse(SMALL), "pt-BR", None, {"verb\x04Open %(name)s": Target("Abrir")}
    )
    text = rendered.decode()
    assert text.startswith("# header comment\nmsgid")  # the template's fuzzy header flag is gone
    read = polib.pofile(text)
    assert read.metadata["Language"] == "pt_BR"
    assert read.metadata["Content-Type"] == "text/plain; charset=UTF-8"
    assert read.metadata["Plural-Forms"].startswith("nplurals=3;")
    assert _read(rendered)[("verb", "Open %(name)s")] == (("Abrir",), False)
    assert _read(rendered)[(None, "%d file")] == (("", "", ""), False)


def test_a_flagged_translation_is_written_fuzzy_and_a_clean_one_clears_it() -> None:
    src = _parse(SMALL)
    first = FORMAT.render(src, "de", None, {"menu\x04Open %(name)s": Target("x", review=True)})
    assert b'#, fuzzy, python-format\nmsgctxt "menu"' in first
    old = _parse(first, "de.po")
    sent = {m.id: m for m in FORMAT.messages(src, "de", old)}
    assert not sent["menu\x04Open %(name)s"].keep  # fuzzy: sent again
    second = FORMAT.render(src, "de", old, {"menu\x04Open %(name)s": Target("Öffne")})
    assert _read(second)[("menu", "Open %(name)s")] == (("Öffne",), False)
    assert b'#, python-format\nmsgctxt "menu"' in second


def test_human_translations_are_kept_unless_overwrite_and_stale_ones_are_sent() -> None:
    src = _parse(SMALL)
    existing = SMALL.replace(b'"Open %(name)s"\nmsgstr ""', b'"Open %(name)s"\nmsgstr "Auf"', 1)
    existing = existing.replace(b'msgstr[0] ""', b'msgstr[0] "%d Datei"')
    existing = existing.replace(
        b'"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;',
        b'"Plural-Forms: nplurals=2; plural=(n != 1);',
    )
    old = _parse(existing, "de.po")
    sent = {m.id: m for m in FORMAT.messages(src, "de", old)}
    assert sent["menu\x04Open %(name)s"].keep and sent["menu\x04Open %(name)s"].existing == "Auf"
    assert not sent["verb\x04Open %(name)s"].keep
    assert sent["%d file#one"].keep and not sent["%d file#other"].keep
    assert not any(m.keep for m in FORMAT.messages(src, "de", old, overwrite=True))
    changed = _parse(SMALL.replace(b'msgid_plural "%d files"', b'msgid_plural "%d items"'))
    assert not any(m.keep for m in FORMAT.messages(changed, "de", old) if m.plural)


def test_rendering_into_an_existing_target_changes_only_the_translated_entries() -> None:
    path = DATA / "django-humanize-ru.po"
    old = _parse(path.read_bytes(), path.name)
    assert FORMAT.render(old, "ru", old, {}) == path.read_bytes()
    messages = FORMAT.messages(old, "ru", old)
    assert all(m.keep for m in messages if m.existing)
    plural = [m for m in messages if m.plural]
    assert len({m.id.rpartition("#")[0] for m in plural}) * 4 == len(plural)  # its nplurals=4
    target = next(m for m in messages if m.id == "Humanize")
    rendered = FORMAT.render(old, "ru", old, {target.id: Target("Новое")})
    before, after = path.read_bytes().split(b"\n"), rendered.split(b"\n")
    assert len(before) == len(after)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [30]


def test_an_entry_new_in_the_source_goes_before_the_obsolete_ones() -> None:
    src = _parse(SMALL)
    old = _parse(FORMAT.render(src, "de", None, {"%d file#one": Target("%d Datei")}), "de.po")
    newer = _parse(SMALL.replace(b"#~ msgid", b'msgid "New"\nmsgstr ""\n\n#~ msgid'))
    rendered = FORMAT.render(newer, "de", old, {"New": Target("Neu")})
    assert b'msgstr[1] ""\n\nmsgid "New"\nmsgstr "Neu"\n\n#~ msgid "Gone"' in rendered
    assert _read(rendered)[(None, "%d file")] == (("%d Datei", ""), False)


_TEXT = st.text(alphabet=st.sampled_from(list('ab Z%s{}"\\\t\né€\u2028\x85\r')), max_size=90)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_subset_translated_reads_back_exactly(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(DATA.iterdir())), label="file")
    src = _parse(path.read_bytes(), path.name)
    lang = data.draw(st.sampled_from(["de", "ja", "ru", "ar"]), label="lang")
    messages = FORMAT.messages(src, lang, None)
    chosen = (
        data.draw(st.lists(st.sampled_from(messages), unique_by=lambda m: m.id)) if messages else []
    )
    text = _TEXT if src.codec == "utf-8" else _TEXT.map(lambda t: t.replace("\u2028", "ß"))
    translations = {m.id: Target(data.draw(text), review=data.draw(st.booleans())) for m in chosen}
    rendered = FORMAT.render(src, lang, None, translations)
    back = _parse(rendered, "x.po")
    again = {m.id: m.existing for m in FORMAT.messages(src, lang, back)}
    assert {k: again[k] for k in translations} == {k: t.text for k, t in translations.items()}
    assert FORMAT.serialize(back) == rendered


def test_a_translation_the_charset_cannot_hold_is_one_clear_error() -> None:
    path = DATA / "polib-test-iso-8859-15-fr.po"
    src = _parse(path.read_bytes(), path.name)
    first = FORMAT.messages(src, "ja", None)[0]
    with pytest.raises(CatalogError, match=r"cannot hold.*convert it to UTF-8"):
        FORMAT.render(src, "ja", None, {first.id: Target("日本語")})


def test_a_source_without_a_header_gets_one_in_its_line_endings() -> None:
    data = b'#: a.py:1\r\nmsgid "Hi"\r\nmsgstr ""\r\n'
    rendered = FORMAT.render(_parse(data), "ru", None, {"Hi": Target("Привет")})
    assert rendered.startswith(
        b'msgid ""\r\nmsgstr ""\r\n"Language: ru\\n"\r\n'
        b'"Content-Type: text/plain; charset=UTF-8\\n"\r\n'
    )
    assert b"\n" not in rendered.replace(b"\r\n", b"")
    read = _parse(rendered, "ru.po")
    assert read.metadata["Language"] == "ru" and read.plural_forms is not None
    assert read.plural_forms.startswith("nplurals=3;")


def test_a_literal_percent_or_brace_is_not_a_placeholder() -> None:
    data = (
        b'#, c-format\nmsgid "100%%d done: %s"\nmsgstr ""\n\n'
        b'#, python-brace-format\nmsgid "{{literal}} {name}"\nmsgstr ""\n'
    )
    messages = FORMAT.messages(_parse(data), "de", None)
    assert [m.placeholders for m in messages] == [("%s",), ("{name}",)]
