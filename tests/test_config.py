"""Languages: codes, English names and BCP 47 / POSIX locales, mapped to what the API supports."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.config import LANGUAGES, Language, resolve_language
from pipeline.errors import UsageError
from pipeline.options import build_job
from tests.conftest import mtpipe


@pytest.mark.parametrize(
    ("tag", "code", "name"),
    [
        ("de", "de", "German"),
        ("German", "de", "German"),
        ("de-DE", "de-DE", "German"),
        ("de_de", "de-DE", "German"),
        ("fr-CA", "fr-CA", "French"),
        ("pt_BR", "pt-BR", "Brazilian Portuguese"),
        ("pt-PT", "pt-PT", "Portuguese"),
        ("zh-Hant", "zh-Hant", "Traditional Chinese"),
        ("zh-HK", "zh-HK", "Traditional Chinese"),  # CLDR's likely script of Hong Kong
        ("zh-TW", "zh-TW", "Traditional Chinese"),
        ("zh-Hans", "zh-Hans", "Chinese"),
        ("zh-CN", "zh-CN", "Chinese"),
        ("ja-JP", "ja-JP", "Japanese"),
        ("ja_JP.UTF-8", "ja-JP", "Japanese"),
        ("es-MX", "es-MX", "Mexican Spanish"),
        ("iw", "he", "Hebrew"),  # the old code, canonicalised
    ],
)
def test_locales_map_to_a_supported_target(tag: str, code: str, name: str) -> None:
    assert resolve_language(tag) == Language(code, name)


@pytest.mark.parametrize(
    ("tag", "suggested"),
    [("jp", "did you mean ja?"), ("de-XX", "did you mean de"), ("gremn", "German")],
)
def test_the_rest_is_refused_with_the_nearest(tag: str, suggested: str) -> None:
    with pytest.raises(UsageError, match=f"unknown language '{tag}'; .*{suggested}"):
        resolve_language(tag)


def test_no_near_match_lists_every_supported_code() -> None:
    with pytest.raises(UsageError) as info:
        resolve_language("klingon")
    message = str(info.value)
    assert all(f" {lang.code}," in message for lang in LANGUAGES.values())


def test_source_and_target_the_same_language_is_refused(tmp_path: Path) -> None:
    values = {"input": tmp_path / "in.csv", "to": ["fr", "de-AT"], "sim": True}
    with pytest.raises(UsageError, match="--from de and --to de-AT are both German"):
        build_job(values | {"source_lang": "de"}, env={})
    assert len(build_job(values | {"source_lang": "auto"}, env={}).targets) == 2
    assert len(build_job(values | {"source_lang": "en"}, env={}).targets) == 2


def test_locale_columns_keep_the_region(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nHello world\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    run = mtpipe("translate", source, "--to", "de-DE,zh-Hant,pt_BR", "--sim", "-o", out)
    assert run.code == 0, run.stderr
    with out.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert {"text_de-DE", "text_zh-Hant", "text_pt-BR"} <= set(header)
    same = mtpipe("translate", source, "--to", "de", "--from", "German", "--sim")
    assert same.code == 2 and "both German" in same.stderr and "Traceback" not in same.stderr
