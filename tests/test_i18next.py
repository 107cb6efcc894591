"""i18next and FormatJS JSON: byte-exact round trips, plurals per target, human work kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.catalog import CatalogError, Target
from pipeline.formats.i18next import I18nextFormat

DATA = Path(__file__).parent / "data" / "l10n"
REAL = sorted([*(DATA / "i18next").rglob("*.json"), *(DATA / "icu").rglob("*.json")])
FMT = I18nextFormat()


def _parse(data: bytes | str, name: str = "en.json"):  # type: ignore[no-untyped-def]
    raw = data.encode() if isinstance(data, str) else data
    return FMT.parse(raw, Path(name))


def _translate_all(source, lang):  # type: ignore[no-untyped-def]
    return {m.id: Target(f"[{lang}] {m.text}") for m in FMT.messages(source, lang, None)}


@pytest.mark.parametrize("path", REAL, ids=lambda p: str(p.relative_to(DATA)))
def test_real_catalogs_round_trip_and_render(path: Path) -> None:
    data = path.read_bytes()
    source = FMT.parse(data, path)
    assert FMT.serialize(source) == data
    translations = _translate_all(source, "ru")
    rendered = FMT.render(source, "ru", None, translations)
    target = _parse(rendered, "ru.json")
    assert FMT.serialize(target) == rendered
    again = FMT.messages(source, "ru", target)
    assert again and all(m.keep and m.existing == translations[m.id].text for m in again)
    assert FMT.render(source, "ru", target, {}) == rendered


@pytest.mark.parametrize("path", REAL, ids=lambda p: str(p.relative_to(DATA)))
def test_half_translated_targets_fill_up_to_the_same_catalog(path: Path) -> None:
    source = FMT.parse(path.read_bytes(), path)
    translations = _translate_all(source, "ru")
    whole = json.loads(FMT.render(source, "ru", None, translations))
    half = _parse(FMT.render(source, "ru", None, dict(list(translations.items())[::2])), "ru.json")
    missing = {m.id: translations[m.id] for m in FMT.messages(source, "ru", half) if not m.keep}
    assert json.loads(FMT.render(source, "ru", half, missing)) == whole


_KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_TREE = st.recursive(_TEXT, lambda inner: st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(
    tree=st.dictionaries(_KEYS, _TREE, max_size=5),
    indent=st.sampled_from([None, 2, 4, "\t"]),
    ascii_only=st.booleans(),
    crlf=st.booleans(),
    final=st.sampled_from(["", "\n"]),
    bom=st.booleans(),
)
def test_generated_catalogs_round_trip_byte_for_byte(
    tree: dict[str, object],
    indent: int | str | None,
    ascii_only: bool,
    crlf: bool,
    final: str,
    bom: bool,
) -> None:
    text = json.dumps(tree, indent=indent, ensure_ascii=ascii_only) + final
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    source = _parse(data)
    assert FMT.serialize(source) == data
    translations = _translate_all(source, "de")
    rendered = FMT.render(source, "de", None, translations)
    assert rendered.startswith(b"\xef\xbb\xbf") == bom
    target = _parse(rendered, "de.json")
    assert all(m.keep for m in FMT.messages(source, "de", target))
    assert FMT.render(source, "de", target, {}) == rendered


def test_suffix_plurals_are_written_in_the_targets_categories() -> None:
    source = _parse(
        '{\n  "apple_one": "{{count}} apple",\n'
        '  "apple_other": "{{count}} apples",\n  "z": "Z"\n}\n'
    )
    ru = FMT.messages(source, "ru", None)
    plural = [m for m in ru if m.id.startswith("apple#")]
    assert [m.plural for m in plural] == ["one", "few", "many", "other"]
    assert {m.text for m in plural if m.plural != "one"} == {"{{count}} apples"}
    assert plural[1].context["count"].startswith("2, 3, 4") and plural[1].placeholders == (
        "{{count}}",
    )
    rendered = FMT.render(source, "ru", None, {m.id: Target(f"<{m.plural}>") for m in plural})
    assert rendered.decode() == (
        '{\n  "apple_one": "<one>",\n  "apple_few": "<few>",\n  "apple_many": "<many>",'
        '\n  "apple_other": "<other>"\n}\n'
    )
    ja = FMT.messages(source, "ja", None)
    assert [m.id for m in ja] == ["apple#other", "z"]


def test_keys_that_only_look_like_plurals_are_plain_strings() -> None:
    source = FMT.parse((DATA / "i18next/excalidraw/en.json").read_bytes(), Path("en.json"))
    ids = {m.id for m in FMT.messages(source, "ru", None)}
    assert "labels.arrowhead_crowfoot_many" in ids and "labels.arrowhead_crowfoot_one" in ids
    assert not any("#" in i for i in ids)


def test_icu_plurals_get_every_target_category_and_keep_exact_branches() -> None:
    source = _parse('{"files": "{n, plural, =0 {No files} one {# file} other {# files}}"}')
    ar = FMT.messages(source, "ar", None)
    assert [m.plural for m in ar] == ["=0", "zero", "one", "two", "few", "many", "other"]
    assert ar[0].text == "No files" and ar[2].text == "# file" and ar[3].text == "# files"
    rendered = FMT.render(source, "ar", None, {m.id: Target(f"ar-{m.plural}") for m in ar})
    value = json.loads(rendered)["files"]
    assert value == (
        "{n, plural, =0 {ar-=0} zero {ar-zero} one {ar-one} two {ar-two} "
        "few {ar-few} many {ar-many} other {ar-other}}"
    )


def test_human_translations_are_kept_and_only_gaps_are_sent() -> None:
    source = _parse(
        '{\n    "a": "Apple",\n    "b": {\n        "c": "Cherry"\n    },\n    "d": "Date"\n}\n'
    )
    existing_bytes = b'{\n    "a": "Apfel",\n    "d": ""\n}\n'
    existing = _parse(existing_bytes, "de.json")
    messages = {m.id: m for m in FMT.messages(source, "de", existing)}
    assert messages["a"].keep and messages["a"].existing == "Apfel"
    assert not messages["b.c"].keep and not messages["d"].keep
    assert FMT.render(source, "de", existing, {}) == existing_bytes
    out = FMT.render(source, "de", existing, {"b.c": Target("Kirsche"), "d": Target("Dattel")})
    assert (
        out == b'{\n    "a": "Apfel",\n    "b": {\n        "c": "Kirsche"\n    },\n'
        b'    "d": "Dattel"\n}\n'
    )
    assert not any(m.keep for m in FMT.messages(source, "de", existing, overwrite=True))


def test_formatjs_descriptions_travel_and_the_shape_is_kept() -> None:
    source = _parse(
        '{"hi": {"defaultMessage": "Hi {name}", "description": "greeting"}, '
        '"x": {"defaultMessage": "X"}}'
    )
    (hi, _) = FMT.messages(source, "fr", None)
    assert hi.context == {"key": "hi", "description": "greeting"} and hi.placeholders == ("{name}",)
    out = FMT.render(source, "fr", None, {"hi": Target("Salut {name}")})
    assert out == b'{"hi": {"defaultMessage": "Salut {name}", "description": "greeting"}}'


def test_escapes_follow_the_file() -> None:
    source = _parse('{"a": "caf\\u00e9", "b": "x"}')
    assert FMT.render(source, "fr", None, {"b": Target("é")}) == b'{"b": "\\u00e9"}'


@pytest.mark.parametrize(
    ("data", "line", "what"),
    [
        ('{\n  "a": "x",\n  "b": "y"\n  "c": 1\n}', 4, "expected ','"),
        ('{\n  "a": "x",\n  "a": "y"\n}', 3, "duplicate key"),
        ('{\n  "a": "x\n"}', 2, "unterminated"),
        ('{\n  "n": "{count, plural, one {# x} other {# y}"\n}', 2, "unbalanced braces"),
        ('["a"]', 1, "JSON object"),
    ],
)
def test_bad_files_name_their_line(data: str, line: int, what: str) -> None:
    with pytest.raises(CatalogError, match=what) as caught:
        _parse(data, "bad.json")
    assert caught.value.line == line and str(caught.value).startswith(f"bad.json:{line}: ")


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("locales/en/translation.json", "locales/de/translation.json"),
        ("i18n/en.json", "i18n/de.json"),
        ("web/en-US.json", "web/de.json"),
        ("src/messages.json", "src/de/messages.json"),
    ],
)
def test_target_paths_follow_the_source_layout(source: str, target: str) -> None:
    assert FMT.target_path(Path(source), "de") == Path(target)
