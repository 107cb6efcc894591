"""Android strings.xml: byte-exact round trips, aapt2's escapes, plurals per target language."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.formats.android import AndroidCatalog, AndroidFormat
from pipeline.formats.catalog import CatalogError, Message, Target, plural_categories

DATA = Path(__file__).parent / "data" / "l10n" / "android"
ANDROID = AndroidFormat()
REAL = sorted(p.parent.parent.name for p in DATA.glob("*/values/strings.xml"))
XLIFF_NS = 'xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2"'


def parse(data: bytes | str, name: str = "res/values/strings.xml") -> AndroidCatalog:
    return ANDROID.parse(data.encode() if isinstance(data, str) else data, Path(name))


def real(name: str) -> AndroidCatalog:
    return parse((DATA / name / "values" / "strings.xml").read_bytes())


def by_id(messages: list[Message]) -> dict[str, Message]:
    return {m.id: m for m in messages}


def resources(body: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<resources {XLIFF_NS}>\n{body}</resources>\n'


# -- generated catalogs --------------------------------------------------------------------------

# (raw XML, the text aapt2 reads) for one piece of a string value
ATOMS = st.sampled_from(
    [
        ("\\'", "'"),
        ('\\"', '"'),
        ("\\n", "\n"),
        ("\\t", "\t"),
        ("\\@", "@"),
        ("\\?", "?"),
        ("\\\\", "\\"),
        ("\\u00e9", "é"),
        ("&amp;", "&"),
        ("&lt;b&gt;", "<b>"),
        ("&#233;", "é"),
        ("%1$s", "%1$s"),
        ("%d", "%d"),
        ('<xliff:g id="n" example="5">%s</xliff:g>', '<xliff:g id="n" example="5">%s</xliff:g>'),
        ("<![CDATA[a & <b>]]>", "a & <b>"),
        ('"  two  spaces "', "  two  spaces "),
        ("ünï", "ünï"),
    ]
) | st.text(st.characters(categories=("L", "N")), min_size=1, max_size=5).map(lambda s: (s, s))
SPACES = st.sampled_from([" ", "  ", "\n        ", "\t"])


@st.composite
def values(draw: st.DrawFn) -> tuple[str, str]:
    """A string resource's raw content and its text: white space only between atoms."""
    atoms = draw(st.lists(ATOMS, min_size=1, max_size=6))
    raw, text = atoms[0]
    for atom_raw, atom_text in atoms[1:]:
        if draw(st.booleans()):
            raw, text = raw + draw(SPACES), text + " "
        raw, text = raw + atom_raw, text + atom_text
    return raw, text


