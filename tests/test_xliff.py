"""XLIFF 1.2 and 2.0: byte-exact round trips, targets and states written, inline codes protected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.formats.catalog import CatalogError, Message, Target
from pipeline.formats.xliff import XliffCatalog, XliffFormat

DATA = Path(__file__).parent / "data" / "l10n" / "xliff"
XLIFF = XliffFormat()
ACCEPTED = sorted(p.name for p in DATA.iterdir() if not p.name.startswith("ngx-"))
NS = {1: "urn:oasis:names:tc:xliff:document:1.2", 2: "urn:oasis:names:tc:xliff:document:2.0"}


def parse(data: bytes | str, name: str = "messages.xlf") -> XliffCatalog:
    raw = data.encode() if isinstance(data, str) else data
    return XLIFF.parse(raw, Path(name))


def real(name: str) -> XliffCatalog:
    return parse((DATA / name).read_bytes(), name)


def v12(body: str, nl: str = "\n", head: str = "") -> str:
    file = '<file source-language="en" datatype="plaintext" original="f">'
    return f'{head}<xliff version="1.2" xmlns="{NS[1]}">{nl}{file}<body>{nl}{body}</body></file>'


def v20(body: str, nl: str = "\n", head: str = "") -> str:
    return f'{head}<xliff version="2.0" xmlns="{NS[2]}" srcLang="en">{nl}<file id="f">{nl}{body}'


def by_id(messages: list[Message]) -> dict[str, Message]:
    return {m.id: m for m in messages}


# -- generated catalogs --------------------------------------------------------------------------

TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn"))
    | st.sampled_from("\n\t&<>'\""),
    max_size=12,
)


@st.composite
def content(draw: st.DrawFn, version: int) -> tuple[str, str, list[str]]:
    """Source XML, the message text it reads as, and its inline tags (literal XML)."""
    xml, text, tags = [], [], []
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "text", "cdata", "empty", "paired"]))
        chars = draw(TEXT)
        if kind == "cdata":
            chars = chars.replace("]]>", "")
            xml.append(f"<![CDATA[{chars}]]>")
            text.append(chars)
            continue
        escaped = chars.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        escaped = escaped.replace("'", draw(st.sampled_from(["'", "&apos;", "&#39;"])))
        if kind == "text":
            xml.append(escaped)
            text.append(chars)
        elif kind == "empty":
            tag = f'<x id="{n}"/>' if version == 1 else f"<ph id='{n}' disp=\"&lt;br/>\"/>"
            xml.append(tag)
            text.append(tag)
            tags.append(tag)
        else:
            opener, closer = (
                (f'<g id="{n}">', "</g>") if version == 1 else (f'<pc id="{n}">', "</pc>")
            )
            xml.append(opener + escaped + closer)
            text.append(opener + chars + closer)
            tags += [opener, closer]
    return "".join(xml), "".join(text), tags


@st.composite
def catalogs(draw: st.DrawFn) -> tuple[bytes, int, dict[str, tuple[str, list[str]]]]:
    """A whole XLIFF document as bytes, its version, and each unit's text and tags."""
    version = draw(st.sampled_from([1, 2]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    indent = draw(st.sampled_from(["  ", "    ", "\t"]))
    units, expected = [], {}
    for n in range(draw(st.integers(1, 5))):
        xml, text, tags = draw(content(version))
        uid = f"u{n}"
        expected[uid] = (text, tags)
        comment = (
            f"{indent}<!-- {draw(TEXT).replace('-', '')} -->{nl}" if draw(st.booleans()) else ""
        )
        target = f"<target state='translated'>t{n}</target>" if draw(st.booleans()) else ""
        if version == 1:
            unit = f"<trans-unit id='{uid}'><source>{xml}</source>{target}</trans-unit>"
            units.append(f"{comment}{indent}{unit}{nl}")
        else:
            segment = f"<segment><source>{xml}</source>{target.replace(' state=', ' x=')}</segment>"
            units.append(f'{comment}{indent}<unit id="{uid}">{segment}</unit>{nl}')
    body = "".join(units)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    declared = "UTF-16" if encoding == "utf-16" else draw(st.sampled_from(["UTF-8", "utf-8"]))
    head = draw(
        st.sampled_from(
            [
                f'<?xml version="1.0" encoding="{declared}"?>{nl}',
                f"<?xml version='1.0' encoding='{declared}' ?>{nl}",
            ]
        )
    )
    if encoding != "utf-16" and draw(st.booleans()):
        head = ""
    if version == 1:
        doc = v12(body, nl, head) + f"{nl}</xliff>" + draw(st.sampled_from(["", nl]))
    else:
        doc = v20(body, nl, head) + f"</file>{nl}</xliff>"
    return doc.encode(encoding), version, expected


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_a_generated_catalog_round_trips_and_reads_its_texts(
    case: tuple[bytes, int, dict[str, tuple[str, list[str]]]],
) -> None:
    data, version, expected = case
    catalog = parse(data)
    assert XLIFF.serialize(catalog) == data
    assert catalog.version == version
    got = {m.id: (m.text, list(m.placeholders)) for m in XLIFF.messages(catalog, "de", None)}
    assert got == expected


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), TEXT, st.booleans())
def test_a_rendered_translation_reads_back_exactly(
    case: tuple[bytes, int, dict[str, tuple[str, list[str]]]], extra: str, review: bool
) -> None:
    data, _, expected = case
    source = parse(data)
    wanted = {uid: Target("T" + extra + text, review=review) for uid, (text, _) in expected.items()}
    rendered = XLIFF.render(source, "de", None, wanted)
    target = parse(rendered, "messages.de.xlf")
    assert XLIFF.serialize(target) == rendered
    assert rendered.startswith(data[:2])  # the BOM (or its absence) is kept
    again = by_id(XLIFF.messages(source, "de", target))
    assert {uid: m.existing for uid, m in again.items()} == {
        uid: t.text for uid, t in wanted.items()
    }
    assert all(m.keep is not review for m in again.values())
    assert XLIFF.render(source, "de", target, {}) == rendered


