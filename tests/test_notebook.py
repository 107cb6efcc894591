"""translate_frame in a real Jupyter kernel: the progress bar is tqdm.auto's widget.

Needs the ``notebook`` extra (ipykernel, jupyter_client, ipywidgets); skipped without."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

CODE = """
import polars as pl
import pipeline
out = pipeline.translate_frame(
    pl.DataFrame({"text": [f"Line {i}" for i in range(30)]}), to="de", sim=True, cache=False
)
print("translated", out["text_de"].null_count(), out.height)
"""


def _run(code: str) -> list[dict[str, Any]]:
    """Execute ``code`` in a fresh kernel started in the project folder; its iopub messages."""
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        msg_id = client.execute(code)
        messages = []
        while True:
            msg = client.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return messages
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_notebook_gets_the_widget_bar_and_the_frame() -> None:
    messages = _run(CODE)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert errors == []
    widgets = [
        m for m in messages
        if m["msg_type"] == "display_data"
        and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
    ]  # fmt: skip
    assert widgets, [m["msg_type"] for m in messages]  # tqdm.auto drew its widget
    printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert "translated 0 30" in printed
