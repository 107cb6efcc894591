"""Job files and --set: the same options as the command line, checked the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.options import OPTIONS, build_job, load_job_file, parse_set
from tests.conftest import ROOT, Sim, mtpipe


def _job(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs" / "j.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_job_folder(tmp_path: Path) -> None:
    job = _job(tmp_path, 'input = "../data/in.csv"\nto = ["de", "ja"]\ntemplate = "t.txt"\n')
    values = load_job_file(job)
    assert values["input"] == (tmp_path / "data" / "in.csv").resolve()
    assert values["template"] == (tmp_path / "jobs" / "t.txt").resolve()
    built = build_job(values, env={"ROUTESCOPE_API_KEY": "k"})
    assert built.output == (tmp_path / "data" / "in.translated.csv").resolve()
    assert [lang.code for lang in built.targets] == ["de", "ja"]


def test_unknown_key_names_key_file_and_nearest(tmp_path: Path) -> None:
    job = _job(tmp_path, 'input = "x.csv"\nto = "de"\nconcurency = 4\n')
    with pytest.raises(UsageError) as info:
        load_job_file(job)
    message = str(info.value)
    assert "concurency" in message and str(job) in message and "'concurrency'" in message


def test_wrong_types_and_values_are_refused(tmp_path: Path) -> None:
    for text, fragment in (
        ('concurrency = "many"', "whole number"),
        ("concurrency = 0", "at least 1"),
        ('style = "fancy"', "prompt, options"),
        ('api_key = "sk-123"', "ROUTESCOPE_API_KEY"),
        ("to = ", "not a valid TOML"),
    ):
        with pytest.raises(UsageError, match=fragment):
            load_job_file(_job(tmp_path, text))


def test_set_overrides_with_typed_values(tmp_path: Path) -> None:
    job = _job(tmp_path, 'input = "x.csv"\nto = "de"\nconcurrency = 4\n')
    values = load_job_file(job, ["concurrency=9", "to=fr,ja", "sim=true", "temperature=0.3"])
    assert values["concurrency"] == 9 and values["to"] == ["fr", "ja"]
    assert values["sim"] is True and values["temperature"] == 0.3
    with pytest.raises(UsageError, match="key=value"):
        parse_set("concurrency")
    with pytest.raises(UsageError, match="true or false"):
        parse_set("sim=maybe")


def test_every_option_is_a_job_key_and_a_flag() -> None:
    flags = {o.cli_flag for o in OPTIONS}
    assert len(flags) == len(OPTIONS)
    for option in OPTIONS:
        assert option.key.isidentifier()


def test_example_jobs_run_on_the_simulator(sim: Sim, tmp_path: Path) -> None:
    jobs = sorted((ROOT / "jobs").glob("*.toml"))
    assert len(jobs) >= 2
    for job in jobs:
        out = tmp_path / f"{job.stem}.out{Path(load_job_file(job)['output']).suffix}"
        run = mtpipe(
            "run",
            job,
            "--set",
            f"output={out}",
            "--set",
            f"base_url={sim.base_url}",
            "--set",
            "sim=false",
        )
        assert run.code == 0, (job, run.stderr)
        assert out.exists()


def test_run_from_another_directory(sim: Sim, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.csv").write_text("id,text\n1,Hello there\n2,Good bye\n", encoding="utf-8")
    job = _job(tmp_path, f'input = "../data/in.csv"\nto = "de"\nbase_url = "{sim.base_url}"\n')
    run = mtpipe("run", job)
    assert run.code == 0, run.stderr
    assert (data / "in.translated.csv").exists()


def test_build_job_checks_values_like_a_job_file(tmp_path: Path) -> None:
    """One validation for the library, the command line and job files."""
    values = {"input": tmp_path / "in.csv", "to": "de, ja", "sim": True}
    assert [lang.code for lang in build_job(values, env={}).targets] == ["de", "ja"]
    assert [lang.code for lang in build_job(values | {"to": ("fr",)}, env={}).targets] == ["fr"]
    with pytest.raises(UsageError, match="unknown key 'concurency'; did you mean 'concurrency'"):
        build_job(values | {"concurency": 4}, env={})
    with pytest.raises(UsageError, match="concurrency must be a whole number"):
        build_job(values | {"concurrency": "many"}, env={})
    with pytest.raises(UsageError, match="api_key is not accepted"):
        build_job(values | {"api_key": "sk-1"}, env={})


def test_a_missing_key_file_is_refused_with_the_simulator_too(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nHello\n", encoding="utf-8")
    missing = tmp_path / "nosuchfile"
    run = mtpipe("translate", source, "--to", "de", "--sim", "--api-key-file", missing)
    assert run.code == 2, run.stderr
    assert f"{missing}: cannot read the API key file" in run.stderr
    assert not (tmp_path / "in.translated.csv").exists()
