"""The library translates a catalog as ``mtpipe translate`` does: ``pipeline.run(build_job(
{...}))``, ``pipeline.estimate`` and ``load_job_file`` on a catalog, and the README's example."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pipeline
from tests.conftest import DATA, ROOT, mtpipe, mtpipe_env

PO = DATA / "l10n" / "po" / "wtforms.pot"
ANDROID = DATA / "l10n" / "android" / "aosp-calendar" / "values" / "strings.xml"
OPTIONS = ["--to", "de,ru,ar", "--sim", "--no-cache", "--pack", "on"]
VALUES = {"to": "de,ru,ar", "sim": True, "cache": False, "pack": "on", "progress": False}


def _copy(source: Path, folder: Path, name: str) -> Path:
    """``source`` as ``folder/name``; ``folder`` made."""
    path = folder / name
    path.parent.mkdir(parents=True)
    shutil.copyfile(source, path)
    return path


def _command(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` run in ``folder`` (this checkout's package)."""
    env = mtpipe_env(PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the run's state, by relative path."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".mtpipe" not in path.parts:
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def _state(folder: Path, name: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The report (but its wall time) and the checkpoint's results (but their times)."""
    state = folder / ".mtpipe"
    report = json.loads((state / f"{name}.report.json").read_text(encoding="utf-8"))
    report.pop("wall_seconds")
    with sqlite3.connect(state / f"{name}.checkpoint.sqlite") as db:
        rows = db.execute(
            "SELECT key, status, translation, prompt_tokens, completion_tokens, flags, lang,"
            " source FROM results ORDER BY key"
        ).fetchall()
    return report, rows


@pytest.mark.parametrize(
    ("source", "name", "output"),
    [(PO, "locale/messages.pot", "locale"), (ANDROID, "res/values/strings.xml", None)],
)
def test_the_library_writes_what_the_command_writes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: Path,
    name: str,
    output: str | None,
) -> None:
    """Same target files byte for byte, same checkpoint, same report; -o given or not."""
    command, library = tmp_path / "command", tmp_path / "library"
    _copy(source, command, name)
    _copy(source, library, name)
    done = _command(command, "translate", name, *OPTIONS, *(["-o", output] if output else []))
    assert done.returncode == 0, done.stderr

    monkeypatch.chdir(library)
    values = {"input": name, **VALUES} | ({"output": output} if output else {})
    job = pipeline.build_job(values, env=os.environ)
    report = pipeline.run(job)
    assert (report.exit_code, report.failed, report.not_sent) == (0, 0, 0)
    assert report.translated > 50

    written = _files(library)
    assert written == _files(command)
    assert len(written) == 4  # the source and a target per language
    state = "locale" if output else "res"
    assert _state(library / state, Path(name).name) == _state(command / state, Path(name).name)

    again = pipeline.estimate(job)
    planned = _command(library, "estimate", name, *OPTIONS, *(["-o", output] if output else []))
    assert planned.returncode == 0, planned.stderr
    assert again["to_translate"] == 0
    for figure in ("messages", "kept", "to_translate", "requests"):
        assert re.search(rf"^{figure}\s+{again[figure]}$", planned.stdout, re.M), planned.stdout


def test_a_catalog_job_file_and_a_run_inside_an_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``load_job_file`` -> ``build_job`` -> ``run`` on a catalog job file; called where a
    loop already runs (a notebook cell), the run takes a thread of its own."""
    _copy(PO, tmp_path, "locale/messages.pot")
    job_file = tmp_path / "jobs" / "ui.toml"
    job_file.parent.mkdir()
    job_file.write_text(
        'input = "../locale/messages.pot"\nto = ["de", "ja"]\nsim = true\ncache = false\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path / "jobs")
    job = pipeline.build_job(pipeline.load_job_file(job_file), env=os.environ)
    assert job.output == (tmp_path / "locale").resolve()

    async def in_a_loop() -> pipeline.Report:
        return pipeline.run(job)

    report = asyncio.run(in_a_loop())
    assert (report.exit_code, report.failed) == (0, 0)
    locale = tmp_path / "locale"
    assert sorted(p.name for p in locale.glob("*.po")) == ["de.po", "ja.po"]
    assert (locale / ".mtpipe" / "messages.pot.checkpoint.sqlite").exists()
    again = pipeline.run(job)
    assert (again.requests, again.translated) == (0, 0)  # all kept: nothing sent twice


def test_the_readme_catalog_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = next(b for b in blocks if '"locale/messages.pot"' in b)
    _copy(PO, tmp_path, "locale/messages.pot")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert sorted(p.name for p in (tmp_path / "locale").glob("*.po")) == ["de.po", "ru.po"]


def test_a_bad_catalog_raises_the_error_the_command_exits_2_with(tmp_path: Path) -> None:
    source = tmp_path / "bad.po"
    source.write_bytes(b'msgid ""\nmsgstr ""\n\nmsgid "a"\nmsgstr ""\n\nmsgid "a"\nmsgstr ""\n')
    job = pipeline.build_job({"input": source, "to": "de", "sim": True}, env=os.environ)
    with pytest.raises(pipeline.PipelineError, match=r"bad\.po:7: ") as raised:
        pipeline.run(job)
    assert raised.value.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.po"]  # nothing left behind


def test_the_ray_engine_refuses_a_catalog_in_one_line(tmp_path: Path) -> None:
    source = _copy(PO, tmp_path, "locale/messages.pot")
    done = mtpipe("translate", source, "--to", "de", "--sim", "--engine", "ray")
    assert done.code == 2, done.stderr
    assert done.stderr == (
        f"mtpipe: error: {source}: --engine ray translates tables; leave it out for a catalog\n"
    )
    assert sorted(p.name for p in (tmp_path / "locale").iterdir()) == ["messages.pot"]
