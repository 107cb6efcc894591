"""catalogframe: messages -> the cells a run translates; its output -> Targets; layout roots."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from pipeline.catalogframe import CONTEXT, NOTE, TEXT, frame_of, note_of, translations_of
from pipeline.formats.catalog import Message, Target, layout_root
from pipeline.formats.registry import catalog_for

names = st.sampled_from([*CONTEXT, "variable", "extra_note", "id", TEXT])
messages = st.lists(
    st.builds(
        Message,
        id=st.text(min_size=1),
        text=st.text(),
        context=st.dictionaries(names, st.text(), max_size=4),
        plural=st.none() | st.sampled_from(["one", "few", "other"]),
    ),
    unique_by=lambda m: m.id,
    max_size=20,
)


@given(messages)
def test_every_message_is_one_row_with_its_context_in_columns(found: list[Message]) -> None:
    frame = frame_of(found)
    assert frame["id"].to_list() == [m.id for m in found]
    assert frame[TEXT].to_list() == [m.text for m in found]
    assert set(CONTEXT) <= set(frame.columns)  # a template may name any, in every format
    assert all(dtype == pl.String for dtype in frame.dtypes)
    for row, m in zip(frame.iter_rows(named=True), found, strict=True):
        for name, value in m.context.items():
            if name not in ("id", TEXT):  # never shadows the message's own columns
                assert row[name] == value
        if m.plural is not None and "plural" not in m.context:
            assert row["plural"] == m.plural
        assert row[NOTE] == note_of(row) and "\n" not in row[NOTE]


def test_the_note_is_what_tells_a_message_apart_and_a_key_alone_is_none() -> None:
    assert note_of({"key": "menu.save", "references": "a.py:3", "flags": "c-format"}) == ""
    assert note_of({"msgctxt": "month", "comment": "Calendar\n header", "note": " "}) == (
        'msgctxt "month"; comment "Calendar header"'
    )
    plural = {"description": "Files left", "plural": "few", "count": "2, 3, 4, 22, …"}
    assert (
        note_of(plural) == 'description "Files left"; plural form "few", for counts 2, 3, 4, 22, …'
    )
    assert note_of({"plural": "other"}) == 'plural form "other"'
    row = frame_of([Message("a", "May", {"key": "a"}), Message("b#few", "%d", plural="few")])
    assert row[NOTE].to_list() == ["", 'plural form "few"']


def test_translations_are_what_succeeded_and_review_is_a_qa_flag(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text_pt-BR": ["A", None, "C"],
            "mt_error": [None, "moderation", None],
            "mt_flags": [None, None, "text_pt-BR: echo"],
        }
    ).write_parquet(out)
    assert translations_of(out, "pt-BR") == {"a": Target("A"), "c": Target("C", review=True)}


LAYOUTS = {
    "locale/messages.pot": "locale",
    "locale/en/LC_MESSAGES/django.po": "locale",
    "app/res/values/strings.xml": "app/res",
    "App/en.lproj/Localizable.strings": "App",
    "App/Base.lproj/Main.stringsdict": "App",
    "App/Localizable.xcstrings": "App",
    "lib/l10n/app_en.arb": "lib/l10n",
    "locales/en/translation.json": "locales",
    "src/messages.xlf": "src",
}


def test_the_layout_starts_where_source_and_targets_meet() -> None:
    for source, root in LAYOUTS.items():
        path = Path(source)
        fmt = catalog_for(path, "i18next" if path.suffix == ".json" else None)
        assert fmt is not None
        assert layout_root(fmt, path) == Path(root), source
