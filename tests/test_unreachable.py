"""An endpoint that cannot be reached: a TLS failure stops the run with exit 4 like a
refused connection; after a first success an outage is retried, shown on the progress
line, and the run finishes when the server is back (real processes on loopback)."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import polars as pl

from tests.conftest import ROOT, Sim, mtpipe, mtpipe_env


def test_a_tls_failure_stops_with_exit_4_naming_the_host(sim: Sim, tmp_path: Path) -> None:
    """https:// to a server that speaks plain HTTP: the handshake fails, the same way a
    certificate or a proxy that breaks TLS does."""
    src = tmp_path / "in.csv"
    src.write_text("text\nHello\nWorld\n", encoding="utf-8")
    host = sim.base_url.removeprefix("http://").removesuffix("/v1")
    sim.reset()
    run = mtpipe("translate", src, "--to", "de", "--base-url", f"https://{host}/v1", timeout=60)
    assert run.code == 4, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"cannot reach {host}: TLS handshake failed; check --base-url" in run.stderr
    assert sim.stats()["requests"] == 0  # nothing got through the handshake


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.sim", "--port", str(port), "--latency", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None and "listening" in process.stdout.readline()
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _requests(port: int) -> int:
    reply = httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=10)
    return int(reply.json()["requests"])


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


def test_an_outage_after_a_first_success_is_retried_and_shown(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pl.DataFrame({"text": [f"Sentence number {i}" for i in range(400)]}).write_csv(src)
    port = _free_port()
    server = _serve(port)
    argv = [sys.executable, "-m", "pipeline", "translate", str(src), "--to", "de", "--pack",
            "off", "--concurrency", "2", "--base-url", f"http://127.0.0.1:{port}/v1",
            "--log-format", "json", "--progress-seconds", "0.5"]  # fmt: skip
    run = subprocess.Popen(argv, env=mtpipe_env(), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(run.stderr, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while _requests(port) < 20:  # the run has succeeded more than once
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.05)
        _stop(server)
        down = time.monotonic()
        shown = []
        while time.monotonic() - down < 12:  # past the 10 s that stop a run never answered
            try:
                event = json.loads(lines.get(timeout=1))
            except queue.Empty:
                continue
            if event["event"] == "progress" and "error" in event:
                shown.append(event["error"])
        assert run.poll() is None  # still retrying, not stopped with exit 4
        assert f"connection (127.0.0.1:{port})" in shown
        server = _serve(port)
        assert run.wait(timeout=120) == 0
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
        reader.join(timeout=30)  # at the end of the run's stderr, before it is closed
        _stop(run)
        _stop(server)
    out = pl.read_csv(tmp_path / "in.translated.csv", infer_schema=False)
    assert out["text_de"].null_count() == 0 and out["mt_error"].null_count() == out.height