# -- the real files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_real_file_round_trips_byte_for_byte(name: str) -> None:
    data = (DATA / name).read_bytes()
    catalog = parse(data, name)
    assert XLIFF.serialize(catalog) == data
    assert XLIFF.render(catalog, "fr", catalog, {}) == data


@pytest.mark.parametrize("name", ACCEPTED)
def test_translating_one_unit_of_a_real_file_changes_only_that_unit(name: str) -> None:
    catalog = real(name)
    lang = catalog.target_lang or "fr"
    first = XLIFF.messages(catalog, lang, None)[0]
    rendered = XLIFF.render(catalog, lang, catalog, {first.id: Target(first.text + " (fr)")})
    target = parse(rendered)
    assert by_id(XLIFF.messages(catalog, lang, target))[first.id].existing == first.text + " (fr)"
    old, new = (next(s.unit for s in c.segments if s.key == first.id) for c in (catalog, target))

    def bare(text: str) -> str:  # every <file> gains target-language="fr"
        return re.sub(r' target-language="[^"]*"', "", text)

    assert bare(catalog.doc.text[: old.start]) == bare(target.doc.text[: new.start])
    assert bare(catalog.doc.text[old.end :]) == bare(target.doc.text[new.end :])


def test_notes_and_resname_travel_as_context_and_ids_carry_the_file_when_several() -> None:
    messages = by_id(XLIFF.messages(real("locize-example-note12.xliff"), "fr", None))
    assert messages["namespace1/key2"].context == {
        "key": "key2",
        "note": "Description note\nDeveloper note",
    }
    angular = by_id(XLIFF.messages(real("angular-i18n-example-fr.xlf"), "de", None))
    assert angular["introductionHeader"].context["note"] == (
        "description: An introduction header for this sample\nmeaning: User welcome"
    )
    assert angular["5206857922697139278"].text == "I don't output any element"


