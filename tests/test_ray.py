"""The Ray engine on a real cluster on loopback: a head and one worker node, token auth.

The cluster is started by the fixture below with ``ray start --block`` (one process per
node, its own session), bounded in time, and stopped by killing those processes' groups
in teardown, even when a test fails.  Nodes listen on 127.0.0.2 and 127.0.0.3 so the
traffic stays on loopback; the simulator is a real process, as in the other tests.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

# Ray reads its auth mode and token once, when it loads: set before the import, so this
# process (the driver) and the nodes the fixture starts share one fresh token.
TOKEN = os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
os.environ["RAY_AUTH_MODE"] = "token"
ray = pytest.importorskip("ray")

from conftest import ROOT, Sim, corpus, mtpipe, mtpipe_env  # noqa: E402

from pipeline import translate_frame  # noqa: E402
from pipeline.config import cost_usd  # noqa: E402
from pipeline.ray import translate_dataset  # noqa: E402

# Ray's own deprecation notices about its own settings (raised inside ray.data)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")

HEAD, WORKER = "127.0.0.2", "127.0.0.3"
NODE_KEY = "sk-node-" + secrets.token_hex(8)  # the key the nodes hold; never shipped by the driver
START_SECONDS = 90  # how long a node may take to come up before the fixture gives up
STOP_SECONDS = 5  # then its group is killed: it took 30 s (the old bound) under load


@dataclass(frozen=True, slots=True)
class Cluster:
    address: str
    token: str
    nodes: tuple[subprocess.Popen[bytes], ...]
    folder: Path  # the nodes' logs and session files


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: teardown ends it and its children only
        )


def _wait_listening(host: str, port: int, node: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise RuntimeError(f"ray head exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"ray head not listening after {START_SECONDS}s")


def _stop(node: subprocess.Popen[bytes]) -> None:
    if node.poll() is None:
        os.killpg(node.pid, signal.SIGTERM)  # ray start --block stops its node's processes
        try:
            node.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    with contextlib.suppress(ProcessLookupError):  # whatever of the group outlived its leader
        os.killpg(node.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A head node and one worker node, two logical CPUs each, token auth with a fresh token."""
    folder = tmp_path_factory.mktemp("ray")
    token = TOKEN
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "ROUTESCOPE_"))}
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "PYTHONPATH": str(ROOT)}
    env |= {"RAY_USAGE_STATS_ENABLED": "0", "ROUTESCOPE_API_KEY": NODE_KEY}
    port = _free_port(HEAD)
    common = ["--num-cpus", "2", "--object-store-memory", str(100 * 1024**2)]
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        head_log = folder / "head.log"
        head_args = ["--head", "--node-ip-address", HEAD, "--port", str(port)]
        head_args += ["--temp-dir", str(folder / "t"), "--include-dashboard", "false"]
        nodes.append(_node([*head_args, *common], env, head_log))
        _wait_listening(HEAD, port, nodes[0], head_log)
        worker_args = ["--address", f"{HEAD}:{port}", "--node-ip-address", WORKER]
        nodes.append(_node([*worker_args, *common], env, folder / "worker.log"))
        yield Cluster(f"{HEAD}:{port}", token, tuple(nodes), folder)
    finally:
        for node in reversed(nodes):
            _stop(node)


@pytest.fixture(scope="module")
def connected(cluster: Cluster) -> Iterator[Cluster]:
    """This process as the cluster's driver, once both nodes are up."""
    try:
        ray.init(
            address=cluster.address,
            _node_ip_address=HEAD,
            logging_level="ERROR",
            log_to_driver=False,
        )
        deadline = time.monotonic() + START_SECONDS
        while ray.cluster_resources().get("CPU", 0) < 4:  # both nodes up
            assert time.monotonic() < deadline, "the worker node never joined"
            time.sleep(0.5)
        yield cluster
    finally:
        ray.shutdown()


def _table(rows: int) -> pl.DataFrame:
    """Texts that repeat within and across blocks, a blank cell, a placeholder."""
    texts = [
        f"Save {i % 13} files to %(folder)s" if i % 5 else f"Open item {i % 17}"
        for i in range(rows)
    ]
    texts[7] = "   "
    return pl.DataFrame({"id": list(range(rows)), "title": texts, "body": texts[::-1]})


def _collect(ds: object) -> pl.DataFrame:
    refs = ds.to_arrow_refs()  # type: ignore[attr-defined]
    return pl.concat([pl.from_arrow(t) for t in ray.get(refs)])  # type: ignore[misc]


