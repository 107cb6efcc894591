"""``mtpipe translate INPUT --engine ray``: a file, a folder of part files or a glob, on Ray.

    connect (--ray-address) -> INPUT's parts as a lazy Dataset, read by the workers
    (inputs.py; local paths or pyarrow.fs URIs) -> translate_job -> write OUTPUT (a
    local path) to a temporary sibling -> rename

Parquet is written as a folder of part files, CSV/TSV/JSONL as one file with
the blocks in input order.  Nothing is at OUTPUT until the rename: a failed or
killed run leaves no partial output.  The result shards live in
``CHECKPOINT.ray/`` (default ``OUTPUT.checkpoint.ray``), so a re-run resumes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import ray
import ray.data

from ..config import Job
from ..errors import InputError, OutputError, PipelineError, UsageError
from ..formats import Table, sink_for
from ..formats.registry import format_for
from ..formats.table import WriteOptions
from ..report import Events, write_report
from .dataset import translate_job
from .inputs import as_uri, input_parts, read
from .reports import merged

__all__ = ["run_job", "state_dir"]

_PROBE_SECONDS = 2.0  # one TCP connect, or the GCS call, of the check before ray.init
_REACH_SECONDS = 10.0  # how long a HOST:PORT where nothing listens is tried again


def run_job(job: Job, *, key_file: str | None = None) -> int:
    """Run ``job`` on the cluster at ``job.ray_address``; the exit code of ``mtpipe``."""
    if as_uri(job.output) is not None:
        raise UsageError(f"{job.output}: --engine ray writes to a local path; pass -o PATH")
    parts = input_parts(as_uri(job.input) or job.input)
    fmt = format_for(parts.first, job.input_format).name
    out_fmt = format_for(job.output, job.output_format).name
    if out_fmt not in ("parquet", "csv", "tsv", "jsonl"):
        raise UsageError(f"{job.output}: --engine ray writes parquet, csv, tsv or jsonl")
    _check_output(job.output)
    started, blocks = time.monotonic(), state_dir(job) / "reports" / uuid.uuid4().hex
    try:
        with _connected(job.ray_address):
            ray.data.DataContext.get_current().execution_options.preserve_order = True
            ds = read(parts, fmt, job)
            state, actors = state_dir(job), job.actors
            out = translate_job(
                ds, job, state=state, actors=actors, key_file=key_file, reports=blocks
            )
            try:
                _write(out, job, out_fmt)
            except ray.exceptions.RayError as exc:  # a worker's PipelineError, wrapped by Ray
                raise _cause(exc) from None
        report = merged(blocks, job, wall_seconds=time.monotonic() - started)
    finally:
        shutil.rmtree(blocks, ignore_errors=True)
    write_report(report, job.report)
    Events(fmt=job.log_format, bar=False).finish(report)  # the local engine's summary line
    return report.exit_code


def state_dir(job: Job) -> Path:
    """The folder of the run's result shards, beside the checkpoint path."""
    return job.checkpoint.with_suffix(".ray")


@contextlib.contextmanager
def _connected(address: str | None) -> Iterator[None]:
    """This process as the driver of the cluster at ``address`` (None: Ray's default, a
    local instance or $RAY_ADDRESS).  A cluster on loopback is joined on its own address."""
    host = address.rsplit(":", 1)[0] if address and address != "auto" else ""
    kwargs: dict[str, Any] = {"_node_ip_address": host} if host.startswith("127.") else {}
    kwargs |= {"logging_level": logging.ERROR, "log_to_driver": False}
    with tempfile.TemporaryFile() as said:
        try:
            with _stderr_to(said):  # Ray's C++ client logs each refused retry there
                _check_cluster(address)
                ray.init(address=address, **kwargs)
        except (OSError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
            said.seek(0)
            raise _connect_error(
                address, f"{exc}\n{said.read().decode(errors='replace')}"
            ) from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_cluster(address: str | None) -> None:
    """Fail in seconds where ``ray.init`` would retry for long: an explicit HOST:PORT
    where nothing listens (ray.init waited over ten minutes) is retried for
    ``_REACH_SECONDS``, then its OSError is the run's one line; a cluster that refuses
    this driver's token (ray.init retries ~20 s, a connect a second) is named by one
    call of Ray's own GCS client, what ``ray.init`` connects with.  ``auto``, Ray's
    default, a ``ray://`` address and a Ray without that client are left to ``ray.init``.
    """
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit() or "://" in host:  # ray://: Ray Client, its own way
        return
    _wait_listening(host, int(port))
    standalone = getattr(getattr(ray._raylet, "InnerGcsClient", None), "standalone", None)
    if standalone is None:
        return
    refused = getattr(ray.exceptions, "AuthenticationError", ())  # Ray >= 2.52's
    try:
        standalone(address, None, int(_PROBE_SECONDS * 1000))
    except refused as exc:
        raise _connect_error(address, f"unauthenticated: {exc}") from None
    except ray.exceptions.RayError:
        return


def _wait_listening(host: str, port: int) -> None:
    """Return once ``host:port`` takes a TCP connection; its OSError after _REACH_SECONDS."""
    deadline = time.monotonic() + _REACH_SECONDS
    while True:
        try:
            socket.create_connection((host, port), timeout=_PROBE_SECONDS).close()
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.5)


