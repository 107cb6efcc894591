"""Apple .strings: byte-exact round trips in UTF-8 and UTF-16, comments, human work kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.apple import StringsFormat, escape
from pipeline.formats.catalog import CatalogError, Target

DATA = Path(__file__).parent / "data" / "l10n" / "apple"
REAL = sorted(DATA.rglob("*.strings"))
FMT = StringsFormat()


def _parse(text: str, encoding: str = "utf-8", bom: bytes = b""):  # type: ignore[no-untyped-def]
    return FMT.parse(bom + text.encode(encoding), Path("en.lproj/Localizable.strings"))


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.parent.parent.name)
def test_real_tables_round_trip_and_render_in_their_encoding(path: Path) -> None:
    data = path.read_bytes()
    source = FMT.parse(data, path)
    assert FMT.serialize(source) == data
    translations = {m.id: Target(f'«{m.text}» "q"\n') for m in FMT.messages(source, "de", None)}
    rendered = FMT.render(source, "de", None, translations)
    assert rendered[:2] == data[:2]  # the BOM, or the first characters, as the source has them
    target = FMT.parse(rendered, path)
    assert {e.key: e.value for e in target.entries} == {k: t.text for k, t in translations.items()}
    assert all(m.keep for m in FMT.messages(source, "de", target))
    assert FMT.render(source, "de", target, {}) == rendered


_TEXT = st.text(st.characters(codec="utf-16", exclude_categories=("Cs",)), max_size=15)
_COMMENT = st.none() | st.from_regex(r"/\* [^*]{0,12} \*/|// [^\n\r]{0,12}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.dictionaries(_TEXT, st.tuples(_TEXT, _COMMENT), max_size=8),
    encoding=st.sampled_from(
        [
            ("utf-8", b""),
            ("utf-8", b"\xef\xbb\xbf"),
            ("utf-16-le", b"\xff\xfe"),
            ("utf-16-be", b"\xfe\xff"),
        ]
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
    spacing=st.sampled_from([" = ", "=", "  =\t"]),
)
def test_generated_tables_round_trip_byte_for_byte(
    entries: dict[str, tuple[str, str | None]],
    encoding: tuple[str, bytes],
    newline: str,
    spacing: str,
) -> None:
    lines = []
    for key, (value, comment) in entries.items():
        lines += [comment] if comment else []
        lines.append(f'"{escape(key)}"{spacing}"{escape(value)}";')
    data = encoding[1] + newline.join(lines).encode(encoding[0])
    source = FMT.parse(data, Path("x.strings"))
    assert FMT.serialize(source) == data
    assert {e.key: e.value for e in source.entries} == {k: v for k, (v, _) in entries.items()}
    translations = {key: Target(f"<{value}>") for key, (value, _) in entries.items()}
    rendered = FMT.render(source, "fr", None, translations)
    assert rendered.startswith(encoding[1])
    assert {e.key: e.value for e in FMT.parse(rendered, Path("x.strings")).entries} == {
        k: f"<{v}>" for k, (v, _) in entries.items()
    }


def test_comments_are_context_and_specifiers_are_placeholders() -> None:
    source = _parse(
        '/* No comment provided by engineer. */\n"a" = "A %@";\n\n// shown on the badge\n'
        'count = "%1$@ has %2$lld items, 100%%";\n'
    )
    a, count = FMT.messages(source, "de", None)
    assert a.context == {"key": "a"} and a.placeholders == ("%@",)
    assert count.context == {"key": "count", "comment": "shown on the badge"}
    assert count.placeholders == ("%1$@", "%2$lld")


def test_human_translations_are_kept_and_gaps_appended_with_their_comment() -> None:
    source = _parse(
        '/* fruit */\n"apple" = "Apple";\n/* vegetable */\n"bean" = "Bean";\n"ok" = "OK";\n'
    )
    existing_bytes = '"apple" = "Apfel";\r\n"ok" = "OK";\r\n'.encode("utf-16-le")
    existing = FMT.parse(b"\xff\xfe" + existing_bytes, Path("de.lproj/Localizable.strings"))
    messages = {m.id: m for m in FMT.messages(source, "de", existing)}
    assert messages["apple"].keep and messages["apple"].existing == "Apfel"
    assert not messages["bean"].keep
    assert not messages["ok"].keep  # still the source text: sent again
    assert FMT.render(source, "de", existing, {}) == b"\xff\xfe" + existing_bytes
    out = FMT.render(source, "de", existing, {"bean": Target("Bohne")})
    assert (
        out.decode("utf-16")
        == '"apple" = "Apfel";\r\n"ok" = "OK";\r\n\r\n/* vegetable */\r\n"bean" = "Bohne";\r\n'
    )
    assert not any(m.keep for m in FMT.messages(source, "de", existing, overwrite=True))


def test_untranslated_entries_keep_the_source_text_in_a_new_table() -> None:
    source = _parse('"a" = "A";\n"b" = "B";\n')
    assert FMT.render(source, "de", None, {"b": Target('"B"')}) == b'"a" = "A";\n"b" = "\\"B\\"";\n'


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ('"a" = "A";\n\n"b" = "B"\n"c" = "C";\n', 3, "missing ';'"),
        ('"a" = "A";\n/* open\n', 2, "unclosed"),
        ('"a" = "A";\n"a" = "B";\n', 2, "duplicate key"),
        ('"a" "A";\n', 1, 'expected "="'),
        ('"a" = "A;\n', 1, "unterminated"),
    ],
)
def test_bad_tables_name_their_line(text: str, line: int, what: str) -> None:
    with pytest.raises(CatalogError, match=what) as caught:
        _parse(text)
    assert caught.value.line == line


def test_target_paths_go_beside_the_source_lproj() -> None:
    assert FMT.target_path(Path("App/en.lproj/Main.strings"), "pt-BR") == Path(
        "App/pt-BR.lproj/Main.strings"
    )
    assert FMT.target_path(Path("App/Base.lproj/Main.strings"), "de") == Path(
        "App/de.lproj/Main.strings"
    )
    assert FMT.target_path(Path("Main.strings"), "de") == Path("de.lproj/Main.strings")
