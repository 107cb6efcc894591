"""Prompt templates: text with ``{name}`` variables, parsed once, rendered verbatim.

A template is text with ``{name}`` variables (identifiers, dots allowed:
``{meta.title}``); ``{{`` and ``}}`` are literal braces.  It is split once,
at parse time, into literal and variable parts, so rendering is a join that
inserts values verbatim: a text holding ``{braces}`` or ``%s`` comes out as
it went in.  ``{text}``, ``{source_lang}``, ``{target_lang}`` and
``{requirements}`` are built in; any other variable names a column of the
input row (``context``).  prompts.py turns a template into a request body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

__all__ = [
    "BUILTIN_VARIABLES",
    "Template",
    "check_template",
    "context_columns",
    "load_template",
    "parse_template",
    "require_text",
]

BUILTIN_VARIABLES = frozenset({"text", "source_lang", "target_lang", "requirements"})

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; build one with `parse_template` or `load_template`.

    ``parts`` alternates literal text and variable names, starting and
    ending with a literal: ``("Hi ", "name", "!")``.
    """

    text: str
    variables: frozenset[str]
    parts: tuple[str, ...] = field(default=(), repr=False, compare=False)
    origin: str = field(default="template", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parts:  # built directly, not by parse_template
            parsed = parse_template(self.text, origin=self.origin)
            object.__setattr__(self, "variables", parsed.variables)
            object.__setattr__(self, "parts", parsed.parts)

    def render(self, values: Mapping[str, str]) -> str:
        """Insert ``values`` verbatim; UsageError naming any variable without a value."""
        out = list(self.parts)
        try:
            out[1::2] = [values[name] for name in self.parts[1::2]]
        except KeyError:
            missing = ", ".join(f"{{{v}}}" for v in sorted(self.variables - values.keys()))
            raise UsageError(f"{self.origin}: no value for {missing}") from None
        return "".join(out)


def parse_template(text: str, *, origin: str = "template") -> Template:
    """Split ``text`` into literal and variable parts; UsageError on a malformed brace."""
    parts: list[str] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[pos : match.start()])
        pos = match.end()
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif name is None:
            raise UsageError(
                f"{origin}: unbalanced {token!r} at {_where(text, match.start())}; "
                f"write '{token * 2}' for a literal brace"
            )
        elif not all(piece.isidentifier() for piece in name.split(".")):
            raise UsageError(
                f"{origin}: {token!r} at {_where(text, match.start())} is not a "
                "variable name (letters, digits, _ and dots); "
                "write '{{' and '}}' for literal braces"
            )
        else:
            parts += ["".join(literal), name]
            literal = []
    parts.append("".join([*literal, text[pos:]]))
    return Template(text, frozenset(parts[1::2]), tuple(parts), origin)


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def load_template(path: Path) -> Template:
    """Read and parse a template file; it must contain ``{text}``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the template ({exc})") from exc
    template = parse_template(text, origin=str(path))
    require_text(template)
    return template


def require_text(template: Template) -> None:
    if "text" not in template.variables:
        raise UsageError(
            f"{template.origin}: the template has no {{text}} variable; "
            "put {text} where the source text goes"
        )


def context_columns(template: Template) -> frozenset[str]:
    """The variables that name input columns (everything but the built-ins)."""
    return template.variables - BUILTIN_VARIABLES


def check_template(template: Template, available: Iterable[str], *, origin: str) -> None:
    """UsageError when a variable is neither built in nor a column in ``available``."""
    columns = list(available)
    unknown = sorted(context_columns(template) - set(columns))
    if not unknown:
        return
    names = ", ".join(f"{{{v}}}" for v in unknown)
    if len(unknown) == 1:
        what = f"variable {names} is not a column"
    else:
        what = f"variables {names} are not columns"
    raise UsageError(
        f"{origin}: {what} of the input (columns: {', '.join(columns)}); "
        "use a column name or a built-in: {text}, {source_lang}, {target_lang}"
    )
