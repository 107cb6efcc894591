"""The offline simulator of the Qwen MT Chat Completions API (a real HTTP server on loopback).

``server`` serves it (faults, quota windows, stats), ``api`` parses and answers
one request, ``pseudo`` is the deterministic pseudo-translation it answers with.
Nothing in the pipeline imports this package; the CLI's ``--sim`` and
``serve-sim`` load it on demand.
"""

from __future__ import annotations

from .pseudo import corrupt, language_name, pseudo_translate
from .server import SimConfig, SimThread, main, make_app, parse_faults, serve, spawn

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
