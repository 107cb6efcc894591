"""The catalog contract: plural categories per target language come from CLDR (babel)."""

from __future__ import annotations

import pytest

from pipeline.formats.catalog import CatalogError, plural_categories


@pytest.mark.parametrize(
    ("lang", "categories"),
    [
        ("ja", ("other",)),
        ("de", ("one", "other")),
        ("ru", ("one", "few", "many", "other")),
        ("ar", ("zero", "one", "two", "few", "many", "other")),
        ("zh-Hant", ("other",)),
    ],
)
def test_plural_categories_follow_cldr(lang: str, categories: tuple[str, ...]) -> None:
    assert plural_categories(lang) == categories


def test_a_catalog_error_names_the_file_and_line() -> None:
    error = CatalogError("de.po", 12, "unterminated string; close the quote")
    assert str(error) == "de.po:12: unterminated string; close the quote"
    assert error.exit_code == 2
