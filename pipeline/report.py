"""What a run tells its operator: the JSON report, the progress bar and the event log.

Text format: a tqdm bar on stderr when it is a terminal, and one summary
line at the end.  JSON format (``--log-format json``): one object per line
on stderr for ``start``, ``progress`` (every few seconds) and ``finish``,
for cron jobs and log collectors; never a bar.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .config import MODELS
from .config import cost_usd as priced
from .errors import OutputError
from .stats import Counted, Planned, Sent, Written

__all__ = ["Events", "Report", "estimate_figures", "write_report"]


@dataclass(frozen=True, slots=True)
class Report:
    """What one run did; written as JSON beside the output.  Built once, at the end."""

    input: str
    output: str
    model: str = ""
    rows: int = 0
    cells: int = 0
    blank_cells: int = 0
    units: int = 0
    translated: int = 0
    reused: int = 0
    cached: int = 0  # cells answered by the translation cache (0 tokens billed in this run)
    new: int = 0
    failed: int = 0
    to_translate: int = 0
    requests: int = 0
    deduplicated: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    wall_seconds: float = 0.0
    stopped: str | None = None  # "budget", "interrupted"
    not_sent: int = 0  # cells left unsent when the run stopped (not counted as new or failed)
    rejected: int = 0  # input lines skipped as bad (--skip-bad-lines)
    rejected_lines: list[int] = field(default_factory=list)  # their line numbers
    exit_code: int = 0
    packing: dict[str, dict[str, object]] = field(default_factory=dict)  # per language, --pack auto

    @classmethod
    def of(
        cls,
        where: tuple[str, str, str],
        counted: Counted,
        sent: Sent,
        written: Written,
        *,
        prices: tuple[float, float] | None = None,
        wall_seconds: float = 0.0,
        rejected_lines: Sequence[int] = (),
        packing: dict[str, dict[str, object]] | None = None,
    ) -> Report:
        """The report of a run (``where``: input, output, model) from its stages' counts;
        ``prices`` (USD per million tokens in, out) price its tokens, else the table's.

        Never-sent cells (the run stopped) are apart from the failed and new ones.  Exit
        code: 0 every cell translated; 130 interrupted (SIGINT or SIGTERM), after the
        output is written; 3 some cells failed or were not sent (budget)."""
        stopped = sent.stopped
        not_sent = written.failures[stopped] if stopped else 0
        failed = written.failed - not_sent
        exit_code = 0 if failed == not_sent == 0 else 3
        values = dict(zip(("input", "output", "model"), where, strict=True))
        return cls(
            **values | _fields(counted) | _fields(sent),
            translated=counted.cells - written.failed,
            new=counted.to_translate - not_sent,
            failed=failed,
            not_sent=not_sent,
            failures=written.failures,
            flags=written.flags,
            cost_usd=priced(where[2], sent.prompt_tokens, sent.completion_tokens, prices=prices),
            wall_seconds=wall_seconds,
            rejected=len(rejected_lines),
            rejected_lines=list(rejected_lines),
            exit_code=130 if stopped == "interrupted" else exit_code,
            packing=packing or {},
        )

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("retries", "failures", "flags"):
            data[name] = dict(getattr(self, name))
        data["cost_usd"] = round(self.cost_usd, 6)
        data["wall_seconds"] = round(self.wall_seconds, 3)
        return data

    def summary(self) -> str:
        stopped = f"; stopped: {self.stopped}" if self.stopped else ""
        cached = f"{self.cached} cached, " if self.cached else ""
        unsent = f", {self.not_sent} not sent ({self.stopped})" if self.not_sent else ""
        return (
            f"mtpipe: {self.translated}/{self.cells} cells translated "
            f"({self.reused} reused, {cached}{self.new} new, {self.failed} failed{unsent}) in "
            f"{self.requests} requests; {self.prompt_tokens}+{self.completion_tokens} tokens "
            f"billed (~${self.cost_usd:.4f}); {self.wall_seconds:.1f}s{stopped}"
            f"{self._skipped()} -> {self.output}"
        )

    def _skipped(self) -> str:
        """``; 2 bad lines skipped (lines 2, 5)``: the first ten line numbers."""
        if not self.rejected:
            return ""
        lines = ", ".join(map(str, self.rejected_lines[:10]))
        more = ", ..." if self.rejected > 10 else ""
        plural = "s" if self.rejected != 1 else ""
        return f"; {self.rejected} bad line{plural} skipped (line{plural} {lines}{more})"


def estimate_figures(
    counted: Counted, planned: Planned, *, model: str, prices: tuple[float, float] | None
) -> dict[str, object]:
    """What ``mtpipe estimate`` shows: the counts, the planned requests and tokens, and
    their cost at every model's prices (``model``'s at ``prices`` when given)."""
    prompt, completion = planned.prompt_tokens, planned.completion_tokens
    costs = {m: round(priced(m, prompt, completion), 6) for m in MODELS}
    return {
        "rows": counted.rows,
        "cells": counted.cells,
        "unique_cells": counted.units,
        "done_in_checkpoint": counted.reused,
        "in_cache": counted.cached,
        "to_translate": counted.to_translate,
        "requests": planned.requests,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": costs | {model: round(priced(model, prompt, completion, prices=prices), 6)},
        "model": model,
    }


def _fields(counts: Counted | Sent) -> dict[str, Any]:
    """A stage's counts by name: the report's fields of the same names."""
    return {f.name: getattr(counts, f.name) for f in dataclasses.fields(counts)}


def write_report(report: Report, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror})") from exc


class Events:
    """The operator's view of a run, as text or JSON lines on ``stream``."""

    def __init__(
        self,
        *,
        fmt: str = "text",
        bar: bool = True,
        stream: TextIO | None = None,
        notebook: bool = False,
        label: str | None = None,
    ):
        """``bar``: a progress bar when ``stream`` is a terminal, or always with ``notebook``
        (Jupyter, where tqdm.auto draws a widget).  ``label``: what the input and output
        are called in the lines shown, instead of their paths (translate_frame's are
        temporary files: "DataFrame")."""
        self.fmt = fmt
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0  # cells finished in this run, failed ones included
        self.failed = 0
        self._bar_wanted = bar and fmt == "text" and (notebook or self.stream.isatty())
        self._bar: Any = None
        self._started = time.monotonic()

    def _emit(self, event: str, **fields: Any) -> None:
        if self.fmt == "json":
            line = {"event": event, "time": round(time.time(), 3), **fields}
            print(json.dumps(line, ensure_ascii=False), file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """Something the operator should know before the run: a line, or a JSON event."""
        if self.fmt == "json":
            self._emit("warning", message=message)
        else:
            print(f"mtpipe: warning: {message}", file=self.stream, flush=True)

    def start(self, *, job: str, where: tuple[str, str, str], counted: Counted) -> None:
        """Before sending: ``where`` is the input, output and model."""
        if self.label is not None:
            where = (self.label, self.label, where[2])
        self._emit(
            "start",
            job=job,
            **dict(zip(("input", "output", "model"), where, strict=True)),
            rows=counted.rows,
            cells=counted.cells,
            reused=counted.reused,
            cached=counted.cached,
            to_translate=counted.to_translate,
            requests_saved_by_dedup=counted.deduplicated,
        )
        if self._bar_wanted and counted.to_translate:
            from tqdm.auto import tqdm  # a widget in Jupyter, text on a terminal

            self._bar = tqdm(
                total=counted.to_translate, unit="cell", file=self.stream, dynamic_ncols=True
            )

    def advance(self, cells: int, *, failed: bool) -> None:
        self.done += cells
        self.failed += cells if failed else 0
        if self._bar is not None:
            self._bar.update(cells)

    def progress(self, sent: Sent, *, total: int, **live: Any) -> None:
        """Called every few seconds: a JSON line, or the bar's postfix."""
        done = self.done
        if self._bar is not None:
            self._bar.set_postfix(
                failed=self.failed,
                tokens=sent.prompt_tokens + sent.completion_tokens,
                **live,
                refresh=False,
            )
        elapsed = time.monotonic() - self._started
        self._emit(
            "progress",
            done=done,
            total=total,
            failed=self.failed,
            requests=sent.requests,
            prompt_tokens=sent.prompt_tokens,
            completion_tokens=sent.completion_tokens,
            cells_per_second=round(done / elapsed, 2) if elapsed else 0.0,
            **live,
        )

    def finish(self, report: Report) -> None:
        if self.label is not None:
            report = dataclasses.replace(report, input=self.label, output=self.label)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.fmt == "json":
            self._emit("finish", **report.as_dict())
        else:
            print(report.summary(), file=self.stream)
