"""pyproject.toml: the license is an SPDX expression (the form setuptools >= 77 reads
without a deprecation warning), and the installed metadata carries it."""

from __future__ import annotations

import importlib.metadata
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
