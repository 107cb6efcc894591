"""Apple .stringsdict: byte-exact round trips, variants per target category, render."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.catalog import CatalogError, Target
from pipeline.formats.stringsdict import FORMAT, StringsdictCatalog

APPLE = Path(__file__).parent / "data" / "l10n" / "apple"
REAL = sorted(APPLE.glob("*/*.lproj/*.stringsdict"))
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
    '<plist version="1.0">\n<dict>\n'
)


def _entry(key: str, fmt: str, variants: dict[str, str], var: str = "n") -> str:
    items = "".join(
        f"\t\t\t<key>{c}</key>\n\t\t\t<string>{t}</string>\n" for c, t in variants.items()
    )
    return (
        f"\t<key>{key}</key>\n\t<dict>\n\t\t<key>NSStringLocalizedFormatKey</key>\n"
        f"\t\t<string>{fmt}</string>\n\t\t<key>{var}</key>\n\t\t<dict>\n"
        "\t\t\t<key>NSStringFormatSpecTypeKey</key>\n\t\t\t<string>NSStringPluralRuleType</string>\n"
        "\t\t\t<key>NSStringFormatValueTypeKey</key>\n\t\t\t<string>lld</string>\n"
        f"{items}\t\t</dict>\n\t</dict>\n"
    )


def _doc(*entries: str) -> bytes:
    return (HEAD + "".join(entries) + "</dict>\n</plist>\n").encode()


def _parse(data: bytes, name: str = "en.lproj/Localizable.stringsdict") -> StringsdictCatalog:
    catalog = FORMAT.parse(data, Path(name))
    assert isinstance(catalog, StringsdictCatalog)
    return catalog


FILES = _entry("files", "%#@n@", {"one": "%lld file", "other": "%lld files"})
FOLDERS = _entry(
    "folders", "In %@: %#@n@", {"zero": "no folders", "one": "a folder", "other": "%lld folders"}
)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.parent.parent.name)
def test_real_files_round_trip_and_read_as_plistlib_reads_them(path: Path) -> None:
    data = path.read_bytes()
    catalog = _parse(data, str(path))
    assert FORMAT.serialize(catalog) == data
    plist = plistlib.loads(data)
    for entry in catalog.entries:
        for variable in entry.variables:
            theirs = plist[entry.key][variable.name]
            assert {c: t for c, (_, _, t) in variable.variants.items()} == {
                c: theirs[c] for c in theirs if not c.startswith("NSString")
            }


@pytest.mark.parametrize(
    ("lang", "categories"),
    [
        ("ja", ["other"]),
        ("de", ["one", "other"]),
        ("ru", ["one", "few", "many", "other"]),
        ("ar", ["zero", "one", "two", "few", "many", "other"]),
    ],
)
def test_variants_are_asked_in_the_targets_categories(lang: str, categories: list[str]) -> None:
    messages = FORMAT.messages(_parse(_doc(FILES)), lang, None)
    assert [m.plural for m in messages] == categories
    assert [m.id for m in messages] == [f"files/n#{c}" for c in categories]
    for m in messages:
        assert m.text == ("%lld file" if m.plural == "one" else "%lld files")
        assert m.context["key"] == "files" and m.context["plural"] == m.plural
        assert m.placeholders == ("%lld",)
    rendered = FORMAT.render(
        _parse(_doc(FILES)), lang, None, {m.id: Target(f"[{m.plural}]") for m in messages}
    )
    variants = plistlib.loads(rendered)["files"]["n"]
    assert {k: v for k, v in variants.items() if not k.startswith("NS")} == {
        c: f"[{c}]" for c in categories
    }


def test_a_zero_variant_is_kept_for_every_language_and_a_format_with_text_is_sent() -> None:
    messages = {m.id: m for m in FORMAT.messages(_parse(_doc(FOLDERS)), "de", None)}
    assert list(messages) == ["folders", "folders/n#zero", "folders/n#one", "folders/n#other"]
    assert messages["folders"].placeholders == ("%@", "%#@n@")
    assert messages["folders/n#zero"].context["count"] == "0"


def test_a_new_target_holds_only_the_complete_keys() -> None:
    src = _parse(_doc(FILES, FOLDERS))
    rendered = FORMAT.render(
        src,
        "de",
        None,
        {
            "files/n#one": Target("%lld Datei"),
            "files/n#other": Target("%lld Dateien & <mehr>"),
            "folders/n#one": Target("x"),
        },
    )
    assert rendered == _doc(
        _entry("files", "%#@n@", {"one": "%lld Datei", "other": "%lld Dateien &amp; &lt;mehr&gt;"})
    )
    assert plistlib.loads(rendered)["files"]["n"]["other"] == "%lld Dateien & <mehr>"


def test_human_translations_are_kept_and_new_keys_go_before_the_end() -> None:
    old = _parse(
        _doc(_entry("files", "%#@n@", {"one": "Eine", "other": ""})),
        "de.lproj/Localizable.stringsdict",
    )
    src = _parse(_doc(FILES, FOLDERS))
    assert FORMAT.render(src, "de", old, {}) == FORMAT.serialize(old)
    messages = {m.id: m for m in FORMAT.messages(src, "de", old)}
    assert messages["files/n#one"].keep and messages["files/n#one"].existing == "Eine"
    assert not messages["files/n#other"].keep and not messages["folders/n#one"].keep
    assert not any(m.keep for m in FORMAT.messages(src, "de", old, overwrite=True))
    sent = {k: Target(f"<{k}>") for k, m in messages.items() if not m.keep}
    sent["folders"] = Target("In %@: %#@n@ (de)")
    rendered = FORMAT.render(src, "de", old, sent)
    read = plistlib.loads(rendered)
    assert read["files"]["n"]["one"] == "Eine" and read["files"]["n"]["other"] == "<files/n#other>"
    assert read["folders"]["NSStringLocalizedFormatKey"] == "In %@: %#@n@ (de)"
    assert list(read) == ["files", "folders"]


def test_target_path_is_the_lproj_of_the_language() -> None:
    assert FORMAT.target_path(Path("App/en.lproj/Localizable.stringsdict"), "pt-BR") == Path(
        "App/pt-BR.lproj/Localizable.stringsdict"
    )


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (FILES.replace("<key>other</key>", "<key>few</key>"), 10, "has no 'other'"),
        (FILES.replace("%#@n@", "%#@m@"), 8, "names %#@m@ but has no <dict> 'm'"),
        (FILES + FILES, 21, "duplicate key 'files'"),
        (FILES.replace("NSStringLocalizedFormatKey", "Other"), 6, "no NSStringLocalizedFormatKey"),
        (FILES.replace("</string>\n\t\t<key>n", "\n\t\t<key>n", 1), 20, "string line 8"),
    ],
)
def test_a_bad_catalog_names_its_line(body: str, line: int, words: str) -> None:
    with pytest.raises(CatalogError) as raised:
        _parse(_doc(body))
    message = str(raised.value)
    assert raised.value.line == line and words in message, message
    assert "\n" not in message


_TEXT = st.text(alphabet=st.sampled_from(list("ab Z%@&<>'\"\t\né€")), max_size=20)
_CATEGORIES = st.lists(st.sampled_from(["zero", "one", "two", "few", "many"]), unique=True)


@st.composite
def _catalogs(draw: st.DrawFn) -> bytes:
    entries = []
    for index in range(draw(st.integers(1, 4))):
        names = [c for c in ("zero", "one", "two", "few", "many") if c in draw(_CATEGORIES)]
        variants = {
            c: f"{c} %lld {draw(st.sampled_from(['x', '&amp;', '&apos;']))}"
            for c in [*names, "other"]
        }
        fmt = draw(st.sampled_from(["%#@n@", "%1$#@n@", "Got %@ and %#@n@"]))
        entries.append(_entry(f"k{index}", fmt, variants))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return _doc(*entries).decode().replace("\n", newline).encode()


@settings(max_examples=80, deadline=None)
@given(data=_catalogs(), lang=st.sampled_from(["ja", "de", "ru", "ar"]), choices=st.data())
def test_generated_catalogs_round_trip_and_translations_read_back(
    data: bytes, lang: str, choices: st.DataObject
) -> None:
    src = _parse(data)
    assert FORMAT.serialize(src) == data
    messages = FORMAT.messages(src, lang, None)
    keys = choices.draw(st.sets(st.sampled_from([e.key for e in src.entries])))
    translations = {
        m.id: Target(choices.draw(_TEXT) + ("" if m.plural else " %#@n@"))
        for m in messages
        if m.id.split("/")[0] in keys
    }
    rendered = FORMAT.render(src, lang, None, translations)
    back = _parse(rendered, "x.lproj/Localizable.stringsdict")
    assert FORMAT.serialize(back) == rendered
    assert [e.key for e in back.entries] == [e.key for e in src.entries if e.key in keys]
    again = {m.id: m.existing for m in FORMAT.messages(src, lang, back)}
    assert {k: again[k] for k in translations} == {k: t.text for k, t in translations.items()}
    plistlib.loads(rendered)  # and Apple's reader takes it


def test_a_format_key_that_loses_its_variable_is_not_written() -> None:
    src = _parse(_doc(FOLDERS))
    sent = {m.id: Target("x") for m in FORMAT.messages(src, "de", None)}
    assert FORMAT.render(src, "de", None, sent) == _doc()
    sent["folders"] = Target("In %@ gibt es %#@n@")
    assert plistlib.loads(FORMAT.render(src, "de", None, sent))["folders"]["n"]["one"] == "x"
