"""Catalogs in, catalogs out: a localization catalog through the run tables take.

    parse the source -> per target: read the existing target catalog, list its
    messages -> a table of cells (id, text, context columns) -> runner.run (the
    same checkpoint, cache, dedupe, packing, glossary, QA, budget, retries,
    report and exit codes as a table) -> Target(text, review=QA flagged)
    -> render -> write the target catalog atomically

One run per target language, since each language has its own messages (its
plural categories, its existing translations); they share the checkpoint, the
cache and the budget, and end in one report.  Every catalog is parsed, and
every existing target with it, before anything is sent or a checkpoint
created, so a bad catalog is refused (exit 2) leaving nothing behind.  A cell
that failed leaves its entry as it was (untranslated), listed in
``--failed-out``.  ``-o DIR`` is where the format's layout starts
(``layout_root``): ``locale/messages.pot -o out/`` writes ``out/de.po``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from . import runner
from .catalogframe import NOTE, TEXT, add_report, failed_of, frame_of, translations_of
from .config import Job, Language, cost_usd
from .errors import InputError, OutputError, UsageError
from .formats import write_frame
from .formats.catalog import Catalog, CatalogFormat, Message, layout_root
from .formats.files import atomic
from .formats.registry import catalog_for
from .report import Events, Report, write_report
from .stats import Counted

__all__ = ["estimate", "is_catalog", "run"]


@dataclass(frozen=True, slots=True)
class Target:
    """One target catalog: its language, where it goes, what it holds and what to send."""

    lang: Language
    path: Path
    existing: Catalog | None
    messages: tuple[Message, ...]

    @property
    def sent(self) -> list[Message]:
        return [m for m in self.messages if not m.keep]


def is_catalog(job: Job) -> bool:
    """True when ``job.input`` is a localization catalog, not a table."""
    return job.input.suffix != ".toml" and catalog_for(job.input, job.input_format) is not None


def run(job: Job, *, handle_signals: bool = False, events: Events | None = None) -> Report:
    """Translate the catalog ``job.input`` into a catalog per ``job.targets`` under
    ``job.output``; return the report of all of them (also written to ``job.report``).

    ``job`` is served already: ``endpoint.run`` (the library's and the command's) serves
    it and warns when its spend cannot be priced."""
    started = time.monotonic()
    events = events or Events(bar=job.progress)
    fmt, source, targets = _prepare(job)
    paths = dict.fromkeys(str(t.path) for t in targets)  # an Xcode catalog: one for all
    total = Report(str(job.input), ", ".join(paths), job.model)
    failed: list[pl.DataFrame] = []
    written: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="mtpipe-") as tmp:
        for i, target in enumerate(targets):
            base = _now(fmt, target, written)
            part = _part(job, target, total, Path(tmp) / str(i))
            translations: Mapping[str, Any] = {}
            if target.sent:
                part_report = runner.run(
                    part, handle_signals=handle_signals, events=_Part(target, events, job)
                )
                total = add_report(total, part_report)
                translations = translations_of(part.output, target.lang.code)
                failed.append(failed_of(part.failed_out, target.path))
            data = fmt.render(source, target.lang.code, base, translations)
            _write(target.path, data)
            written[target.path] = data
            if total.stopped == "interrupted":
                total = _not_reached(total, targets[i + 1 :], written)
                break
    total = _finish(total, job, started, failed)
    events.finish(total)
    _say_kept(sum(len(t.messages) - len(t.sent) for t in targets), events)
    return total


def _not_reached(total: Report, rest: Sequence[Target], written: Mapping[Path, bytes]) -> Report:
    """The report of a run interrupted before ``rest`` began: their messages counted as
    cells not sent (blank ones as blank, as a run counts them), and only the targets
    written named as its output."""
    texts = [m.text for t in rest for m in t.sent]
    blank = sum(1 for text in texts if not text or text.isspace())
    return dataclasses.replace(
        total,
        output=", ".join(str(path) for path in written),
        rows=total.rows + len(texts),
        cells=total.cells + len(texts) - blank,
        blank_cells=total.blank_cells + blank,
        not_sent=total.not_sent + len(texts) - blank,
    )


def _say_kept(kept: int, events: Events) -> None:
    """The line after the summary: human translations left as they were."""
    if kept and events.fmt == "text":
        print(
            f"mtpipe: {kept} messages the targets already translate were kept "
            "(--overwrite translates them again)",
            file=events.stream,
        )


def estimate(job: Job) -> dict[str, object]:
    """What translating the catalog would send, summed over its targets; no request."""
    _fmt, _source, targets = _prepare(job)
    figures: dict[str, Any] = dict.fromkeys(_FIGURES, 0)
    with tempfile.TemporaryDirectory(prefix="mtpipe-") as tmp:
        for i, target in enumerate(targets):
            figures["messages"] += len(target.messages)
            figures["kept"] += len(target.messages) - len(target.sent)
            if not target.sent:
                continue
            part = _part(job, target, Report("", ""), Path(tmp) / str(i))
            for name, value in runner.estimate(part).items():
                if isinstance(value, dict):
                    costs = figures.setdefault(name, {})
                    for model, usd in value.items():
                        costs[model] = round(costs.get(model, 0.0) + usd, 6)
                elif isinstance(value, int):
                    figures[name] = figures.get(name, 0) + value
    return figures | {"cost_usd": figures.get("cost_usd", {job.model: 0.0}), "model": job.model}


_FIGURES = [
    "messages",
    "kept",
    "rows",
    "cells",
    "unique_cells",
    "done_in_checkpoint",
    "in_cache",
    "to_translate",
    "requests",
    "prompt_tokens",
    "completion_tokens",
]


def _prepare(job: Job) -> tuple[CatalogFormat, Catalog, list[Target]]:
    """The format, the parsed source and every target, existing ones parsed: all checked
    before anything is sent."""
    fmt = catalog_for(job.input, job.input_format)
    if fmt is None:
        raise UsageError(f"{job.input}: not a localization catalog")
    if job.columns not in ((), (TEXT,)):
        raise UsageError(f"{job.input}: --column is for tables; a catalog's texts are its entries")
    if job.output.is_file() or (job.output.suffix in fmt.extensions and not job.output.is_dir()):
        raise UsageError(
            f"{job.output}: -o is a folder for catalogs (the targets go in its layout, "
            f"e.g. -o {job.output.parent}/)"
        )
    source = _parse(fmt, job.input)
    root = layout_root(fmt, job.input)
    targets = []
    for lang in job.targets:
        path = job.output / fmt.target_path(job.input, lang.code).relative_to(root)
        existing = _parse(fmt, path) if path.exists() else None
        found = fmt.messages(source, lang.code, existing, overwrite=job.overwrite)
        targets.append(Target(lang, path, existing, tuple(found)))
    return fmt, source, targets


def _parse(fmt: CatalogFormat, path: Path) -> Catalog:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the catalog ({exc.strerror})") from exc
    return fmt.parse(data, path)


def _now(fmt: CatalogFormat, target: Target, written: Mapping[Path, bytes]) -> Catalog | None:
    """What the target file holds now: what an earlier language wrote into it (an Xcode
    string catalog holds every language), else the existing target."""
    if target.path in written:
        return fmt.parse(written[target.path], target.path)
    return target.existing


def _part(job: Job, target: Target, total: Report, folder: Path) -> Job:
    """The run of one target: its messages as a Parquet table in ``folder``, one language,
    the catalog's checkpoint and cache, what is left of the budget; without a template,
    each message's ``context`` note is sent with it and keyed."""
    folder.mkdir(parents=True)
    table = folder / "messages.parquet"
    frame_of(target.sent).write_parquet(table)
    left = None if job.max_cost is None else max(job.max_cost - total.cost_usd, 0.0)
    return dataclasses.replace(
        job,
        input=table,
        output=folder / "translated.parquet",
        input_format="parquet",
        output_format="parquet",
        report=folder / "report.json",
        failed_out=folder / "failed.parquet",
        targets=(target.lang,),
        columns=(TEXT,),
        context=() if job.template is not None else (NOTE,),
        id_columns=("id",),
        layout="wide",
        max_cost=left,
        skip_bad_lines=False,
    )


