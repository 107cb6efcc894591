"""The options table as command-line flags, and the flags given back as job values.

Every entry of ``optiontable.OPTIONS`` is one flag with the job key's name
(``--chunk-chars`` for ``chunk_chars``); what the user gave comes back coerced
by the same rules a job file's values go through, so the two entry points
cannot drift.
"""

from __future__ import annotations

import argparse
from typing import Any

from .errors import UsageError
from .optiontable import OPTIONS, Option, coerce

__all__ = ["add_options", "given_values"]


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """One entry of the options table as a command-line flag (same name as the job key)."""
    if option.key == "input":
        parser.add_argument("input", help=option.help)
        return
    flags = [f for f in (option.short, option.cli_flag) if f]
    if option.key == "input_format":
        flags.append("--input-format")  # the name catalogs' docs use; --format is the same
    common: dict[str, Any] = {"dest": option.key, "help": option.help, "default": None}
    if option.kind == "bool":
        action = "store_false" if option.default else "store_true"
        parser.add_argument(*flags, action=action, **common)
    elif option.key in ("columns", "id_columns"):  # repeatable
        parser.add_argument(*flags, action="append", **common)
    else:
        kind = {"int": int, "float": float}.get(option.kind, str)
        metavar = {"int": "N", "float": "X", "path": "PATH", "list": "LIST"}.get(option.kind)
        if option.choices:
            metavar = "|".join(option.choices)
        parser.add_argument(*flags, type=kind, metavar=metavar or "VALUE", **common)
    if option.off:
        parser.add_argument(
            option.off, dest=option.key, action="store_const", const=False, help=option.off_help
        )


class _RefuseKey(argparse.Action):
    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(
            "the API key is never taken on the command line (it would show in ps and shell "
            "history): export ROUTESCOPE_API_KEY=... or pass --api-key-file FILE"
        )


def add_options(parser: argparse.ArgumentParser) -> None:
    """Every option of a run, as flags; ``--api-key`` is refused without echoing it."""
    for option in OPTIONS:
        _add_option(parser, option)
    parser.add_argument("--api-key", action=_RefuseKey, help=argparse.SUPPRESS)


def given_values(args: argparse.Namespace) -> dict[str, Any]:
    """Values of the options given on the command line, coerced like a job file's."""
    given = {o: getattr(args, o.key) for o in OPTIONS if getattr(args, o.key) is not None}
    return {o.key: coerce(o, v, origin=o.cli_flag) for o, v in given.items()}
