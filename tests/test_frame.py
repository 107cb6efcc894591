"""translate_frame: a DataFrame through the same run as the command; the README's example runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import pipeline
from pipeline.errors import UsageError
from tests.conftest import mtpipe

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = next(b for b in blocks if "translate_frame(df" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})


def test_a_checkpoint_makes_the_second_call_free(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": [1, 2, 3], "text": ["Hello", "World", "Hello"]})
    checkpoint = tmp_path / "c.sqlite"
    first = pipeline.translate_frame(
        df, to="de,ja", sim=True, checkpoint=checkpoint, report=tmp_path / "r.json"
    )
    assert first["text_de"].null_count() == 0 and first["id"].to_list() == [1, 2, 3]
    assert int(first["mt_prompt_tokens"].sum()) > 0
    report = tmp_path / "again.json"
    again = pipeline.translate_frame(
        df, to=["de", "ja"], sim=True, checkpoint=checkpoint, progress=False, report=report
    )
    assert again["text_ja"].equals(first["text_ja"])
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert (figures["requests"], figures["reused"]) == (0, 6)  # nothing paid twice


def test_what_is_shown_names_the_dataframe_not_a_temporary_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    df = pl.DataFrame({"text": ["Hello", "World"]})
    pipeline.translate_frame(df, to="de", sim=True, progress=False, cache=False)
    said = capsys.readouterr().err
    assert said.startswith("mtpipe: 2/2 cells translated") and said.endswith("-> DataFrame\n")
    pipeline.translate_frame(df, to="de", sim=True, cache=False, log_format="json")
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {(e["input"], e["output"]) for e in events if "output" in e} == {
        ("DataFrame", "DataFrame")
    }
    assert "mtpipe-frame-" not in json.dumps(events)


def test_unknown_keys_and_frame_keys_are_refused() -> None:
    df = pl.DataFrame({"text": ["Hello"]})
    with pytest.raises(UsageError, match="did you mean 'concurrency'"):
        pipeline.translate_frame(df, to="de", sim=True, concurency=2)
    with pytest.raises(UsageError, match="output is the DataFrame's"):
        pipeline.translate_frame(df, to="de", sim=True, output="x.csv")
    with pytest.raises(UsageError, match="polars or pandas DataFrame"):
        pipeline.translate_frame([1, 2], to="de", sim=True)


def test_pandas_in_pandas_out() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"n": [7, 8], "text": ["Hello", "Bye"]}, index=[10, 20])
    out = pipeline.translate_frame(df, to=["de"], sim=True, progress=False)
    assert isinstance(out, pd.DataFrame) and list(out.index) == [10, 20]
    assert list(out["n"]) == [7, 8] and out["text_de"].notna().all()


def test_the_frame_comes_back_as_the_command_writes_it(tmp_path: Path) -> None:
    """Same run as ``mtpipe translate``: dedupe, packing, QA flags, token columns."""
    texts = ["Open the file", "Save", "Open the file", "Keep {name} [[sim:breakph-always]]"]
    df = pl.DataFrame({"id": [1, 2, 3, 4], "text": texts, "n": [0.5, 1.5, 2.5, 3.5]})
    source = tmp_path / "in.parquet"
    df.write_parquet(source)
    report = tmp_path / "frame.json"
    # --pack on: packs of a fixed size (auto learns from answer timing, and on a run this
    # small it would send singles: its packs before the first answer are a bet)
    options = {"sim": True, "cache": False, "pack": "on", "report": report}
    frame = pipeline.translate_frame(df, to="de,ja", **options)
    run = mtpipe("translate", source, "--to", "de,ja", "--sim", "--no-cache", "--pack", "on")
    assert run.code == 0, run.stderr
    command = pl.read_parquet(tmp_path / "in.translated.parquet")
    assert frame.equals(command), (frame, command)
    assert frame["mt_flags"].to_list()[3] == "text_de: placeholders; text_ja: placeholders"
    figures = json.loads(report.read_text(encoding="utf-8"))
    # 3 unique texts x 2 languages in one pack each, the broken placeholder resent alone
    assert (figures["requests"], figures["deduplicated"]) == (4, 2)
    assert figures["retries"] == {"qa_placeholders": 2}
    assert int(frame["mt_prompt_tokens"].sum()) == figures["prompt_tokens"]
