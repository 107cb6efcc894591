"""The translation cache: one text paid once per model and settings, whatever the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipeline.cache import Cache
from pipeline.models import Result, Status, Usage
from pipeline.options import build_job, load_job_file
from tests.conftest import ROOT, Sim, corpus, mtpipe, mtpipe_env

TEXTS = [r["text"] for r in corpus("ui_strings.jsonl", 30)]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "ui.csv"
    pl.DataFrame({"id": [f"{i:03d}" for i in range(len(TEXTS))], "text": TEXTS}).write_csv(path)
    return path


def _cache_file() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "mtpipe" / "cache.sqlite"


def _report(output: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(output.with_name(output.name + ".report.json").read_text())
    return data


def _translate(sim: Sim, src: Path, out: Path, *args: str | Path) -> int:
    """Translate ``src`` to ``out`` (its own checkpoint); the requests the simulator got."""
    sim.reset()
    run = mtpipe("translate", src, "--to", "de,ja", "--base-url", sim.base_url, "-o", out, *args)
    assert run.code == 0, run.stderr
    return int(sim.stats()["requests"])


def test_the_same_input_to_parquet_after_csv_is_paid_once(
    sim: Sim, src: Path, tmp_path: Path
) -> None:
    assert _translate(sim, src, tmp_path / "out.csv") > 0
    assert _cache_file().exists()  # under $XDG_CACHE_HOME, by default
    sim.reset()
    run = mtpipe(
        "translate",
        src,
        "--to",
        "de,ja",
        "--base-url",
        sim.base_url,
        "-o",
        tmp_path / "out.parquet",
    )
    assert run.code == 0, run.stderr
    assert sim.stats()["requests"] == 0
    first, second = pl.read_csv(tmp_path / "out.csv"), pl.read_parquet(tmp_path / "out.parquet")
    assert second.select("text_de", "text_ja").equals(first.select("text_de", "text_ja"))
    assert second["text_de"].null_count() == 0
    report = _report(tmp_path / "out.parquet")
    cells = 2 * len(TEXTS)
    assert report["cached"] == cells and report["translated"] == cells
    assert report["reused"] == 0 and report["new"] == 0 and report["requests"] == 0
    # the token columns sum to what this output's runs billed: nothing
    assert report["prompt_tokens"] == second["mt_prompt_tokens"].sum() == 0
    assert second["mt_completion_tokens"].sum() == 0 and second["mt_error"].null_count() == 30
    assert f"(0 reused, {cells} cached, 0 new, 0 failed)" in run.stderr
    sim.reset()
    logged = mtpipe(
        "translate",
        src,
        "--to",
        "de,ja",
        "--base-url",
        sim.base_url,
        "-o",
        tmp_path / "out.jsonl",
        "--log-format",
        "json",
    )
    start = json.loads(logged.stderr.splitlines()[0])
    assert (start["event"], start["cached"], start["to_translate"]) == ("start", cells, 0)
    # a third output's checkpoint now holds the hits: a re-run reuses them from there
    sim.reset()
    again = mtpipe(
        "translate",
        src,
        "--to",
        "de,ja",
        "--base-url",
        sim.base_url,
        "-o",
        tmp_path / "out.parquet",
    )
    assert again.code == 0 and sim.stats()["requests"] == 0
    assert _report(tmp_path / "out.parquet")["reused"] == cells


def test_no_cache_pays_again_and_leaves_no_cache_file(sim: Sim, src: Path, tmp_path: Path) -> None:
    assert _translate(sim, src, tmp_path / "a.csv", "--no-cache") > 0
    assert not _cache_file().exists()
    assert _translate(sim, src, tmp_path / "b.csv") > 0  # nothing was cached
    assert _translate(sim, src, tmp_path / "c.csv", "--no-cache") > 0  # cached, not asked


def test_another_model_or_setting_pays_again(sim: Sim, src: Path, tmp_path: Path) -> None:
    # --pack on: packs of a fixed size, so the same texts cost the same requests (auto's
    # first packs depend on when the first answer comes)
    on = ("--pack", "on")
    paid = _translate(sim, src, tmp_path / "a.csv", *on)
    assert _translate(sim, src, tmp_path / "b.csv", "--model", "qwen-mt-plus", *on) == paid
    assert _translate(sim, src, tmp_path / "c.csv", "--temperature", "0.3", *on) == paid
    assert _translate(sim, src, tmp_path / "d.csv", "--model", "qwen-mt-plus", *on) == 0


def test_only_good_translations_are_cached(sim: Sim, tmp_path: Path) -> None:
    src = tmp_path / "m.csv"
    pl.DataFrame({"text": ["Fine text", "Bad [[sim:moderation]]"]}).write_csv(src)
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url)
    assert mtpipe(*args, "-o", tmp_path / "a.csv").code == 3
    sim.reset()
    assert mtpipe(*args, "-o", tmp_path / "b.csv").code == 3
    assert sim.stats()["texts"] == {"Bad [[sim:moderation]]": 1}  # the failure is asked again
    assert _report(tmp_path / "b.csv")["cached"] == 1


def test_cache_path_option_job_key_and_false(sim: Sim, src: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine" / "cache.sqlite"
    assert _translate(sim, src, tmp_path / "a.csv", "--cache", mine) > 0
    assert mine.exists() and not _cache_file().exists()
    job = tmp_path / "job.toml"
    job.write_text(
        f'input = "ui.csv"\nto = ["de", "ja"]\nbase_url = "{sim.base_url}"\n'
        'output = "b.csv"\ncache = "mine/cache.sqlite"\n'
    )
    assert load_job_file(job)["cache"] == mine  # resolved against the job file's folder
    sim.reset()
    assert mtpipe("run", job).code == 0 and sim.stats()["requests"] == 0
    sim.reset()
    run = mtpipe("run", job, "--set", "cache=false", "--set", "output=c.csv")
    assert run.code == 0 and sim.stats()["requests"] > 0
    job.write_text(job.read_text().replace('"mine/cache.sqlite"', "false"))
    assert load_job_file(job)["cache"] is False
    job.write_text(job.read_text().replace("cache = false", "cache = true"))
    refused = mtpipe("run", job)
    assert refused.code == 2 and "cache must be a path string, or false" in refused.stderr


def test_the_default_cache_follows_xdg_cache_home(tmp_path: Path) -> None:
    values = {"input": "in.csv", "to": "de", "sim": True}
    job = build_job(values, env={"XDG_CACHE_HOME": str(tmp_path)})
    assert job.cache == tmp_path / "mtpipe" / "cache.sqlite"
    relative = build_job(values, env={"XDG_CACHE_HOME": "relative"})  # ignored, as XDG says
    assert relative.cache == Path.home() / ".cache" / "mtpipe" / "cache.sqlite"
    assert build_job(values | {"cache": False}, env={}).cache is None


def test_a_corrupt_cache_is_one_line_naming_no_cache(sim: Sim, src: Path, tmp_path: Path) -> None:
    _cache_file().parent.mkdir(parents=True)
    _cache_file().write_bytes(b"this is not a database" * 100)
    sim.reset()
    args = ("translate", src, "--to", "de", "--base-url", sim.base_url)
    run = mtpipe(*args, "-o", tmp_path / "a.csv")
    assert run.code == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "translation cache" in run.stderr and "--no-cache" in run.stderr
    assert str(_cache_file()) in run.stderr
    assert sim.stats()["requests"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ui.csv"]  # nothing left behind
    assert mtpipe(*args, "-o", tmp_path / "a.csv", "--no-cache").code == 0


def test_the_in_process_simulator_never_answers_the_api(
    sim: Sim, src: Path, tmp_path: Path
) -> None:
    """Pseudo-translations of --sim are kept apart: a run against an endpoint pays."""
    assert mtpipe("translate", src, "--to", "de,ja", "--sim", "-o", tmp_path / "a.csv").code == 0
    assert _translate(sim, src, tmp_path / "b.csv") > 0
    again = mtpipe("translate", src, "--to", "de,ja", "--sim", "-o", tmp_path / "c.csv")
    assert again.code == 0 and _report(tmp_path / "c.csv")["cached"] == 2 * len(TEXTS)


def test_estimate_counts_cache_hits_without_copying_them(
    sim: Sim, src: Path, tmp_path: Path
) -> None:
    _translate(sim, src, tmp_path / "a.csv")
    run = mtpipe("estimate", src, "--to", "de,ja,fr", "--base-url", sim.base_url)
    assert run.code == 0, run.stderr
    figures = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert figures["in_cache"] == str(2 * len(TEXTS))
    assert figures["to_translate"] == str(len(TEXTS))


def test_concurrent_processes_fill_one_cache(tmp_path: Path) -> None:
    """Two processes putting at once (WAL, busy timeout): every good result kept, first wins."""
    path = tmp_path / "cache.sqlite"
    script = (
        "import sys; from pathlib import Path\n"
        "from pipeline.cache import Cache\n"
        "from pipeline.models import Result, Status, Usage\n"
        "who = sys.argv[1]\n"
        "with Cache(Path(sys.argv[2]), endpoint='e') as cache:\n"
        "    for i in range(0, 2000, 10):\n"
        "        cache.put([Result(f'k{j}', Status.DONE, f'{who}{j}', Usage(), 1)"
        " for j in range(i, i + 10)])\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, who, str(path)], cwd=ROOT, env=mtpipe_env())
        for who in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with Cache(path, endpoint="e") as cache:
        found = cache.lookup(pl.Series([f"k{j}" for j in range(2000)]))
        assert found.height == 2000
        assert all(
            t in (f"a{k[1:]}", f"b{k[1:]}")
            for k, t in found.select("key", "translation").iter_rows()
        )
    with Cache(path, endpoint="other") as cache:
        assert cache.lookup(pl.Series(["k1"])).height == 0  # another endpoint's entries


def test_put_keeps_done_unflagged_results_and_the_first_translation(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Cache(path, endpoint="e") as cache:
        cache.put([Result("f", Status.FAILED_PERMANENT, None, Usage(5, 5), 1)])
        assert not path.exists()  # nothing good yet: no file
        cache.put(
            [
                Result("a", Status.DONE, "A", Usage(5, 5), 1),
                Result("b", Status.DONE, "B", Usage(5, 5), 1, flags=("placeholders",)),
                Result("a/0", Status.PIECE, "piece", Usage(5, 5), 1),
                Result("t", Status.FAILED_TRANSIENT, None, Usage(), 8),
            ]
        )
        cache.put([Result("a", Status.DONE, "A2", Usage(5, 5), 1)])
        found = cache.lookup(pl.Series(["a", "b", "a/0", "t", "f", None]))
        assert found.to_dicts() == [
            {
                "key": "a",
                "status": "done",
                "translation": "A",
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "attempts": 0,
                "error": None,
                "message": None,
                "flags": "",
            }
        ]
        assert cache.lookup(pl.Series(["a"]), columns=("translation",)).columns == [
            "key",
            "translation",
        ]


def test_translate_frame_reuses_the_cache_across_calls(tmp_path: Path) -> None:
    from pipeline import translate_frame

    df = pl.DataFrame({"sku": [1, 2, 3], "title": ["Red shirt", "Blue mug", "Red shirt"]})
    first = translate_frame(df, to="de", columns="title", sim=True, progress=False)
    report = tmp_path / "r.json"
    again = translate_frame(
        df, to="de", columns="title", sim=True, progress=False, report=str(report)
    )
    assert again["title_de"].equals(first["title_de"])
    data = json.loads(report.read_text())
    assert (data["cached"], data["requests"]) == (3, 0)
    assert again["mt_prompt_tokens"].sum() == 0
    off = translate_frame(
        df, to="de", columns="title", sim=True, progress=False, report=str(report), cache=False
    )
    assert off["title_de"].equals(first["title_de"])
    assert json.loads(report.read_text())["requests"] > 0


def test_help_names_the_cache_its_default_and_how_to_turn_it_off() -> None:
    run = mtpipe("translate", "--help")
    text = " ".join(run.stdout.split())
    assert "--cache PATH translation cache shared by every output and job" in text
    assert "$XDG_CACHE_HOME/mtpipe/cache.sqlite" in text
    assert "--no-cache do not read or fill the translation cache" in text


def test_qa_off_reads_but_does_not_fill_and_the_url_is_not_stored(
    sim: Sim, src: Path, tmp_path: Path
) -> None:
    assert _translate(sim, src, tmp_path / "a.csv", "--qa", "off") > 0
    assert not _cache_file().exists()  # nothing checked, nothing cached
    assert _translate(sim, src, tmp_path / "b.csv") > 0
    assert _translate(sim, src, tmp_path / "c.csv", "--qa", "off") == 0
    stored = b"".join(p.read_bytes() for p in _cache_file().parent.iterdir())
    assert sim.base_url.encode() not in stored and b"127.0.0.1" not in stored