@st.composite
def catalogs(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A strings.xml as bytes and the text of each source message id."""
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    lines, expected = [], {}
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["string", "string", "plurals", "array", "fixed", "other"]))
        if draw(st.booleans()):
            lines.append(f"    <!-- comment {n} -->")
        raw, text = draw(values())
        quote = draw(st.sampled_from(['"', "'"]))
        if kind == "string":
            lines.append(f"    <string name={quote}s{n}{quote}>{raw}</string>")
            expected[f"s{n}"] = text
        elif kind == "plurals":
            other_raw, other = draw(values())
            one = f'<item quantity="one">{raw}</item>'
            items = f'        {one}{nl}        <item quantity="other">{other_raw}</item>'
            lines.append(f'    <plurals name="p{n}">{nl}{items}{nl}    </plurals>')
            expected |= {f"p{n}#one": text, f"p{n}#other": other}
        elif kind == "array":
            item = f"<item>{raw}</item>"
            lines.append(f'    <string-array name="a{n}">{nl}        {item}{nl}    </string-array>')
            expected[f"a{n}[0]"] = text
        elif kind == "fixed":
            lines.append(f'    <string name="f{n}" translatable="false">{raw}</string>')
        else:
            lines.append(f'    <integer name="i{n}">{n}</integer>{nl}    <skip />')
    head = draw(
        st.sampled_from(['<?xml version="1.0" encoding="utf-8"?>', "<?xml version='1.0'?>", ""])
    )
    bom = draw(st.sampled_from(["", "\ufeff"]))
    doc = f"{bom}{head}{nl}<resources {XLIFF_NS}>{nl}" + nl.join(lines) + f"{nl}</resources>"
    return (doc + draw(st.sampled_from(["", nl]))).encode(), expected


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_a_generated_catalog_round_trips_and_reads_as_aapt2_does(
    case: tuple[bytes, dict[str, str]],
) -> None:
    data, expected = case
    catalog = parse(data)
    assert ANDROID.serialize(catalog) == data
    assert {m.id: m.text for m in ANDROID.messages(catalog, "en", None)} == expected


TRANSLATION = st.lists(
    st.sampled_from(
        [" ", "  ", "'", '"', "\\", "@", "?", "\n", "\t", "&", "<", ">", "%", "\\u0041"]
    )
    | st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=3
    ),
    min_size=1,
    max_size=8,
).map("".join)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), st.sampled_from(["de", "ru", "ar", "ja"]), st.data())
def test_a_rendered_translation_reads_back_exactly(
    case: tuple[bytes, dict[str, str]], lang: str, data: st.DataObject
) -> None:
    source = parse(case[0])
    messages = ANDROID.messages(source, lang, None)
    tags = {m.id: "".join(p for p in m.placeholders if p.startswith("<")) for m in messages}
    wanted = {m.id: Target(data.draw(TRANSLATION) + tags[m.id]) for m in messages}
    rendered = ANDROID.render(source, lang, None, wanted)
    target = parse(rendered, f"res/values-{lang}/strings.xml")
    assert ANDROID.serialize(target) == rendered
    again = ANDROID.messages(source, lang, target)
    assert {m.id: m.existing for m in again} == {k: t.text for k, t in wanted.items()}
    assert all(m.keep == bool(m.existing and m.existing.strip()) for m in again)
    for entry in (e for e in target.entries if e.kind == "plurals"):
        assert tuple(item.quantity for item in entry.items) == plural_categories(lang)
    assert ANDROID.render(source, lang, target, {}) == rendered


# -- the real files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_a_real_file_round_trips_byte_for_byte(name: str) -> None:
    data = (DATA / name / "values" / "strings.xml").read_bytes()
    catalog = parse(data)
    assert ANDROID.serialize(catalog) == data
    assert ANDROID.render(catalog, "fr", catalog, {}) == data


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL), st.sampled_from(["ru", "ar", "fr"]), st.data())
def test_random_translations_of_a_real_file_read_back_exactly(
    name: str, lang: str, data: st.DataObject
) -> None:
    source = real(name)
    messages = ANDROID.messages(source, lang, None)
    chosen = data.draw(st.lists(st.sampled_from(messages), unique_by=lambda m: m.id, max_size=10))
    tags = {m.id: "".join(p for p in m.placeholders if p.startswith("<")) for m in chosen}
    wanted = {m.id: Target(data.draw(TRANSLATION) + tags[m.id]) for m in chosen}
    existing = parse(ANDROID.render(source, lang, None, {m.id: Target(m.text) for m in messages}))
    again = by_id(
        ANDROID.messages(source, lang, parse(ANDROID.render(source, lang, existing, wanted)))
    )
    assert {m.id: m.existing for m in again.values()} == {
        m.id: wanted.get(m.id, Target(m.text)).text for m in messages
    }


def test_texts_contexts_and_ids_of_a_real_file() -> None:
    messages = by_id(ANDROID.messages(real("aosp-calendar"), "de", None))
    assert messages["app_label"].context == {
        "key": "app_label",
        "comment": "This is the label underneath the icon for Calendar",
    }
    assert messages["today_at_time_fmt"].text == 'Today at <xliff:g id="time_interval">%s</xliff:g>'
    assert messages["date_time_fmt"].placeholders == (
        '<xliff:g id="date">%1$s</xliff:g>',
        '<xliff:g id="time_interval">%2$s</xliff:g>',
    )
    assert messages["custom@tablet"].text == "Custom (can't customize on tablet)"
    assert messages["custom@default"].text == "Custom (can't customize on phone)"
    assert messages["accounts"].text == "Accounts & sync"
    assert "email_subject_prefix" not in messages  # translatable="false"
    assert [k for k in messages if k.startswith("quick_response_defaults")] == [
        f"quick_response_defaults[{i}]" for i in range(4)
    ]
    thunderbird = by_id(ANDROID.messages(real("thunderbird-message-list"), "de", None))
    assert (
        thunderbird["setup_archive_folder_dialog_create_and_set_new_folder"].text
        == "Create & set new folder"
    )
    assert thunderbird["setup_archive_folder_set_archive_error_account_not_found"].placeholders == (
        "%1$s",
    )


@pytest.mark.parametrize(("lang", "count"), [("ja", 1), ("de", 2), ("ru", 4), ("ar", 6)])
def test_each_plural_is_asked_in_the_targets_quantities_with_the_count(
    lang: str, count: int
) -> None:
    messages = ANDROID.messages(real("aosp-calendar"), lang, None)
    forms = [m for m in messages if m.id.startswith("Nminutes#")]
    assert [m.plural for m in forms] == list(plural_categories(lang)) and len(forms) == count
    assert len({m.id for m in messages}) == len(messages)
    if lang == "ru":
        few = by_id(forms)["Nminutes#few"]
        assert few.context["count"] == "2, 3, 4, 22, …" and few.context["plural"] == "few"
        assert few.text == '<xliff:g id="count">%d</xliff:g> minutes'  # from the source's "other"


def test_references_are_not_sent_and_an_array_copies_them() -> None:
    body = (
        '    <string name="alias">@string/app_name</string>\n'
        '    <string name="quoted">"@home"</string>\n'
        '    <string-array name="days">\n        <item>@string/monday</item>\n'
        "        <item>Tuesday</item>\n    </string-array>\n"
    )
    source = parse(resources(body))
    assert [(m.id, m.text) for m in ANDROID.messages(source, "de", None)] == [
        ("quoted", "@home"),
        ("days[1]", "Tuesday"),
    ]
    rendered = ANDROID.render(source, "de", None, {"days[1]": Target("Dienstag")}).decode()
    assert "<item>@string/monday</item>\n        <item>Dienstag</item>" in rendered
    assert "alias" not in rendered


def test_a_new_target_holds_the_translated_entries_with_the_targets_quantities() -> None:
    source = real("thunderbird-settings-import")
    messages = ANDROID.messages(source, "ru", None)
    wanted = {m.id: Target(f"{m.id} {' '.join(m.placeholders)}") for m in messages}
    rendered = ANDROID.render(source, "ru", None, wanted).decode()
    assert rendered.startswith('<?xml version="1.0" encoding="utf-8"?>\n<resources xmlns:xliff=')
    assert re.findall(r'quantity="(\w+)"', rendered) == ["one", "few", "many", "other"]
    few = 'settings_import_password_prompt#few <xliff:g id="account">%s</xliff:g>'
    assert f'<item quantity="few">{few}</item>' in rendered
    assert rendered.count("<string ") == len(messages) - 4


def test_a_plural_is_written_only_when_all_its_forms_are_translated() -> None:
    source = real("thunderbird-settings-import")
    rendered = ANDROID.render(
        source, "ru", None, {"settings_import_password_prompt#one": Target("один")}
    )
    assert b"<plurals" not in rendered


def test_escapes_on_write() -> None:
    source = parse(resources('    <string name="a">A</string>\n    <string name="b">B</string>\n'))
    rendered = ANDROID.render(
        source, "fr", None, {"a": Target('@it\'s "x"\\\n&<'), "b": Target(" deux  espaces")}
    )
    assert '<string name="a">\\@it\\\'s \\"x\\"\\\\\\n&amp;&lt;</string>' in rendered.decode()
    assert '<string name="b">" deux  espaces"</string>' in rendered.decode()


def test_a_translation_that_breaks_an_xliff_g_span_is_refused() -> None:
    source = real("thunderbird-settings-import")
    key = "settings_import_server_name_format"
    wanted = {key: Target("Nom du serveur : %s"), "settings_import_title": Target("Importer")}
    rendered = ANDROID.render(source, "fr", None, wanted).decode()
    assert key not in rendered and "Importer" in rendered


def test_human_translations_are_kept_unless_overwrite() -> None:
    source = real("thunderbird-message-list")
    done = '    <string name="setup_archive_folder_dialog_done">Fertig</string>\n'
    existing = parse(resources(done + '    <string name="setup_archive_folder_dialog_cancel"/>\n'))
    messages = by_id(ANDROID.messages(source, "de", existing))
    done, cancel = (
        messages["setup_archive_folder_dialog_done"],
        messages["setup_archive_folder_dialog_cancel"],
    )
    assert (done.keep, done.existing) == (True, "Fertig") and (cancel.keep, cancel.existing) == (
        False,
        "",
    )
    assert not by_id(ANDROID.messages(source, "de", existing, overwrite=True))[done.id].keep
    rendered = ANDROID.render(source, "de", existing, {cancel.id: Target("Abbrechen")}).decode()
    assert '<string name="setup_archive_folder_dialog_cancel">Abbrechen</string>' in rendered


def test_rendering_into_an_existing_target_changes_only_the_translated_entries() -> None:
    source = real("aosp-calendar")
    old = (
        (DATA / "aosp-calendar" / "values" / "strings.xml")
        .read_text("utf-8")
        .replace("Calendar</string>", "Kalender</string>")
    )
    existing = parse(old.replace('name="what_label">What', 'name="what_label">Was'))
    rendered = ANDROID.render(
        source, "de", existing, {"what_label": Target("Was?"), "Nhours#one": Target("1 Stunde")}
    )
    diff = [
        line
        for line in difflib.unified_diff(
            existing.doc.text.splitlines(), rendered.decode().splitlines(), n=0, lineterm=""
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert diff == [
        '-    <string name="what_label">Was</string>',
        '+    <string name="what_label">Was?</string>',
        '-        <item quantity="one">1 hour</item>',
        '+        <item quantity="one">1 Stunde</item>',
    ]


def test_an_entry_new_in_the_source_goes_after_its_predecessor_in_the_target() -> None:
    abc = "".join(f'    <string name="{n}">{n.upper()}</string>\n' for n in "abc")
    source = parse(resources(abc))
    existing = parse(
        resources('    <string name="a">Á</string>\n    <string name="c">Ć</string>\n')
    )
    rendered = ANDROID.render(source, "pl", existing, {"b": Target("Ḃ")}).decode()
    assert '"a">Á</string>\n    <string name="b">Ḃ</string>\n    <string name="c">Ć' in rendered


@pytest.mark.parametrize(
    ("lang", "folder"),
    [
        ("de", "values-de"),
        ("pt-BR", "values-pt-rBR"),
        ("zh-Hant", "values-b+zh+Hant"),
        ("zh-TW", "values-zh-rTW"),
        ("es-419", "values-b+es+419"),
        ("fil", "values-b+fil"),
    ],
)
def test_target_path_is_the_values_folder_of_the_language(lang: str, folder: str) -> None:
    assert ANDROID.target_path(Path("app/res/values/strings.xml"), lang) == Path(
        f"app/res/{folder}/strings.xml"
    )


# -- bad catalogs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ('    <string name="a">A</string>\n    <string name="b">B\n', 5, "not well-formed XML"),
        (
            '    <string name="a">A</string>\n    <string name="a">B</string>\n',
            4,
            "duplicate <string name='a'>",
        ),
        (
            '    <plurals name="p">\n        <item quantity="one">1</item>\n    </plurals>\n',
            3,
            'no quantity="other"',
        ),
        (
            '    <plurals name="p">\n        <item>1</item>\n    </plurals>\n',
            4,
            "without a quantity",
        ),
        ("    <string>A</string>\n", 3, "<string> without a name"),
    ],
)
def test_a_bad_catalog_names_its_line(body: str, line: int, words: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse(resources(body))
    assert raised.value.line == line and words in str(raised.value), str(raised.value)
    assert str(raised.value).startswith(f"res/values/strings.xml:{line}: ") and "\n" not in str(
        raised.value
    )


def test_a_file_that_is_not_resources_is_refused() -> None:
    with pytest.raises(
        CatalogError, match=r"strings.xml:1: the root is <manifest>, not <resources>"
    ):
        parse("<manifest/>")