def test_translate_no_units_are_not_sent_and_left_as_they_are() -> None:
    doc = (
        v12("""<trans-unit id="a" translate="no"><source>Brand</source></trans-unit>
<group translate="no"><trans-unit id="b"><source>Logo</source></trans-unit></group>
<trans-unit id="c" resname="title"><source>Title</source></trans-unit>
""")
        + "</xliff>"
    )
    catalog = parse(doc)
    assert [(m.id, m.context["key"]) for m in XLIFF.messages(catalog, "fr", None)] == [
        ("c", "title")
    ]
    rendered = XLIFF.render(catalog, "fr", None, {"c": Target("Titre")}).decode()
    assert '<source>Title</source><target state="translated">Titre</target>' in rendered
    assert "<source>Brand</source></trans-unit>" in rendered


# -- inline elements -------------------------------------------------------------------------------


def test_inline_elements_are_listed_and_a_translation_that_breaks_them_is_refused() -> None:
    catalog = real("angular-i18n-example-fr.xlf")
    plural = next(
        m for m in XLIFF.messages(catalog, "de", None) if '<x id="INTERPOLATION"' in m.text
    )
    assert plural.placeholders == ('<x id="INTERPOLATION" equiv-text="{{minutes}}"/>',)
    lost = plural.text.replace(plural.placeholders[0], "{{minutes}}")
    assert XLIFF.render(catalog, "de", None, {plural.id: Target(lost)}) == XLIFF.render(
        catalog, "de", None, {"x": Target("")}
    )
    kept = XLIFF.render(catalog, "de", None, {plural.id: Target("vor " + plural.text)})
    assert (
        by_id(XLIFF.messages(catalog, "de", parse(kept)))[plural.id].existing
        == "vor " + plural.text
    )


@pytest.mark.parametrize(
    "translation",
    [
        '</g>Hallo <g id="name" ctype="x-python-brace-param">{name}',
        "Hallo {name}",
        "Hallo <g>{name}</g>",
    ],
)
def test_a_paired_code_moved_out_of_order_or_lost_is_refused(translation: str) -> None:
    catalog = real("locize-inline-generic-span12.xliff")
    rendered = XLIFF.render(catalog, "fr", None, {"key1": Target(translation)})
    assert by_id(XLIFF.messages(catalog, "fr", parse(rendered)))["key1"].existing is None


def test_text_that_looks_like_markup_is_escaped_not_taken_as_a_code() -> None:
    catalog = real("locize-inline-generic-span12.xliff")
    source = by_id(XLIFF.messages(catalog, "fr", None))["key1"]
    text = source.text.replace("Hello", "Salut <b> & </b>")
    rendered = XLIFF.render(catalog, "fr", None, {"key1": Target(text)})
    assert b"Salut &lt;b&gt; &amp; &lt;/b&gt;" in rendered
    assert by_id(XLIFF.messages(catalog, "fr", parse(rendered)))["key1"].existing == text


# -- states and human translations -----------------------------------------------------------------


def test_review_states_per_version() -> None:
    v1 = real("symfony-security-cy.xlf")
    rendered = XLIFF.render(
        v1, "de", None, {"1": Target("Fehler", review=True), "2": Target("Nicht gefunden")}
    )
    assert b'<target state="needs-review-translation">Fehler</target>' in rendered
    assert b'<target state="translated">Nicht gefunden</target>' in rendered
    assert (
        b'target-language="de"' in rendered and b"Digwyddodd" not in rendered
    )  # Welsh targets dropped
    v2 = real("locize-example-note.xliff")
    rendered = XLIFF.render(v2, "fr", None, {"namespace1/key1": Target("Bonjour", review=True)})
    assert b'<segment state="translated" subState="mtpipe:needs-review">' in rendered
    assert b'trgLang="fr"' in rendered and b"Hallo" not in rendered


