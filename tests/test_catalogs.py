"""End to end: ``mtpipe translate CATALOG --to ... -o DIR`` on the real catalogs of
tests/data/l10n, through the command-line entry against the simulator on loopback."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from pipeline.cli import main
from pipeline.formats.catalog import CatalogFormat, Message, plural_categories
from pipeline.formats.registry import catalog_for
from tests.conftest import DATA, Sim

L10N = DATA / "l10n"
ECHO = " [[sim:echo]]"  # the simulator answers the source again: QA flags it (echo)
LANGS = ("de", "ja", "ru", "ar")


@dataclass(frozen=True)
class Case:
    source: str  # under tests/data/l10n; its folder is copied (the layout starts there)
    target: str  # where the target for {lang} goes under -o, relative
    flagged: bytes  # a text of the source that gets MARK appended
    review: bytes | None  # how the format writes a QA-flagged translation, if it can
    mark: str = ECHO
    human: tuple[str, ...] = ()  # languages the source already holds translations of


CASES = {
    "po": Case("po/wtforms.pot", "{lang}.po", b"msgid \"Invalid field name '%s'.", b"#, fuzzy"),
    "xliff12": Case(
        "xliff/angular-i18n-example-fr.xlf",
        "angular-i18n-example-fr.{lang}.xlf",
        b"<source>I don&apos;t output any element",
        b'state="needs-review-translation"',
    ),
    "xliff20": Case(
        "xliff/locize-example-note.xliff",
        "locize-example-note.{lang}.xliff",
        b"<source>Hello",
        b'subState="mtpipe:needs-review"',
    ),
    "android": Case(
        "android/aosp-calendar/values/strings.xml",
        "values-{lang}/strings.xml",
        b'<string name="what_label">What',
        None,
    ),
    "strings": Case(
        "apple/duckduckgo-ios-widgets/en.lproj/Localizable.strings",
        "{lang}.lproj/Localizable.strings",
        b'= "Until %@',
        None,
        " [[sim:breakph-always]]",  # an echo would be an untranslated entry for Apple
    ),
    "stringsdict": Case(
        "apple/duckduckgo-ios-syncui/en.lproj/Localizable.stringsdict",
        "{lang}.lproj/Localizable.stringsdict",
        b"<string>Your bookmark for %2$@ can&apos;t sync because one of its fields exceeds "
        b"the character limit.",
        None,
    ),
    "xcstrings": Case(
        "apple/zodiackit/Localizable.xcstrings",
        "Localizable.xcstrings",
        b'"value": "Duplicate zodiac signs found: %@. Each sign should only appear once.',
        b'"needs_review"',
        human=("de", "ja", "ru"),
    ),
    "arb": Case(
        "arb/wonderous/app_en.arb",
        "app_{lang}.arb",
        b'"appBarTitleConstruction": "Construction',
        None,
    ),
    "i18next": Case("i18next/memos/en.json", "{lang}.json", b'"Blogs', None),
}


def translate(sim: Sim, source: Path, out: Path, *more: str) -> int:
    args = ["translate", str(source), "--to", ",".join(LANGS), "-o", str(out)]
    return main([*args, "--base-url", sim.base_url, "--no-progress", "--no-cache", *more])


def copy_source(case: Case, tmp_path: Path) -> Path:
    """The case's source in tmp_path/src/ (its folder kept: values/, en.lproj/), marked."""
    source = L10N / case.source
    keep = source.parent if source.parent.name.endswith(("values", ".lproj")) else None
    copied = tmp_path / "src" / (keep.name if keep else "") / source.name
    copied.parent.mkdir(parents=True)
    data = source.read_bytes()
    assert data.count(case.flagged) == 1
    copied.write_bytes(data.replace(case.flagged, case.flagged + case.mark.encode()))
    return copied


def messages(fmt: CatalogFormat, source: Path, target: Path, lang: str) -> list[Message]:
    src = fmt.parse(source.read_bytes(), source)
    return fmt.messages(src, lang, fmt.parse(target.read_bytes(), target))


