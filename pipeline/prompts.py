"""Prompt templates and request bodies: Settings + text -> the JSON body of one API call.

A template is text with ``{name}`` variables (identifiers, dots allowed:
``{meta.title}``); ``{{`` and ``}}`` are literal braces.  It is split once,
at parse time, into literal and variable parts, so rendering is a join that
inserts values verbatim: a text holding ``{braces}`` or ``%s`` comes out as
it went in.  ``{text}``, ``{source_lang}`` and ``{target_lang}`` are built
in; any other variable names a column of the input row (``context``).

    build_body(settings, text, "German")
      mt   + prompt   -> one user message rendered from the template
      mt   + options  -> one user message with the bare text + translation_options
      chat            -> system message + user message (+ enable_thinking: false)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .config import model_info
from .errors import UsageError
from .models import Settings
from .templates import (
    BUILTIN_VARIABLES,
    Template,
    check_template,
    context_columns,
    load_template,
    parse_template,
    require_text,
)

__all__ = [
    "BUILTIN_CHAT_SYSTEM",
    "BUILTIN_CHAT_SYSTEM_AUTO",
    "BUILTIN_MT",
    "BUILTIN_MT_AUTO",
    "BUILTIN_VARIABLES",
    "CONTEXT_NOTE",
    "PACK_RULE",
    "Template",
    "build_body",
    "check_template",
    "context_columns",
    "context_note",
    "load_template",
    "parse_template",
    "requirements",
]

_KEEP = "Keep placeholders, markup and line breaks exactly as they are."
BUILTIN_MT = (
    "Translate the following text from {source_lang} into {target_lang}. "
    f"{_KEEP} Reply with the translation only.{{requirements}}\n\n{{text}}"
)
BUILTIN_MT_AUTO = (
    f"Translate the following text into {{target_lang}}. {_KEEP} "
    "Reply with the translation only.{requirements}\n\n{text}"
)
BUILTIN_CHAT_SYSTEM = (
    "You are a professional translator. Translate the user's text from {source_lang} "
    f"into {{target_lang}}. {_KEEP} Reply with the translation only.{{requirements}}"
)
BUILTIN_CHAT_SYSTEM_AUTO = (
    "You are a professional translator. Translate the user's text into {target_lang}. "
    f"{_KEEP} Reply with the translation only.{{requirements}}"
)
# {requirements}: glossary terms, domain, example translations and the packing
# rule, as sentences (empty when there are none); a custom template that is
# given a glossary, memory or domain must place it.
# Without a template, a unit's context values (a catalog's msgctxt, comment, plural form)
# are this sentence, ahead of the requirements; never inside the text, so it is not translated.
CONTEXT_NOTE = " Context of the text, not to be translated: {note}."
PACK_RULE = " Each line starts with its number in brackets, [1], [2] ...: keep every number."

_NO_CONTEXT: Mapping[str, str] = MappingProxyType({})


# `{{`, `}}`, a `{...}` group without inner braces, or a lone brace (an error)
@functools.lru_cache(maxsize=64)
def _user_template(text: str) -> Template:
    template = parse_template(text, origin="settings.template")
    require_text(template)
    return template


_MT = parse_template(BUILTIN_MT, origin="BUILTIN_MT")
_MT_AUTO = parse_template(BUILTIN_MT_AUTO, origin="BUILTIN_MT_AUTO")
_CHAT = parse_template(BUILTIN_CHAT_SYSTEM, origin="BUILTIN_CHAT_SYSTEM")
_CHAT_AUTO = parse_template(BUILTIN_CHAT_SYSTEM_AUTO, origin="BUILTIN_CHAT_SYSTEM_AUTO")


def requirements(
    settings: Settings, terms: Sequence[tuple[str, str]] = (), *, packed: bool = False
) -> str:
    """Glossary terms, domain and example translations as sentences for a prompt."""
    out = []
    if terms:
        pairs = "; ".join(f"{source} -> {target}" for source, target in terms)
        out.append(f" Translate these terms exactly so: {pairs}.")
    if settings.domain:
        out.append(f" Domain and style: {settings.domain}")
    if settings.memory:
        pairs = "; ".join(f"{source!r} -> {target!r}" for source, target in settings.memory)
        out.append(f" Follow these example translations: {pairs}.")
    if packed:
        out.append(PACK_RULE)
    return "".join(out)


def _options(settings: Settings, terms: Sequence[tuple[str, str]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if terms:
        options["terms"] = [{"source": s, "target": t} for s, t in terms]
    if settings.memory:
        options["tm_list"] = [{"source": s, "target": t} for s, t in settings.memory]
    if settings.domain:
        options["domains"] = settings.domain
    return options


def build_body(
    settings: Settings,
    text: str,
    target_lang: str,
    context: Mapping[str, str] = _NO_CONTEXT,
    *,
    terms: Sequence[tuple[str, str]] = (),
    packed: bool = False,
    options_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Chat Completions body translating ``text`` into ``target_lang`` under ``settings``.

    ``terms`` are the glossary entries found in ``text``: ``translation_options.terms``
    in options style, a sentence of the instruction in prompt style.
    """
    if settings.style not in ("prompt", "options"):
        raise UsageError(f"unknown style {settings.style!r}; use 'prompt' or 'options'")
    note = "" if settings.template else context_note(context)
    values = {
        **context,
        "text": text,
        "source_lang": settings.source_lang,
        "target_lang": target_lang,
        "requirements": note + requirements(settings, terms, packed=packed),
    }
    custom = _user_template(settings.template) if settings.template else None
    if model_info(settings.model).family == "chat":
        part = _chat_messages(settings, text, values, custom)
    elif settings.style == "options":
        part = _options_messages(settings, text, target_lang, terms, options_extra, note)
    else:
        auto = settings.source_lang == "auto"
        user = (custom or (_MT_AUTO if auto else _MT)).render(values)
        part = {"messages": [{"role": "user", "content": user}]}
    body: dict[str, Any] = {"model": settings.model, **part}
    body.update(settings.params)
    body.update(settings.extra)
    if body.get("stream") and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
    return body