def test_human_targets_are_kept_and_needs_states_are_sent() -> None:
    symfony = real("symfony-validators-ru.xlf")  # target-language="ru": its own existing catalog
    messages = XLIFF.messages(symfony, "ru", None)
    assert sorted(m.id for m in messages if not m.keep) == [
        "114",
        "115",
        "116",
        "117",
        "118",
        "119",
    ]
    assert not any(m.keep for m in XLIFF.messages(symfony, "ru", None, overwrite=True))
    assert not any(m.keep for m in XLIFF.messages(symfony, "fr", None))
    reviewed = XLIFF.messages(real("symfony-security-cy.xlf"), "cy", None)
    assert (
        not any(m.keep for m in reviewed) and reviewed[0].existing == "Digwyddodd eithriad dilysu."
    )


def test_a_changed_source_is_resent_and_its_stale_target_marked() -> None:
    old = real("symfony-validators-ru.xlf")
    source = parse((DATA / "symfony-validators-ru.xlf").read_text("utf-8").replace(
        "This value should be false.", "This value must be false."
    ))  # fmt: skip
    first = by_id(XLIFF.messages(source, "ru", old))["1"]
    assert (first.keep, first.existing) == (False, "Значение должно быть ложным.")
    rendered = XLIFF.render(source, "ru", old, {"2": Target("Истина.")}).decode()
    stale = '<target state="needs-translation">'
    assert f"<source>This value must be false.</source>\n{' ' * 16}{stale}" in rendered


def test_a_unit_new_in_the_source_is_added_to_the_existing_target() -> None:
    source = real("symfony-security-cy.xlf")
    existing = parse(XLIFF.render(source, "de", None, {"1": Target("Eins")}), "security.de.xlf")
    cut = (DATA / "symfony-security-cy.xlf").read_text("utf-8")
    start, end = (
        cut.index('            <trans-unit id="3">'),
        cut.index('            <trans-unit id="4">'),
    )
    shorter = parse(XLIFF.render(parse(cut[:start] + cut[end:]), "de", None, {"1": Target("Eins")}))
    rendered = XLIFF.render(source, "de", shorter, {"3": Target("Drei")})
    assert rendered.decode().count("<trans-unit") == 19
    assert rendered == XLIFF.render(source, "de", existing, {"3": Target("Drei")})


def test_target_path_follows_the_angular_and_symfony_conventions() -> None:
    assert XLIFF.target_path(Path("src/locale/messages.xlf"), "fr") == Path(
        "src/locale/messages.fr.xlf"
    )
    assert XLIFF.target_path(Path("validators.en.xlf"), "pt-BR") == Path("validators.pt-BR.xlf")
    assert XLIFF.target_path(Path("master.xlf2"), "de") == Path("master.de.xlf2")
    assert XLIFF.target_path(Path("app.v2.xliff"), "de") == Path("app.v2.de.xliff")


# -- bad catalogs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "line", "words"),
    [
        (
            f'<xliff version="1.2" xmlns="{NS[1]}">\n<file>\n<body>\n</file></xliff>',
            4,
            "not well-formed",
        ),
        (v12("\n<trans-unit><source>a</source></trans-unit>") + "</xliff>", 4, "without an id"),
        (
            v12(
                '<trans-unit id="a"><source>a</source></trans-unit>\n<trans-unit id="a"><source>b'
            ).replace("</body>", "</source></trans-unit></body>")
            + "</xliff>",
            4,
            "duplicate unit id 'a'",
        ),
        (
            v20('<unit id="a"><segment><target>a</target></segment>') + "</unit></file></xliff>",
            3,
            "no <source>",
        ),
        ('<resources>\n<string name="a">a</string></resources>', 1, "not <xliff>"),
        ('<xliff version="3.0"/>', 1, "version '3.0'"),
        ("", 1, "not well-formed XML: Document is empty (column 1); fix"),
    ],
)
def test_a_bad_catalog_names_its_line(doc: str, line: int, words: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse(doc, "bad.xlf")
    assert raised.value.line == line and words in str(raised.value)
    assert str(raised.value).startswith(f"bad.xlf:{line}: ")
    assert "\n" not in str(raised.value)


def test_a_real_master_with_a_unit_without_an_id_is_refused_at_its_line() -> None:
    with pytest.raises(CatalogError, match=r"ngx\S*:229: <unit> without an id"):
        real("ngx-i18nsupport-ngExtractedMaster1-de.xlf2")
