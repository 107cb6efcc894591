"""mtpipe: translate the text columns of large tables through Qwen MT models."""

from __future__ import annotations

__version__ = "0.1.0"