def check_target(fmt: CatalogFormat, case: Case, source: Path, target: Path, lang: str) -> None:
    """Every message filled (kept as a translation now), plural categories as the target
    counts them, placeholders intact; the flagged one in the review state."""
    found = messages(fmt, source, target, lang)
    flagged = [m for m in found if case.mark.strip() in m.text]
    assert len(flagged) == 1 and flagged[0].existing, flagged
    if lang not in case.human:
        assert flagged[0].keep is (case.review is None)  # a review state is sent again
    rest = [m for m in found if m not in flagged]
    assert [m.id for m in rest if not m.keep and m.text.strip()] == []  # blank: never sent
    for m in rest:
        assert all(p in (m.existing or "") for p in m.placeholders), m
    forms: dict[str, set[str]] = defaultdict(set)
    for m in rest:
        if m.plural is not None and not m.plural.startswith("="):
            forms[m.id.rsplit("#", 1)[0]].add(m.plural)
    want = set(plural_categories(lang))
    for entry, cats in forms.items():
        if fmt.name == "po":  # gettext's count: de 2, ru 3, ar 6
            assert len(cats) == {"de": 2, "ja": 1, "ru": 3, "ar": 6}[lang], entry
        else:  # CLDR's (Apple's zero: 0 in every language, when the source has one)
            assert cats - {"zero"} == want - {"zero"}, entry
    if case.review is not None and lang not in case.human:
        assert case.review in target.read_bytes()


