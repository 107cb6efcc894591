"""Flutter ARB: byte-exact round trips, @@locale and metadata kept, ICU plurals per target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.arb import ArbFormat
from pipeline.formats.catalog import CatalogError, Target

DATA = Path(__file__).parent / "data" / "l10n" / "arb"
REAL = sorted(DATA.rglob("*.arb"))
FMT = ArbFormat()


def _parse(data: bytes | str, name: str = "app_en.arb"):  # type: ignore[no-untyped-def]
    return FMT.parse(data.encode() if isinstance(data, str) else data, Path(name))


def _translate_all(source, lang):  # type: ignore[no-untyped-def]
    return {m.id: Target(f"[{lang}] {m.text}") for m in FMT.messages(source, lang, None)}


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.parent.name)
def test_real_arb_files_round_trip_and_render(path: Path) -> None:
    data = path.read_bytes()
    source = FMT.parse(data, path)
    assert FMT.serialize(source) == data
    translations = _translate_all(source, "ru")
    rendered = FMT.render(source, "ru", None, translations)
    target = _parse(rendered, "app_ru.arb")
    assert json.loads(rendered)["@@locale"] == "ru"
    assert rendered.endswith(b"\n") == data.endswith(b"\n")
    source_keys = [k for k in json.loads(data) if k != "@@locale"]
    assert [k for k in json.loads(rendered) if k != "@@locale"] == source_keys
    assert all(m.keep for m in FMT.messages(source, "ru", target))
    assert FMT.render(source, "ru", target, {}) == rendered
    half = _parse(FMT.render(source, "ru", None, dict(list(translations.items())[::3])))
    rest = {m.id: translations[m.id] for m in FMT.messages(source, "ru", half) if not m.keep}
    assert json.loads(FMT.render(source, "ru", half, rest)) == json.loads(rendered)


_KEY = st.from_regex(r"[a-z][A-Za-z0-9]{0,8}", fullmatch=True)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="{}"))


@settings(max_examples=100, deadline=None)
@given(
    messages=st.dictionaries(_KEY, st.tuples(_TEXT, st.none() | _TEXT), max_size=8),
    locale=st.booleans(),
    indent=st.sampled_from([2, 4, "\t"]),
    final=st.sampled_from(["", "\n"]),
)
def test_generated_arb_files_round_trip_byte_for_byte(
    messages: dict[str, tuple[str, str | None]], locale: bool, indent: int | str, final: str
) -> None:
    body: dict[str, object] = {"@@locale": "en"} if locale else {}
    for key, (text, description) in messages.items():
        body[key] = text
        if description is not None:
            body[f"@{key}"] = {"description": description}
    data = (json.dumps(body, indent=indent, ensure_ascii=False) + final).encode()
    source = _parse(data)
    assert FMT.serialize(source) == data
    rendered = FMT.render(source, "pt-BR", None, _translate_all(source, "pt-BR"))
    written = json.loads(rendered)
    assert written["@@locale"] == "pt_BR"
    for key, (text, description) in messages.items():
        if text.strip():
            assert written[key] == f"[pt-BR] {text}"
            assert (f"@{key}" in written) == (description is not None)
    assert FMT.render(source, "pt-BR", _parse(rendered), {}) == rendered


def test_descriptions_and_placeholders_are_context() -> None:
    source = _parse(
        '{\n  "hello": "Hello {name}",\n  "@hello": {\n    "description": "Greets the user",\n'
        '    "placeholders": {"name": {"type": "String"}}\n  }\n}\n'
    )
    (message,) = FMT.messages(source, "de", None)
    assert message.context == {
        "key": "hello",
        "description": "Greets the user",
        "placeholders": "name",
    }
    assert message.placeholders == ("{name}",)


def test_icu_plurals_are_written_with_the_targets_categories() -> None:
    source = _parse('{"n": "{count, plural, =1{One file} other{{count} files}}"}')
    ru = FMT.messages(source, "ru", None)
    assert [m.plural for m in ru] == ["=1", "one", "few", "many", "other"]
    assert ru[1].text == "One file" and ru[2].text == "{count} files"
    out = json.loads(FMT.render(source, "ru", None, {m.id: Target(m.plural or "") for m in ru}))
    assert out == {
        "@@locale": "ru",
        "n": "{count, plural, =1 {=1} one {one} few {few} many {many} other {other}}",
    }


def test_human_translations_are_kept_and_metadata_follows_new_keys() -> None:
    source = _parse(
        '{\n\t"@@locale": "en",\n\t"a": "Apple",\n\t"b": "Bean",\n'
        '\t"@b": {"description": "a vegetable"}\n}'
    )
    existing_bytes = b'{\n\t"@@locale": "de",\n\t"a": "Apfel"\n}'
    existing = _parse(existing_bytes, "app_de.arb")
    messages = {m.id: m for m in FMT.messages(source, "de", existing)}
    assert messages["a"].keep and not messages["b"].keep
    assert FMT.render(source, "de", existing, {}) == existing_bytes
    assert FMT.render(source, "de", existing, {"b": Target("Bohne")}) == (
        b'{\n\t"@@locale": "de",\n\t"a": "Apfel",\n\t"b": "Bohne",\n'
        b'\t"@b": {"description": "a vegetable"}\n}'
    )


@pytest.mark.parametrize(
    ("data", "line", "what"),
    [
        ('{\n  "a": "x",\n  "b": "Hi {name}",\n  "@b": {"placeholders": {}}\n}', 3, "name"),
        ('{\n  "n": "{count, plural, one {x} other {y}"\n}', 2, "unbalanced braces"),
        ('{\n  "a": "x",\n}', 3, "expected a quoted key"),
    ],
)
def test_bad_arb_files_name_their_line(data: str, line: int, what: str) -> None:
    with pytest.raises(CatalogError, match=what) as caught:
        _parse(data, "app_en.arb")
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("lib/l10n/app_en.arb", "lib/l10n/app_pt_BR.arb"),
        ("l10n/strings.arb", "l10n/strings_pt_BR.arb"),
    ],
)
def test_target_paths(source: str, target: str) -> None:
    assert FMT.target_path(Path(source), "pt-BR") == Path(target)
