"""Xcode string catalogs: byte-exact round trips, states kept, targets added per language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.formats.catalog import CatalogError, Target
from pipeline.formats.xcstrings import XcstringsFormat

DATA = Path(__file__).parent / "data" / "l10n" / "apple"
REAL = sorted(DATA.rglob("*.xcstrings"))
FMT = XcstringsFormat()

PLURAL = """{
  "sourceLanguage" : "en",
  "strings" : {
    "%lld files" : {
      "comment" : "file count",
      "localizations" : {
        "en" : {
          "variations" : {
            "plural" : {
              "one" : { "stringUnit" : { "state" : "translated", "value" : "%lld file" } },
              "other" : { "stringUnit" : { "state" : "translated", "value" : "%lld files" } }
            }
          }
        }
      }
    },
    "Hello" : {

    }
  },
  "version" : "1.0"
}
"""


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.parent.name)
def test_real_catalogs_round_trip_and_keep_human_translations(path: Path) -> None:
    data = path.read_bytes()
    source = FMT.parse(data, path)
    assert FMT.serialize(source) == data
    assert FMT.render(source, "de", None, {}) == data
    messages = FMT.messages(source, "uk-UA", None)
    sent = {m.id: Target(f"[uk] {m.text}", review=i % 2 == 0) for i, m in enumerate(messages)}
    out = FMT.render(source, "uk-UA", None, sent)
    after = FMT.parse(out, path)
    kept = {m.id for m in FMT.messages(after, "uk-UA", None) if m.keep}
    assert kept == {m.id for i, m in enumerate(messages) if i % 2}
    before, written = json.loads(data)["strings"], json.loads(out)["strings"]
    for key, entry in written.items():
        others = {k: v for k, v in entry.get("localizations", {}).items() if k != "uk-UA"}
        assert others == before[key].get("localizations", {})


def test_plurals_take_the_targets_categories_and_review_states() -> None:
    source = FMT.parse(PLURAL.encode(), Path("Localizable.xcstrings"))
    ru = FMT.messages(source, "ru", None)
    assert [m.id for m in ru] == [
        "%lld files#one",
        "%lld files#few",
        "%lld files#many",
        "%lld files#other",
        "Hello",
    ]
    assert ru[1].text == "%lld files" and ru[1].context["comment"] == "file count"
    assert ru[1].placeholders == ("%lld",)
    out = FMT.render(source, "ru", None, {m.id: Target(m.id, review=m.plural == "few") for m in ru})
    loc = json.loads(out)["strings"]["%lld files"]["localizations"]["ru"]["variations"]["plural"]
    assert loc["few"] == {"stringUnit": {"state": "needs_review", "value": "%lld files#few"}}
    assert loc["many"]["stringUnit"]["state"] == "translated"
    assert (
        json.loads(out)["strings"]["Hello"]["localizations"]["ru"]["stringUnit"]["value"] == "Hello"
    )
    again = FMT.parse(out, Path("Localizable.xcstrings"))
    assert [m.keep for m in FMT.messages(again, "ru", None)] == [True, False, True, True, True]
    assert FMT.render(again, "ru", None, {}) == out
    fixed = FMT.render(again, "ru", None, {"%lld files#few": Target("файла")})
    few = json.loads(fixed)["strings"]["%lld files"]["localizations"]["ru"]["variations"]["plural"][
        "few"
    ]
    assert few == {"stringUnit": {"state": "translated", "value": "файла"}}


def test_a_file_that_is_not_a_catalog_is_an_error() -> None:
    with pytest.raises(CatalogError, match="sourceLanguage"):
        FMT.parse(b'{"strings": {}}', Path("x.xcstrings"))
    with pytest.raises(CatalogError) as caught:
        FMT.parse(b'{\n  "sourceLanguage": "en",\n  "strings": {,}\n}', Path("x.xcstrings"))
    assert caught.value.line == 3


def test_the_target_is_the_catalog_itself() -> None:
    assert FMT.target_path(Path("App/Localizable.xcstrings"), "de") == Path(
        "App/Localizable.xcstrings"
    )
