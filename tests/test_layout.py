"""The architecture holds: imports point down the layers; every option is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"

LAYERS = {
    "errors": 0,
    "models": 0,
    "sqlitedb": 0,  # open a SQLite file in WAL mode, also while another process opens it
    "processes": 0,  # whether a pid of this host still runs (slots, temporaries)
    "placeholders": 0,  # the one placeholder grammar: qa and sim/pseudo import it
    "config": 1,
    "prompts": 2,
    "templates": 1,  # prompt templates: {name} variables, parsed once, rendered verbatim
    "client": 3,  # over pacing (2), which is over the quota seam (1)
    "transport": 1,  # the transport seam and its one implementation (aiohttp)
    "retries": 1,  # the retry policy as tenacity values; what one request's attempts came to
    "checkpoint": 2,
    "store": 1,  # the ResultStore seam and its writer task
    "runlock": 1,  # the run lock, separate from the store
    "summary": 1,  # what mtpipe status shows of a checkpoint
    "cache": 2,  # the translation cache: a second ResultStore shared across outputs and jobs
    "cells": 2,
    "merge": 2,
    "splitter": 2,
    "quota": 1,  # the QuotaStore seam (a package): shared state, its rules, the in-process store
    "quotafile": 2,  # the flock-file QuotaStore and the one place its path is chosen
    "pacing": 2,
    "packsize": 1,  # per-language pack size learnt from the answers (--pack auto)
    "align": 1,  # a pack answer -> one translation per segment, or None where not certain
    "replies": 1,  # what an error reply means
    "answers": 2,  # a 200's body or stream -> Completion (over replies)
    "glossary": 2,
    "optiontable": 2,  # the options table: every flag and job-file key, checked one way
    "options": 3,  # job files, --set and build_job: given values -> a resolved Job
    "stats": 1,  # the stages' counts (Counted, Sent, Written): frozen values that add
    "keying": 4,  # the key stage: table -> cells keyed with their settings and terms
    "pending": 4,  # what is left to send: the plan asked of the store and the cache
    "specs": 3,  # what each stage reads (read, translate, send, limits, stores, write, ui)
    "report": 2,
    "review": 4,
    "output": 4,
    "budget": 2,
    "qa": 2,
    "planner": 3,
    "flags": 3,  # the options table as argparse flags, and the given flags as values
    "worker": 4,
    "translate": 5,  # requests -> results: client, pacing, budget, review, resends
    "runner": 6,
    "endpoint": 8,  # run(job): a table or a catalog, against the simulator when job.sim
    "catalogframe": 3,  # a catalog target's messages as cells, the run's output as Targets
    "catalogs": 7,  # a localization catalog through the runner, a run per target language
    "frame": 9,  # translate_frame: a DataFrame through the same run, for notebooks
    "cli": 10,  # over ray (--engine ray), imported only when asked for
    "ray": 9,  # the Ray engine (the ray extra): translate_dataset over the per-block path
    "__main__": 11,
    "formats": 2,  # file formats: tables and localization catalogs (catalog.py: the contract)
    "sim": 5,  # the simulator package (server, api, pseudo): nothing below imports it
    "__init__": 11,  # the public facade: exports from every layer, imported on first use
}


# Subpackages: each module of one, and the layer of the package as a whole.
SUBPACKAGES = {
    "ray": {"__init__", "dataset", "engine", "inputs", "owners", "quota", "reports"},
    "quota": {"__init__", "values", "rules", "holders", "memory"},
    "sim": {
        "__init__",
        "__main__",
        "server",
        "settings",
        "command",
        "api",
        "limits",
        "answers",
        "pseudo",
        "packs",
    },
    "formats": {
        "__init__",
        "catalog",
        "table",
        "files",
        "registry",
        "csv",
        "parquet",
        "jsonl",
        "xlsx",
        "counts",
        "icu",
        "jsontext",
        "jsontree",
        "jsonmsg",
        "jsoncatalog",
        "jsonwrite",
        "i18next",
        "arb",
        "apple",
        "xcstrings",
        "po",
        "po_file",
        "po_lex",
        "po_write",
        "po_check",
        "po_plan",
        "stringsdict",
        "stringsdictdoc",
        "xmltext",
        "xliff",
        "xliffdoc",
        "android",
        "androiddoc",
        "androidtext",
    },
}


def _layer_name(path: Path) -> str:
    """``pipeline/x.py`` -> ``x``; ``pipeline/sim/server.py`` -> ``sim`` (its package's layer)."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def _internal_imports(path: Path) -> set[str]:
    """The top-level modules and packages of ``pipeline`` that ``path`` imports."""
    depth = len(path.relative_to(PACKAGE).parts)  # 1 for pipeline/x.py, 2 for pipeline/sim/x.py
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == depth:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
    }
    assert top == set(LAYERS), top ^ set(LAYERS)
    for package, listed in SUBPACKAGES.items():
        found = {p.stem for p in (PACKAGE / package).glob("*.py")}
        assert found == listed, found ^ listed


def test_imports_point_down() -> None:
    for path in _modules():
        name_of_path = _layer_name(path)
        layer = LAYERS[name_of_path]
        for name in _internal_imports(path) - {name_of_path}:
            if (name_of_path, name) == ("errors", "models"):
                continue  # a TYPE_CHECKING-only import, for annotations
            assert LAYERS[name] < layer, (
                f"{path.relative_to(ROOT)} (L{layer}) imports {name} (L{LAYERS[name]})"
            )


def test_every_command_and_option_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert f"mtpipe {name}" in readme, f"command {name} is not in the README"
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert re.search(re.escape(flag) + r"\b", readme), f"{name} {flag} undocumented"


def test_the_public_api_resolves() -> None:
    import pipeline

    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None, name