def test_same_answer_as_the_local_engine(
    connected: Cluster, sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows, translations, mt_error, mt_flags and token columns equal the local engine's,
    over 4 blocks on 2 nodes; each unit is sent once (dedupe across blocks)."""
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-test-key")
    table = _table(60)
    # no translation cache: the local run would answer the Ray run from it, with 0 tokens
    options = {"base_url": sim.base_url, "pack": "off", "to": ["de", "ja"], "cache": False}
    columns = ["title", "body"]
    sim.reset()
    local = translate_frame(table, columns=columns, progress=False, **options)
    sent_locally = sim.stats()["requests"]
    sim.reset()
    ds = ray.data.from_arrow([table.slice(i, 15).to_arrow() for i in range(0, 60, 15)])
    state = tmp_path / "state"
    out = _collect(translate_dataset(ds, columns=columns, state=state, actors=2, **options))
    assert out.sort("id").equals(local)
    assert out["mt_prompt_tokens"].sum() > 0  # not an all-zero match
    # every text is in several blocks, two of them running at once: each unit is sent
    # once per run (a block waits for the units another running block claimed)
    units = {(t, lang) for c in columns for t in table[c] if t.strip() for lang in ("de", "ja")}
    assert sim.stats()["requests"] == sent_locally == len(units)
    sim.reset()
    again = _collect(translate_dataset(ds, columns=columns, state=state, actors=2, **options))
    assert sim.stats()["requests"] == 0  # a later run over the same state sends nothing
    assert again.sort("id").equals(local)


def test_a_local_run_never_imports_ray(sim: Sim, tmp_path: Path) -> None:
    """``import pipeline`` and a local translate leave ray out of sys.modules."""
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Hello\n", encoding="utf-8")
    script = (
        "import os, sys, polars as pl; import pipeline\n"
        f"pipeline.translate_frame(pl.read_csv({str(source)!r}), to='de',"
        f" base_url={sim.base_url!r}, progress=False)\n"
        "print('ray' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTESCOPE_")}
    env["ROUTESCOPE_API_KEY"] = "sk-test-key"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def _blocks(table: pl.DataFrame, size: int) -> object:
    return ray.data.from_arrow(
        [table.slice(i, size).to_arrow() for i in range(0, len(table), size)]
    )


def test_one_quota_for_every_actor(
    connected: Cluster, sim_factory: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 actors on 2 nodes pace through one cluster store: a simulator limited to 600 a
    minute, with its per-second and burst limits, answers fewer than 1% of them 429."""
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-driver-key")
    limited = sim_factory("--rpm", "600", "--burst", "--latency", "0.2")  # type: ignore[operator]
    table = pl.DataFrame({"id": range(240), "text": [f"Quota line {i}" for i in range(240)]})
    options = {"base_url": limited.base_url, "pack": "off", "to": ["de"], "cache": False}
    options |= {"rpm": 600, "concurrency": 8}
    out = _collect(translate_dataset(_blocks(table, 30), state=tmp_path / "s", actors=4, **options))
    stats = limited.stats()
    throttled = sum(stats["throttled"].values())
    assert out["mt_error"].null_count() == 240 and out["text_de"].null_count() == 0
    assert stats["requests"] - throttled == 240
    assert throttled < 0.01 * stats["requests"], stats["throttled"]


def test_one_concurrency_limit_for_every_actor(
    connected: Cluster, sim_factory: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--concurrency 2 with 2 actors: at most 2 requests at the server at once, counted
    across the actors through the cluster store (each alone would keep 2 in flight)."""
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-driver-key")
    slow = sim_factory("--latency", "0.2")  # type: ignore[operator]
    table = _unique(40)
    options = {"base_url": slow.base_url, "pack": "off", "to": ["de"], "cache": False}
    options |= {"rpm": 6000, "concurrency": 2}
    out = _collect(translate_dataset(_blocks(table, 10), state=tmp_path / "s", actors=2, **options))
    assert out["text_de"].null_count() == 0
    stats = slow.stats()
    assert stats["ok"] == 40 and stats["peak_in_flight"] == 2, stats["peak_in_flight"]


def test_max_cost_holds_across_the_cluster(
    connected: Cluster, sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--max-cost is one budget for every actor: what all blocks were billed stays within
    it, the rest is left unsent with mt_error 'budget'."""
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-driver-key")
    texts = [r["text"] for r in corpus("news.jsonl", 40)]
    table = pl.DataFrame({"id": range(40), "text": texts})
    limit = 0.0004
    options = {"base_url": sim.base_url, "pack": "off", "to": ["de"], "cache": False}
    options |= {"max_cost": limit, "concurrency": 1}
    out = _collect(translate_dataset(_blocks(table, 10), state=tmp_path / "s", actors=2, **options))
    cost = cost_usd(
        "qwen-mt-turbo", out["mt_prompt_tokens"].sum(), out["mt_completion_tokens"].sum()
    )
    translated = out["text_de"].drop_nulls().len()
    assert 0 < translated < 40
    assert 0 < cost <= limit
    assert set(out["mt_error"].drop_nulls()) == {"text_de: budget"}


def _ray_cli(cluster: Cluster, *args: str | Path, token: str | None = None) -> tuple[int, str]:
    """``mtpipe translate ARGS --engine ray`` as a real process, the cluster's driver."""
    env = mtpipe_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token or cluster.token)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    run = mtpipe(
        "translate", *args, "--engine", "ray", "--ray-address", cluster.address,
        env=env, timeout=300,
    )  # fmt: skip
    return run.code, run.stderr


def _parts(folder: Path, table: pl.DataFrame, size: int) -> Path:
    folder.mkdir()
    for i in range(0, len(table), size):
        table.slice(i, size).write_csv(folder / f"part-{i // size:03d}.csv")
    return folder


def test_cli_engine_ray_matches_the_local_engine(
    connected: Cluster, sim: Sim, tmp_path: Path
) -> None:
    """A folder of CSV parts as a ``file://`` URI (read by the workers) -> one CSV in input
    order, the local engine's rows and columns; a glob of Parquet parts -> a folder of
    Parquet parts.  The API key the driver holds never reaches the cluster: the workers
    use their own, and no log of Ray names either."""
    table = _table(60).drop("body")
    parts = _parts(tmp_path / "parts", table, 20)
    table.write_csv(tmp_path / "all.csv")
    common = ("--to", "de", "--column", "title", "--base-url", sim.base_url, "--pack", "off")
    common += ("--no-cache",)
    local = mtpipe("translate", tmp_path / "all.csv", "-o", tmp_path / "local.csv", *common)
    assert local.code == 0, local.stderr
    uri = f"file://{parts}"
    code, stderr = _ray_cli(connected, uri, "-o", tmp_path / "ray.csv", "--actors", "2", *common)
    assert code == 0, stderr
    expected = pl.read_csv(tmp_path / "local.csv", infer_schema=False)
    got = pl.read_csv(tmp_path / "ray.csv", infer_schema=False)
    tokens = ["mt_prompt_tokens", "mt_completion_tokens"]
    assert got.drop(tokens).equals(expected.drop(tokens))  # same rows, same order
    assert all(got[c].cast(int).sum() == expected[c].cast(int).sum() > 0 for c in tokens)
    _same_report(tmp_path / "local.csv", tmp_path / "ray.csv", local.stderr, stderr)
    for i, part in enumerate(sorted(parts.iterdir())):
        pl.read_csv(part).write_parquet(tmp_path / f"p{i}.parquet")
    glob = str(tmp_path / "p*.parquet")
    code, stderr = _ray_cli(connected, glob, "-o", tmp_path / "out.parquet", *common)
    assert code == 0, stderr
    written = sorted((tmp_path / "out.parquet").glob("*.parquet"))
    assert len(written) >= 1 and not list(tmp_path.glob(".out.parquet*"))  # no temp left
    back = pl.read_parquet(written).sort("id")
    assert back["title_de"].to_list() == expected["title_de"].to_list()
    for log in connected.folder.rglob("*"):
        if log.is_file() and not log.is_socket():
            data = log.read_bytes()
            assert b"sk-test-key" not in data and NODE_KEY.encode() not in data, log


_SUMMARY = re.compile(
    r"^mtpipe: (\d+)/(\d+) cells translated \(.*, (\d+) failed\) in (\d+) requests; "
    r"(\d+)\+(\d+) tokens billed \(~\$([\d.]+)\); [\d.]+s -> (.+)$"
)


def _same_report(local: Path, ray_out: Path, local_said: str, ray_said: str) -> None:
    """The JSON report beside each output and the summary line: the same figures."""
    want = json.loads(Path(f"{local}.report.json").read_text(encoding="utf-8"))
    got = json.loads(Path(f"{ray_out}.report.json").read_text(encoding="utf-8"))
    same = ("rows", "cells", "blank_cells", "translated", "failed", "not_sent", "requests")
    same += ("prompt_tokens", "completion_tokens", "cost_usd", "exit_code", "failures", "model")
    same += ("reused", "new", "cached", "to_translate", "deduplicated")
    assert {k: got[k] for k in same} == {k: want[k] for k in same}
    assert got["new"] > 0  # a cell another block of the run sent is new, as locally
    assert got["output"] == str(ray_out) and got["prompt_tokens"] > 0
    lines = [_SUMMARY.match(said.strip().splitlines()[-1]) for said in (local_said, ray_said)]
    assert lines[0] and lines[1], (local_said, ray_said)
    assert lines[0].groups()[:-1] == lines[1].groups()[:-1]
    assert lines[1].group(8) == str(ray_out)


def test_input_parts_under_a_uri(tmp_path: Path) -> None:
    """A file:// URI names a file, a folder's parts (hidden ones left out) or a glob's
    matches, as a local path does; a URI pyarrow cannot resolve is one line of bad input."""
    from pipeline.errors import InputError
    from pipeline.ray.inputs import input_parts

    for name in ("a.csv", "b.csv", ".hidden.csv", "sub/c.csv", "d.parquet"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("id\n1\n", encoding="utf-8")
    top = [str(tmp_path / n) for n in ("a.csv", "b.csv")]
    for given in (f"file://{tmp_path}/*.csv", Path(f"file://{tmp_path}/[ab].csv")):
        assert input_parts(given).paths == tuple(top)
    assert input_parts(f"file://{tmp_path}/**/*.csv").paths == (*top, str(tmp_path / "sub/c.csv"))
    assert input_parts(f"file://{tmp_path}").paths == (*top, str(tmp_path / "d.parquet"))
    assert input_parts(f"file://{tmp_path}/a.csv").paths == (top[0],)
    assert input_parts(f"{tmp_path}/*.csv").paths == tuple(top)  # a local glob: the same
    with pytest.raises(InputError, match="no input file there"):
        input_parts(f"file://{tmp_path}/none-*.csv")
    with pytest.raises(InputError, match="cannot open it"):
        input_parts("nosuchfs://bucket/parts")


def test_cli_refuses_a_uri_output(tmp_path: Path) -> None:
    """-o under a URI is refused before connecting, in one line; nothing is written."""
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Hello\n", encoding="utf-8")
    out = f"file://{tmp_path}/out.csv"
    run = mtpipe("translate", source, "-o", out, "--to", "de", "--sim", "--engine", "ray")
    assert run.code == 2, run.stderr
    assert "writes to a local path" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_cli_address_where_nothing_listens_is_one_line(tmp_path: Path) -> None:
    """--ray-address HOST:PORT with nothing listening: tried again for ~10 s, then one
    line naming the address, exit 2, nothing written (ray.init alone waited > 10 min)."""
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Hello\n", encoding="utf-8")
    address = f"{HEAD}:{_free_port(HEAD)}"
    run = mtpipe(
        "translate", source, "--to", "de", "--sim", "--engine", "ray", "--ray-address", address,
        env=mtpipe_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN), timeout=120,
    )  # fmt: skip
    assert run.code == 2, run.stderr
    line = f"cannot connect to the Ray cluster at {address} ([Errno 111] Connection refused)"
    assert run.stderr.strip().splitlines() == [f"mtpipe: error: {line}; check --ray-address"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_cli_refused_token_names_the_variable(connected: Cluster, tmp_path: Path) -> None:
    """A wrong token: one line naming RAY_AUTH_TOKEN, never a token's value; exit 2 (at
    once: Ray's GCS client asked before ray.init, which retries a refused token ~20 s)."""
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Hello\n", encoding="utf-8")
    wrong = secrets.token_hex(32)
    code, stderr = _ray_cli(connected, source, "--to", "de", "--sim", token=wrong)
    assert code == 2, stderr
    assert "RAY_AUTH_TOKEN" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert wrong not in stderr and connected.token not in stderr
    assert not (tmp_path / "in.translated.csv").exists()


def test_cli_retry_failed_across_the_cluster(connected: Cluster, sim: Sim, tmp_path: Path) -> None:
    """A failed cell stays failed on a re-run (nothing sent, whichever actor's shard holds
    it); with --retry-failed it is sent again, once."""
    texts = [f"Row {i}" if i % 10 else f"Row {i} [[sim:moderation]]" for i in range(40)]
    parts = _parts(tmp_path / "parts", pl.DataFrame({"id": range(40), "text": texts}), 10)
    args = (parts, "-o", tmp_path / "out.csv", "--to", "de", "--base-url", sim.base_url)
    args += ("--pack", "off", "--no-cache", "--actors", "2")
    sim.reset()
    code, stderr = _ray_cli(connected, *args)
    assert code == 3, stderr
    assert pl.read_csv(tmp_path / "out.csv")["mt_error"].drop_nulls().len() == 4
    report = json.loads((tmp_path / "out.csv.report.json").read_text(encoding="utf-8"))
    assert (report["failed"], report["translated"], report["exit_code"]) == (4, 36, 3)
    assert report["requests"] == sim.stats()["requests"] == 40
    sim.reset()
    code, stderr = _ray_cli(connected, *args)
    assert code == 3 and sim.stats()["requests"] == 0, stderr
    report = json.loads((tmp_path / "out.csv.report.json").read_text(encoding="utf-8"))
    assert (report["reused"], report["new"], report["failed"]) == (36, 0, 4)  # as locally
    code, stderr = _ray_cli(connected, *args, "--retry-failed")
    assert code == 3, stderr
    assert sim.stats()["requests"] == 4


def _pids(marker: str) -> list[int]:
    """Live processes whose command line (Ray's process title) holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _wait_for(condition: object, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def _unsaved(concurrency: int, latency: float) -> int:
    """What one killed actor can have been billed for without recording it: its requests
    in flight, and the answers of its last 0.5 s: the writer commits within 0.1 s of an
    answer, and a loaded 2-core machine can delay that commit by as much again, twice."""
    return concurrency + math.ceil(concurrency * 0.5 / latency)


def _unique(rows: int) -> pl.DataFrame:
    """Texts that occur once each: every request is one unit, no dedupe between blocks."""
    return pl.DataFrame(
        {"id": range(rows), "text": [f"Crash line {i} of {rows}" for i in range(rows)]}
    )


def test_killing_a_worker_resends_only_that_blocks_unfinished_units(
    connected: Cluster, sim_factory: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL of a block translator mid-run: Ray restarts it and retries its block, which
    sends only the units its shard had not recorded; every cell ends translated."""
    monkeypatch.setenv("ROUTESCOPE_API_KEY", "sk-driver-key")
    slow = sim_factory("--latency", "0.3")  # type: ignore[operator]
    table, concurrency = _unique(160), 4
    options = {"base_url": slow.base_url, "pack": "off", "to": ["de"], "cache": False}
    options |= {"concurrency": concurrency}
    ds = translate_dataset(_blocks(table, 40), state=tmp_path / "s", actors=2, **options)
    done: list[pl.DataFrame] = []
    collector = threading.Thread(target=lambda: done.append(_collect(ds)))
    collector.start()
    _wait_for(lambda: slow.stats()["requests"] >= 30, "30 requests")
    victims = _pids("_Blocks")
    assert victims, "no block translator process found"
    os.kill(victims[0], signal.SIGKILL)
    collector.join(timeout=300)
    assert done, "the run did not finish after the kill"
    out = done[0]
    assert out["text_de"].null_count() == 0 and out["mt_error"].null_count() == len(out)
    assert out.sort("id")["id"].to_list() == list(range(160))  # 0 lost, none twice
    sent = slow.stats()["requests"]
    assert 160 <= sent <= 160 + _unsaved(concurrency, 0.3), sent  # paid twice: its in-flight


def test_killing_the_driver_resends_at_most_the_in_flight(
    connected: Cluster, sim_factory: object, tmp_path: Path
) -> None:
    """kill -9 of ``mtpipe translate --engine ray`` mid-run: no output appears; the re-run
    sends what was not recorded, so at most the requests in flight are paid twice."""
    slow = sim_factory("--latency", "0.3")  # type: ignore[operator]
    parts = _parts(tmp_path / "parts", _unique(160), 40)
    actors, concurrency = 2, 4
    base = [str(parts), "-o", str(tmp_path / "out.csv"), "--to", "de", "--pack", "off"]
    base += ["--base-url", slow.base_url, "--no-cache", "--actors", str(actors)]
    base += ["--concurrency", str(concurrency)]
    args = ["translate", *base, "--engine", "ray", "--ray-address", connected.address]
    env = mtpipe_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=connected.token)
    driver = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: slow.stats()["requests"] >= 40, "40 requests")
    finally:
        driver.kill()
        driver.wait()
    assert not (tmp_path / "out.csv").exists()  # atomic: nothing partial
    _wait_for(lambda: not _pids("_Blocks"), "the dead driver's actors to end")
    first = slow.stats()["requests"]
    code, stderr = _ray_cli(connected, *base)
    assert code == 0, stderr
    out = pl.read_csv(tmp_path / "out.csv")
    assert out["id"].to_list() == list(range(160)) and out["text_de"].null_count() == 0
    sent = slow.stats()["requests"]
    assert 160 <= sent <= 160 + actors * _unsaved(concurrency, 0.3), (first, sent)
