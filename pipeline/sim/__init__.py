"""The offline simulator of the Qwen MT Chat Completions API (a real HTTP server on loopback).

``server`` serves it (faults, stats), ``settings`` holds its ``SimConfig`` and
fault table, ``api`` parses and answers one request, ``limits`` keeps the
quota windows, ``answers`` draws the QA and pack faults of an answer over
``pseudo`` (the deterministic pseudo-translation) and ``packs``, and
``command`` is ``python -m pipeline.sim``.
Nothing in the pipeline imports this package; the CLI's ``--sim`` and
``serve-sim`` load it on demand.
"""

from __future__ import annotations

from .command import main, spawn
from .pseudo import corrupt, language_name, pseudo_translate
from .server import SimThread, make_app, serve
from .settings import SimConfig, parse_faults

__all__ = [
    "SimConfig",
    "SimThread",
    "corrupt",
    "language_name",
    "main",
    "make_app",
    "parse_faults",
    "pseudo_translate",
    "serve",
    "spawn",
]
