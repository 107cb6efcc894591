"""What a gettext catalog asks per target: one slot per entry, per plural form for a plural.

A slot's id is the msgid (``msgctxt\x04msgid`` with a context, as gettext
keys them), with ``#category`` for a plural form: the CLDR category (babel)
of the first count the target's gettext form is used for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from .po_file import Entry, PoCatalog
from .po_write import Forms

__all__ = [
    "Slot",
    "context",
    "current",
    "gettext_language",
    "placeholders",
    "plan",
    "stale",
    "text",
]

_C_FORMAT = re.compile(
    r"%(?:\d+\$)?[-#+ 0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGaAcsp]"
)
_PYTHON_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#+ 0]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")
_BRACE_FORMAT = re.compile(r"\{[^{}]*\}")


def gettext_language(lang: str) -> str:
    """``pt-BR`` -> ``pt_BR``, ``zh-Hant`` -> ``zh_Hant``: how gettext names a language."""
    try:
        return str(Locale.parse(lang, sep="-"))
    except (ValueError, UnknownLocaleError):
        return lang.replace("-", "_")


@dataclass(frozen=True, slots=True)
class Slot:
    """One message of the plan: an entry, and for a plural the ``msgstr[index]`` it fills."""

    id: str
    entry: Entry
    index: int | None
    category: str | None
    count: str


def plan(src: PoCatalog, lang: str, forms: Forms) -> list[Slot]:
    slots = []
    for entry in src.entries():
        base = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if not entry.plural:
            slots.append(Slot(base, entry, None, None, ""))
            continue
        categories = [_category(lang, examples) for examples in forms.examples]
        for index, examples in enumerate(forms.examples):
            category = categories[index]
            tag = category if categories.count(category) == 1 else str(index)
            count = ", ".join(map(str, examples)) + (", …" if len(examples) == 4 else "")
            slots.append(Slot(f"{base}#{tag}", entry, index, category, count))
    return slots


def _category(lang: str, examples: tuple[int, ...]) -> str:
    """The CLDR category of a form's first count (``other`` when babel has no rules)."""
    try:
        rule = Locale.parse(lang.replace("-", "_")).plural_form
    except (ValueError, UnknownLocaleError):
        return "other"
    return str(rule(examples[0])) if examples else "other"


def text(slot: Slot, forms: Forms) -> str:
    entry = slot.entry
    if slot.index is None:
        return entry.msgid
    singular = forms.count > 1 and 1 in forms.examples[slot.index]
    return entry.msgid if singular else entry.msgid_plural


def context(slot: Slot) -> dict[str, str]:
    entry = slot.entry
    context = {"key": entry.msgid}
    if entry.msgctxt is not None:
        context["msgctxt"] = entry.msgctxt
    if entry.comment:
        context["comment"] = entry.comment
    if entry.tcomment:
        context["note"] = entry.tcomment
    if entry.references:
        context["references"] = " ".join(entry.references)
    if flags := [flag for flag in entry.flags if flag != "fuzzy"]:
        context["flags"] = ", ".join(flags)
    if slot.category is not None:
        context |= {"plural": slot.category, "count": slot.count}
    return context


def placeholders(entry: Entry, text: str) -> tuple[str, ...]:
    """The format specifiers of ``text`` its flags declare (``%%`` and ``{{`` are literals)."""
    found: list[str] = []
    if "c-format" in entry.flags:
        found += _C_FORMAT.findall(text.replace("%%", "  "))
    if "python-format" in entry.flags:
        found += _PYTHON_FORMAT.findall(text.replace("%%", "  "))
    if "python-brace-format" in entry.flags:
        found += _BRACE_FORMAT.findall(text.replace("{{", "  ").replace("}}", "  "))
    return tuple(found)


def stale(have: Entry, entry: Entry) -> bool:
    """The target entry was translated from another source (msgid_plural changed)."""
    return have.plural != entry.plural or have.msgid_plural != entry.msgid_plural


def current(have: Entry | None, slot: Slot) -> str | None:
    if have is None or stale(have, slot.entry):
        return None
    at = slot.index or 0
    return have.msgstr[at] if at < len(have.msgstr) else None
