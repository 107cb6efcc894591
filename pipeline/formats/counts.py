"""What a plural category means to a translator: example counts from CLDR (babel)."""

from __future__ import annotations

import functools

__all__ = ["count_examples"]


@functools.cache
def count_examples(lang: str, category: str) -> str:
    """Counts of ``lang`` in ``category``, for a prompt's context: ru few ``2, 3, 4, 22``."""
    from babel import Locale

    rule = Locale.parse(lang.replace("-", "_")).plural_form
    found = [str(n) for n in range(0, 200) if rule(n) == category][:4]
    if not found and category != "other":
        return "0" if category == "zero" else ""
    return ", ".join(found) + (", ..." if len(found) == 4 else "") or "1.5"