class _Part(Events):
    """One target's events: its progress bar and start line (naming the catalogs, not the
    table in between); the finish line is the whole run's."""

    def __init__(self, target: Target, outer: Events, job: Job) -> None:
        super().__init__(fmt=outer.fmt, bar=job.progress, stream=outer.stream)
        self._names = (str(job.input), str(target.path))

    def start(self, *, job: str, where: tuple[str, str, str], counted: Counted) -> None:
        """The runner's start line, naming the source and target catalogs, not its table."""
        super().start(job=job, where=(*self._names, where[2]), counted=counted)

    def finish(self, report: Report) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _write(path: Path, data: bytes) -> None:
    """``data`` onto ``path`` all or nothing; an unchanged file is left alone."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create its folder ({exc.strerror})") from exc
    atomic(path, lambda tmp: tmp.write_bytes(data))


def _finish(total: Report, job: Job, started: float, failed: Sequence[pl.DataFrame]) -> Report:
    """The whole run's report (exit code, cost, wall time), written; ``--failed-out``."""
    interrupted = total.stopped == "interrupted"
    total = dataclasses.replace(
        total,
        wall_seconds=time.monotonic() - started,
        cost_usd=cost_usd(
            job.model, total.prompt_tokens, total.completion_tokens, prices=job.prices
        ),
        exit_code=130 if interrupted else 0 if total.failed == total.not_sent == 0 else 3,
    )
    write_report(total, job.report)
    if job.failed_out is not None:
        frames = [f for f in failed if f.height]
        every = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        write_frame(every, job.failed_out)
    return total