def _cause(exc: BaseException) -> BaseException:
    """The first PipelineError in ``exc``'s chain of causes (Ray's ``cause``), else ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PipelineError):
            return seen
        seen = getattr(seen, "cause", None) or seen.__cause__
    return exc


@contextlib.contextmanager
def _stderr_to(file: IO[bytes]) -> Iterator[None]:
    """File descriptor 2 (where native code writes too) into ``file`` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _connect_error(address: str | None, said: str) -> UsageError:
    """One line for a failed ``ray.init``; its log says whether the token was refused."""
    text = said.lower()
    where = address or "the default address"
    if "unauthenticated" in text or "invalidauthtoken" in text:
        return UsageError(
            f"the Ray cluster at {where} refused this driver's credentials: set RAY_AUTH_TOKEN "
            "(and RAY_AUTH_MODE=token) to the cluster's token"
        )
    first = said.strip().splitlines()[0] if said.strip() else "no reason given"
    return UsageError(
        f"cannot connect to the Ray cluster at {where} ({first[:200]}); check --ray-address"
    )


def _check_output(output: Path) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"{output}: folder {output.parent} is not writable; pass another -o")


def _write(ds: ray.data.Dataset, job: Job, fmt: str) -> tuple[int, int]:
    """Write ``ds`` to a temporary sibling of the output, then rename it into place.

    Returns (rows with an mt_error, rows)."""
    tmp = job.output.with_name(f".{job.output.name}.tmp-{uuid.uuid4().hex[:8]}")
    failed = rows = 0
    try:
        if fmt == "parquet":
            ds = ds.materialize()
            ds.write_parquet(str(tmp))
            errors = ds.select_columns(["mt_error"]).iter_batches(
                batch_size=None, batch_format="pyarrow"
            )
            for batch in errors:
                assert isinstance(batch, pa.Table)
                rows += batch.num_rows
                failed += batch.num_rows - batch.column("mt_error").null_count
        else:
            failed, rows = _write_lines(ds, job, fmt, tmp)
        _replace(tmp, job.output)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return failed, rows


def _write_lines(ds: ray.data.Dataset, job: Job, fmt: str, tmp: Path) -> tuple[int, int]:
    """CSV/TSV/JSONL: the blocks in order through mtpipe's own writer (formulas defused)."""
    sink = sink_for(job.output, fmt)
    added = tuple(f"{c}_{lang.code}" for c in job.columns for lang in job.targets)
    options = WriteOptions(escape_formulas=job.escape_formulas, escape_columns=added)
    failed = rows = 0
    writer = None
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            table = Table(job.output, "parquet", frame)
            if writer is None:
                writer = sink.open(tmp, like=table, options=options)
            writer.write(table, pl.DataFrame())
            rows += frame.height
            failed += frame.height - frame["mt_error"].null_count()
        if writer is None:
            raise InputError(f"{job.input}: no rows to translate")
        writer.finish()
    finally:
        if writer is not None:
            writer.close()
    return failed, rows


def _replace(tmp: Path, output: Path) -> None:
    """``tmp`` at ``output``: one rename for a file; a folder replaces the old one whole."""
    if not output.is_dir():
        tmp.replace(output)
        return
    old = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:8]}")
    output.rename(old)
    tmp.rename(output)
    shutil.rmtree(old, ignore_errors=True)