def context_note(context: Mapping[str, str]) -> str:
    """The built-in prompt's sentence for a unit's context values ("" without any): one line
    (the simulator and the model read the text after the instruction's first blank line)."""
    note = "; ".join(" ".join(v.split()) for v in context.values() if v.strip())
    return CONTEXT_NOTE.format(note=note) if note else ""


def _chat_messages(
    settings: Settings, text: str, values: Mapping[str, str], custom: Template | None
) -> dict[str, Any]:
    """A general chat model: the instruction as the system message, the text (or the
    user's template) as the user message, and thinking off where the model has it."""
    auto = settings.source_lang == "auto"
    system = (_CHAT_AUTO if auto else _CHAT).render(values)
    user = custom.render(values) if custom else text
    part: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
    }
    if model_info(settings.model).thinking:
        part["enable_thinking"] = False
    return part


def _options_messages(
    settings: Settings,
    text: str,
    target_lang: str,
    terms: Sequence[tuple[str, str]],
    options_extra: Mapping[str, Any] | None,
    note: str,
) -> dict[str, Any]:
    """A qwen-mt model in options style: the text alone, the rest in translation_options
    (a context note in ``domains``, the API's only free-text hint)."""
    options = {
        "source_lang": settings.source_lang,
        "target_lang": target_lang,
        **_options(settings, terms),
        **(options_extra or {}),
    }
    if note:
        domain = str(options.get("domains", "")).strip()
        options["domains"] = f"{domain}{'' if domain.endswith('.') else '.'}{note}".lstrip(". ")
    return {"messages": [{"role": "user", "content": text}], "translation_options": options}
