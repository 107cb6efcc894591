"""pyproject.toml: the license is an SPDX expression (the form setuptools >= 77 reads
without a deprecation warning), and the installed metadata carries it; Ray is an extra."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def test_the_license_is_an_spdx_string_and_reaches_the_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    license = project["project"]["license"]
    assert isinstance(license, str)  # not the {text = ...} / {file = ...} table
    assert canonicalize_license_expression(license) == license
    assert not [c for c in project["project"].get("classifiers", []) if c.startswith("License")]
    (backend,) = [Requirement(r) for r in project["build-system"]["requires"]]
    assert (
        backend.name == "setuptools"
        and backend.specifier.contains("77")
        and not (backend.specifier.contains("76.9"))
    )  # 77 is the first setuptools that takes the SPDX string
    metadata = importlib.metadata.metadata("mtpipe")
    assert metadata["License-Expression"] == license and metadata.get("License") is None


# a process in which Ray is not installed: importlib finds no spec for it
WITHOUT_RAY = """
import importlib.util, sys
found = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a, **k: (
    None if name.split(".")[0] == "ray" else found(name, *a, **k)
)
from pipeline.cli import main
sys.argv = ["mtpipe", *sys.argv[1:]]
sys.exit(main())
"""


def test_ray_is_an_extra_and_its_absence_is_one_line(tmp_path: Path) -> None:
    """Ray is only under the ``ray`` extra; without it ``--engine ray`` says what to
    install, in one line, exit 2, and writes nothing."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [r for r in project["dependencies"] if Requirement(r).name == "ray"]
    assert [Requirement(r).name for r in project["optional-dependencies"]["ray"]] == ["ray"]
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Hello\n", encoding="utf-8")
    argv = ["translate", str(source), "--to", "de", "--sim", "--engine", "ray"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_RAY, *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "mtpipe: error: --engine ray needs Ray: pip install 'mtpipe[ray]'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