def humanize(fmt: CatalogFormat, source: Path, target: Path) -> bytes:
    """Replace (the start of) one translation in ``target`` by hand, as a translator would;
    return what it replaced."""
    data = target.read_bytes()
    for m in sorted(messages(fmt, source, target, "de"), key=lambda m: m.plural is not None):
        text = re.split(rb"[&<>\"'\\%]", (m.existing or "").encode())[0]  # no escapes in it
        if m.keep and len(text) > 4 and text in data:
            target.write_bytes(data.replace(text, b"Von Hand", 1))
            return text
    raise AssertionError(f"no translation to edit in {target}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_translate_a_catalog_into_its_layout(
    name: str, sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    case = CASES[name]
    source, out = copy_source(case, tmp_path), tmp_path / "out"
    fmt = catalog_for(source)
    assert fmt is not None
    sim.reset()
    assert translate(sim, source, out) == 0
    assert sim.stats()["requests"] > 0
    for lang in LANGS:
        target = out / case.target.format(lang=lang)
        assert target.exists(), sorted(p.name for p in out.rglob("*"))
        check_target(fmt, case, source, target, lang)
    if name == "po":
        assert b"nplurals=3;" in (out / "ru.po").read_bytes()
        assert b"nplurals=6;" in (out / "ar.po").read_bytes()

    # a translator edits one entry; the same command again keeps it and sends nothing
    de = out / case.target.format(lang="de")
    was = humanize(fmt, source, de)
    sim.reset()
    assert translate(sim, source, out) == 0
    assert sim.stats()["requests"] == 0
    assert b"Von Hand" in de.read_bytes()
    # --overwrite replaces it (from the checkpoint: what it was before)
    assert translate(sim, source, out, "--overwrite") == 0
    assert b"Von Hand" not in de.read_bytes()
    assert (was in de.read_bytes()) is ("de" not in case.human)
    assert (out / ".mtpipe" / f"{source.name}.checkpoint.sqlite").exists()


BAD = {
    "duplicate.po": (b'msgid ""\nmsgstr ""\n\nmsgid "a"\nmsgstr ""\n\nmsgid "a"\nmsgstr ""\n', 7),
    "plurals.po": (
        b'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        b'msgid "a"\nmsgid_plural "as"\nmsgstr[0] ""\nmsgstr[1] ""\nmsgstr[2] ""\n',
        7,  # the third msgstr
    ),
    "values/strings.xml": (b'<resources>\n  <string name="a">A</string>\n  <string name="b">', 3),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_catalog_is_one_line_with_its_line_and_leaves_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, line = BAD[name]
    source = tmp_path / "src" / name
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    out = tmp_path / "out"
    assert main(["translate", str(source), "--to", "de,ru", "--sim", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{source}:" in err, err
    assert f":{line}:" in err, err
    assert not out.exists()  # no checkpoint, no report, no target


def test_failed_entries_stay_untranslated_and_are_listed(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "locale" / "messages.pot"
    source.parent.mkdir()
    data = (L10N / "po/wtforms.pot").read_bytes()
    source.write_bytes(data.replace(b'msgid "Invalid email', b'msgid "[[sim:moderation]] Bad'))
    failed = tmp_path / "failed.csv"
    args = ["translate", str(source), "--to", "de", "--base-url", sim.base_url, "--no-progress"]
    code = main([*args, "--failed-out", str(failed), "--pack", "off"])
    assert code == 3
    rows = pl.read_csv(failed)
    assert rows["id"].to_list() == ["[[sim:moderation]] Bad address."]
    assert rows["reason"].to_list() == ["moderation"]
    assert rows["file"].to_list() == [str(source.parent / "de.po")]
    target = (source.parent / "de.po").read_text(encoding="utf-8")
    entry = target.split('msgid "[[sim:moderation]] Bad address."\n')[1].split("\n")[0]
    assert entry == 'msgstr ""'  # untranslated, the rest translated


def test_estimate_and_job_file(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "locale" / "messages.pot"
    source.parent.mkdir()
    shutil.copy(L10N / "po/wtforms.pot", source)
    assert main(["estimate", str(source), "--to", "de,ru", "--pack", "off", "--no-cache"]) == 0
    printed = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    fmt = catalog_for(source)
    assert fmt is not None
    parsed = fmt.parse(source.read_bytes(), source)
    assert printed["messages"] == str(sum(len(fmt.messages(parsed, x, None)) for x in ("de", "ru")))
    assert printed["requests"] == printed["unique_cells"]
    job = tmp_path / "job.toml"
    job.write_text(
        'input = "locale/messages.pot"\nto = ["de", "ru"]\noutput = "out"\ncache = false\n'
        f'base_url = "{sim.base_url}"\npack = "off"\nprogress = false\n'
    )
    sim.reset()
    assert main(["run", str(job)]) == 0
    assert str(sim.stats()["requests"]) == printed["requests"]
    assert (tmp_path / "out" / "de.po").exists() and (tmp_path / "out" / "ru.po").exists()
    assert main(["estimate", str(job)]) == 0
    printed = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert printed["to_translate"] == "0" and printed["kept"] == printed["messages"]


PO_CONTEXTS = (
    'msgid ""\nmsgstr ""\n\nmsgctxt "month"\nmsgid "May"\nmsgstr ""\n\n'
    'msgctxt "verb"\nmsgid "May"\nmsgstr ""\n\n'
    'msgid "%d file"\nmsgid_plural "%d files"\nmsgstr[0] ""\nmsgstr[1] ""\n'
)


def test_without_a_template_contexts_are_sent_and_keyed(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "messages.pot"
    source.write_text(PO_CONTEXTS, encoding="utf-8")
    out = tmp_path / "out"
    base = ["translate", str(source), "--to", "ru", "-o", str(out), "--base-url", sim.base_url]
    base += ["--no-progress", "--no-cache"]
    sim.reset()
    assert main(base) == 0  # packing on (auto): a text with a context still goes alone
    stats = sim.stats()
    # "May" under two msgctxt: two units; ru one, few and many: three, the few and many
    # (both msgid_plural) asked separately, each with its own counts
    assert stats["requests"] == 5
    assert stats["texts"] == {"May": 2, "%d file": 1, "%d files": 2}
    assert stats["contexts"] == {
        'msgctxt "month"': 1,
        'msgctxt "verb"': 1,
        'plural form "one", for counts 1, 21, 31, 41, …': 1,
        'plural form "few", for counts 2, 3, 4, 22, …': 1,
        'plural form "many", for counts 0, 5, 6, 7, …': 1,
    }
    target = (out / "ru.po").read_text(encoding="utf-8")
    assert "Context" not in target and 'msgctxt "month"\nmsgid' in target
    assert "fuzzy" not in target  # QA passed: no echo, the note is not in a translation
    checkpoint = out / ".mtpipe" / "messages.pot.checkpoint.sqlite"
    assert checkpoint.exists()
    for again in ([], ["--overwrite"]):  # kept; overwritten: the same keys, all stored
        sim.reset()
        assert main([*base, *again]) == 0
        assert sim.stats()["requests"] == 0
    assert (out / "ru.po").read_text(encoding="utf-8") == target


def test_without_a_context_identical_texts_are_asked_once(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "en.json"  # keys alone are not a context
    source.write_text('{"save": "Save", "menu": {"save": "Save"}, "no": "Cancel"}')
    out = tmp_path / "out"
    args = ["translate", str(source), "--to", "de", "-o", str(out), "--base-url", sim.base_url]
    sim.reset()
    assert main([*args, "--no-progress", "--no-cache", "--pack", "off"]) == 0
    stats = sim.stats()
    assert stats["requests"] == 2 and stats["texts"] == {"Save": 1, "Cancel": 1}
    assert stats["contexts"] == {}
    written = json.loads(next(out.rglob("de.json")).read_text(encoding="utf-8"))
    assert written["save"] == written["menu"]["save"] != "Save"


def test_contexts_reach_the_template_and_tell_identical_texts_apart(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "messages.pot"
    source.write_text(PO_CONTEXTS, encoding="utf-8")
    base = ["translate", str(source), "--base-url", sim.base_url, "--no-progress", "--no-cache"]
    template = tmp_path / "t.txt"
    template.write_text(
        "Translate into {target_lang} ({msgctxt}; plural {plural} for counts {count}):\n{text}"
    )
    sim.reset()
    out = tmp_path / "templated"
    args = [*base, "--to", "ru", "-o", str(out), "--template", str(template), "--pack", "off"]
    assert main(args) == 0
    stats = sim.stats()
    texts = stats["texts"]
    assert stats["requests"] == 5  # May twice, each plural form of ru once
    assert stats["contexts"] == {}  # the template places the context, not the built-in note
    assert any("(month; plural  for counts )" in t for t in texts), texts
    assert any("plural few for counts 2, 3, 4" in t for t in texts), texts
    assert (out / "ru.po").read_text(encoding="utf-8").count('msgstr[2] "') == 1


def test_a_template_naming_an_unknown_context_is_refused_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "messages.pot"
    shutil.copy(L10N / "po/wtforms.pot", source)
    template = tmp_path / "t.txt"
    template.write_text("{text} ({nonsense})")
    out = tmp_path / "out"
    args = ["translate", str(source), "--to", "de", "--sim", "-o", str(out)]
    assert main([*args, "--template", str(template)]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert not (out / ".mtpipe").exists() and not (out / "de.po").exists()


README = Path(__file__).resolve().parent.parent / "README.md"
# a real catalog for each example of the README, by the example's file name or extension
EXAMPLE_FILES = {
    "django.po": "po/django-admin-djangojs-en.po",
    "validators.en.xlf": "xliff/symfony-security-cy.xlf",
    ".pot": "po/wtforms.pot",
    ".xlf": "xliff/angular-i18n-example-fr.xlf",
    ".xml": "android/aosp-calendar/values/strings.xml",
    ".strings": "apple/duckduckgo-ios-widgets/en.lproj/Localizable.strings",
    ".stringsdict": "apple/duckduckgo-ios/en.lproj/Localizable.stringsdict",
    ".xcstrings": "apple/zodiackit/Localizable.xcstrings",
    ".arb": "arb/wonderous/app_en.arb",
    ".json": "i18next/memos/en.json",
}


def readme_examples() -> list[tuple[list[str], list[str]]]:
    """``mtpipe translate ...`` lines of the README's catalog section that a ``# ->`` line
    follows: (the arguments, the files it says are written)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Localization catalogs") : text.index("## Architecture")]
    lines = section.splitlines()
    found = []
    for line, after in itertools.pairwise(lines):
        if line.startswith("mtpipe translate ") and after.startswith("# -> "):
            written = re.sub(r"\([^)]*\)", "", after.removeprefix("# -> ")).split()
            found.append((shlex.split(line.split("  #")[0])[1:], written))
    return found


@pytest.mark.parametrize(("args", "written"), readme_examples(), ids=lambda v: str(v)[:60])
def test_the_readme_examples_write_what_they_say(
    args: list[str], written: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(args[1])
    real = EXAMPLE_FILES.get(source.name) or EXAMPLE_FILES[source.suffix]
    monkeypatch.chdir(tmp_path)
    source.parent.mkdir(parents=True)
    shutil.copy(L10N / real, source)
    assert main([*args, "--sim", "--no-progress", "--no-cache"]) == 0
    for path in written:
        assert Path(path).exists(), (path, sorted(map(str, Path().rglob("*"))))


def test_the_readme_has_an_example_per_format() -> None:
    suffixes = {Path(args[1]).suffix for args, _ in readme_examples()}
    assert suffixes >= {".pot", ".xlf", ".xml", ".strings", ".stringsdict", ".xcstrings"}
    assert suffixes >= {".arb", ".json"}


def test_the_budget_is_shared_by_the_targets_and_status_reads_a_catalog_job(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "locale" / "messages.pot"
    source.parent.mkdir()
    shutil.copy(L10N / "po/wtforms.pot", source)
    job = tmp_path / "job.toml"
    job.write_text(
        'input = "locale/messages.pot"\nto = ["de", "ja", "ru"]\ncache = false\n'
        f'base_url = "{sim.base_url}"\npack = "off"\nprogress = false\nmax_cost = 0.0001\n'
    )
    sim.reset()
    assert main(["run", str(job)]) == 3  # the budget ran out before the last language
    report = json.loads((tmp_path / "locale/.mtpipe/messages.pot.report.json").read_text())
    assert report["stopped"] == "budget" and report["not_sent"] > 0
    assert report["cost_usd"] <= 0.0001 + 0.00005  # in-flight requests finish
    assert report["requests"] == sim.stats()["requests"] > 0
    assert (tmp_path / "locale" / "ru.po").exists()  # written, its unsent entries empty
    capsys.readouterr()
    assert main(["status", str(job)]) == 0
    out = capsys.readouterr().out
    assert "messages.pot.checkpoint.sqlite" in out and "done" in out


def test_output_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "messages.pot"
    shutil.copy(L10N / "po/wtforms.pot", source)
    assert main(["translate", str(source), "--to", "de", "--sim", "-o", str(tmp_path / "de.po")])
    assert "-o is a folder for catalogs" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["messages.pot"]


def test_a_changed_msgid_is_sent_again_and_its_old_entry_made_obsolete(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    source = tmp_path / "messages.pot"
    data = (L10N / "po/wtforms.pot").read_bytes()
    source.write_bytes(data)
    base = ["translate", str(source), "--to", "de", "--base-url", sim.base_url, "--no-progress"]
    assert main([*base, "--no-cache"]) == 0
    target = tmp_path / "de.po"
    before = target.read_text(encoding="utf-8")
    old = before.split('msgid "Not a valid float value."\nmsgstr "')[1].split('"')[0]
    source.write_bytes(data.replace(b'"Not a valid float value."', b'"Not a valid decimal."'))
    sim.reset()
    assert main([*base, "--no-cache"]) == 0
    assert sim.stats()["requests"] == 1  # only the changed text
    after = target.read_text(encoding="utf-8")
    assert f'#~ msgid "Not a valid float value."\n#~ msgstr "{old}"\n' in after
    assert 'msgid "Not a valid decimal."\nmsgstr "' in after
    assert 'msgid "Not a valid decimal."\nmsgstr ""' not in after


def test_a_catalog_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(L10N / "po/wtforms.pot", "messages.pot")
    assert main(["translate", "messages.pot", "--to", "de", "--sim", "--no-progress"]) == 0
    assert "kept" not in capsys.readouterr().err
    assert main(["translate", "messages.pot", "--to", "de", "--sim", "--no-progress"]) == 0
    err = capsys.readouterr().err  # wtforms.pot: 40 messages for de
    assert "mtpipe: 40 messages the targets already translate were kept" in err
    assert main(["translate", "messages.pot", "--to", "fr", "--sim", "-o", "."]) == 0
    assert Path("de.po").exists() and Path("fr.po").exists()
    assert Path(".mtpipe/messages.pot.checkpoint.sqlite").exists()
