"""Shared fixtures: a real simulator process on loopback, and mtpipe run as a real command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from pipeline.sim import spawn

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"

# No timed assertions in tests: hypothesis' per-example deadline fails a test on a
# slow first call (an import, a loaded machine), so it is off for every test.
settings.register_profile("mtpipe", deadline=None)
settings.load_profile("mtpipe")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Every test gets a fresh, empty XDG_CACHE_HOME (the translation cache, shared quota
    files): a test never writes the real ~/.cache, and never reuses another test's
    translations.  A hook around setup, call and teardown, not a fixture, so hypothesis
    sees no function-scoped fixture and a test's own monkeypatch still wins."""
    folder = tempfile.mkdtemp(prefix="mtpipe-xdg-")
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = folder
    try:
        return (yield)
    finally:
        if before is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = before
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Sim:
    """A simulator process: its base URL and its request statistics."""

    base_url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        root = self.base_url.removesuffix("/v1")
        return httpx.get(f"{root}/_sim/stats", timeout=10).json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        httpx.post(f"{self.base_url.removesuffix('/v1')}/_sim/reset", timeout=10)


def start_sim(*args: str) -> Sim:
    process, base_url = spawn(*args)
    return Sim(base_url, process)


def stop_sim(sim: Sim) -> None:
    sim.process.terminate()
    try:
        sim.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sim.process.kill()
        sim.process.wait()
    if sim.process.stdout is not None:
        sim.process.stdout.close()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., Sim]]:
    started: list[Sim] = []

    def factory(*args: str) -> Sim:
        sim = start_sim(*args)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        stop_sim(sim)


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    """One plain simulator (no latency, no faults) shared by a test module."""
    server = start_sim()
    yield server
    stop_sim(server)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def report(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def mtpipe_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTESCOPE_")}
    env["ROUTESCOPE_API_KEY"] = "sk-test-key"
    env.update(extra)
    return env


def mtpipe(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run ``python -m pipeline ARGS`` as a real process."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        env=mtpipe_env() if env is None else env,
        timeout=timeout,
        cwd=ROOT,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def corpus(name: str, n: int | None = None) -> list[dict[str, str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]
