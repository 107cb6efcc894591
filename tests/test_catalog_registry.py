"""The registry knows every catalog format: by extension, by content for .xml/.json, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.formats.registry import CATALOGS, catalog_for, format_for, source_for

DATA = Path(__file__).parent / "data" / "l10n"

EXPECTED = {
    "po/wtforms.pot": "po",
    "po/wtforms-ar.po": "po",
    "xliff/angular-i18n-example-fr.xlf": "xliff",
    "xliff/locize-example-note.xliff": "xliff",
    "xliff/ngx-i18nsupport-ngExtractedMaster1-de.xlf2": "xliff",
    "android/aosp-calendar/values/strings.xml": "android",
    "apple/duckduckgo-ios-widgets/en.lproj/Localizable.strings": "strings",
    "apple/duckduckgo-ios/en.lproj/Localizable.stringsdict": "stringsdict",
    "apple/zodiackit/Localizable.xcstrings": "xcstrings",
    "arb/aves/app_en.arb": "arb",
    "i18next/excalidraw/en.json": "i18next",
    "icu/formatjs-editor/en.json": "i18next",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(EXPECTED.items()))
def test_each_real_catalog_is_found_by_extension_and_content(name: str, fmt: str) -> None:
    found = catalog_for(DATA / name)
    assert found is not None and found.name == fmt
    assert format_for(DATA / name).kind == "catalog"


def test_every_catalog_format_is_registered_and_parses_its_own_files() -> None:
    assert set(CATALOGS) == set(EXPECTED.values()) | {"android"}
    for name, fmt in EXPECTED.items():
        if name.endswith(".xlf2"):
            continue  # a unit without an id: the bad-catalog test of test_xliff.py
        catalog = catalog_for(Path("x"), fmt)
        assert catalog is not None
        data = (DATA / name).read_bytes()
        assert catalog.serialize(catalog.parse(data, DATA / name)) == data


def test_xml_is_android_by_root_or_by_values_folder(tmp_path: Path) -> None:
    res = tmp_path / "res" / "values-de"
    res.mkdir(parents=True)
    (res / "strings.xml").write_text("<?xml version='1.0'?>\n<!-- no root yet -->\n")
    assert format_for(res / "strings.xml").name == "android"
    (tmp_path / "other.xml").write_text('<?xml version="1.0"?>\n<resources>\n</resources>\n')
    assert format_for(tmp_path / "other.xml").name == "android"
    (tmp_path / "pom.xml").write_text("<project></project>\n")
    with pytest.raises(UsageError, match=r"pom\.xml: .*--format android"):
        format_for(tmp_path / "pom.xml")


def test_json_is_i18next_when_one_object_and_json_lines_otherwise(tmp_path: Path) -> None:
    catalog = tmp_path / "en.json"
    catalog.write_text('{\n  "hello": "Hello",\n  "menu": {"open": "Open"}\n}\n')
    lines = tmp_path / "records.json"
    lines.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n')
    assert format_for(catalog).name == "i18next"
    assert format_for(lines).name == "jsonl"
    assert format_for(catalog, "jsonl").name == "jsonl"  # an explicit name wins
    assert format_for(lines, "i18next").name == "i18next"
    with pytest.raises(UsageError, match="--format i18next or --format jsonl"):
        format_for(tmp_path / "missing.json")


def test_a_catalog_is_not_read_as_a_table() -> None:
    with pytest.raises(UsageError, match=r"a po catalog is not a table; .* -o DIR"):
        source_for(DATA / "po/wtforms.pot")
    assert catalog_for(Path("data.csv")) is None
