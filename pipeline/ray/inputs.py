"""INPUT of ``--engine ray``: local paths or ``pyarrow.fs`` URIs, read on the workers.

    parts = input_parts("s3://lake/products/*.parquet")  # listed on the driver: names only
    ds = read(parts, "parquet", job)                     # lazy: the workers read the parts

INPUT is a file, a folder of part files or a glob, on the local filesystem or
under any URI ``pyarrow.fs.FileSystem.from_uri`` resolves (``file:///abs/dir``,
``s3://bucket/dir``, ...).  Parquet goes through Ray's reader; CSV/TSV/JSONL
through mtpipe's own readers in one read task per part file (a block per
file), so the driver lists the parts and never holds their rows.  A part under
a remote URI is copied to the worker's temporary folder before it is read.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.fs as pafs  # type: ignore[import-untyped]
import ray.data

from ..config import Job
from ..errors import InputError, UsageError
from ..formats import ReadOptions, source_for

__all__ = ["Parts", "as_uri", "input_parts", "read"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$", re.DOTALL)  # 2+ letters: not C:/
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Parts:
    """INPUT's part files, sorted: local paths, or paths on ``fs`` (INPUT was a URI)."""

    paths: tuple[str, ...]
    fs: Any = None  # a pyarrow FileSystem (picklable: shipped to the read tasks), or None

    @property
    def first(self) -> Path:
        """The first part as a path (its suffix names the format)."""
        return Path(self.paths[0])


def as_uri(given: str | Path) -> str | None:
    """``given`` as a URI if it names one (a Path folds ``file:///a`` to ``file:/a``), else None."""
    found = _SCHEME.match(str(given))
    if found is None:
        return None
    scheme, rest = found.groups()
    return f"{scheme}:///{rest}" if scheme.lower() == "file" else f"{scheme}://{rest}"


def input_parts(given: str | Path) -> Parts:
    """INPUT as files: the file, the folder's files (sorted, hidden ones left out) or the glob's."""
    uri = as_uri(given)
    if uri is None:
        parts = Parts(tuple(_local_parts(Path(given))))
    else:
        glob = _GLOB.search(uri)  # pyarrow parses no glob: resolve the folder above it
        cut = uri.rfind("/", 0, glob.start()) if glob else len(uri)
        fs, path = _resolved(uri[:cut])
        parts = Parts(tuple(_remote_parts(fs, path.rstrip("/") + uri[cut:])), fs)
    if not parts.paths:
        raise InputError(f"{given}: no input file there; pass a file, a folder of parts or a glob")
    return parts


def read(parts: Parts, fmt: str, job: Job) -> ray.data.Dataset:
    """The parts as a lazy Dataset, read by the workers: a block per file (Parquet: Ray's)."""
    if fmt == "parquet":
        return ray.data.read_parquet(list(parts.paths), filesystem=parts.fs)
    if fmt not in ("csv", "tsv", "jsonl"):
        raise UsageError(f"{parts.first}: --engine ray reads parquet, csv, tsv or jsonl")
    options = ReadOptions(
        columns=tuple(job.columns), delimiter=job.delimiter, encoding=job.encoding
    )
    names = [{"part": p} for p in parts.paths]
    return ray.data.from_items(names, override_num_blocks=len(names)).map_batches(
        partial(_read_parts, fmt=fmt, options=options, fs=parts.fs),
        batch_size=None,  # one block of names per call: a block per part file
        batch_format="pyarrow",
    )


def _read_parts(names: pa.Table, *, fmt: str, options: ReadOptions, fs: Any) -> pa.Table:
    """A read task on a worker: the part files named in ``names``, through mtpipe's reader."""
    source = source_for(Path("part"), fmt)
    tables = []
    for name in names.column("part").to_pylist():
        if fs is None:
            tables.append(source.read(Path(name), options).frame.to_arrow())
            continue
        with tempfile.TemporaryDirectory(prefix="mtpipe-part-") as folder:
            local = Path(folder) / PurePosixPath(name).name
            with fs.open_input_stream(name) as stream, local.open("wb") as out:
                shutil.copyfileobj(stream, out)
            tables.append(source.read(local, options).frame.to_arrow())
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _local_parts(given: Path) -> list[str]:
    text = str(given)
    if _GLOB.search(text):
        import glob

        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    elif given.is_dir():
        found = sorted(p for p in given.iterdir() if p.is_file() and p.name[0] not in "._")
    else:
        found = [given] if given.is_file() else []
    return [str(p) for p in found]


def _remote_parts(fs: Any, path: str) -> list[str]:
    """The files ``path`` names on ``fs``: itself, its folder's files or a glob's matches."""
    if _GLOB.search(path):
        pattern = path.rstrip("/")
        base = "/".join(pattern.split("/")[: _first_glob(pattern)])
        deep = pattern.count("/") - base.count("/") > 1  # a glob above the last segment
        infos = fs.get_file_info(pafs.FileSelector(base or "/", recursive=deep))
        return sorted(i.path for i in infos if i.is_file and _matches(i.path, pattern))
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.Directory:
        infos = fs.get_file_info(pafs.FileSelector(path))
        return sorted(i.path for i in infos if i.is_file and i.base_name[0] not in "._")
    return [path] if info.is_file else []


def _resolved(uri: str) -> tuple[Any, str]:
    """(filesystem, path) of ``uri``; a URI pyarrow cannot resolve is bad input."""
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(
            f"{uri}: cannot open it ({reason}); pass a local path or a URI pyarrow.fs resolves"
        ) from None
    return fs, str(path)


def _first_glob(pattern: str) -> int:
    """The index of the first path segment of ``pattern`` with a glob character."""
    return next(i for i, s in enumerate(pattern.split("/")) if _GLOB.search(s))


def _matches(path: str, pattern: str) -> bool:
    """``glob`` semantics: ``*`` stays within a segment and skips hidden names; ``**`` spans
    any number of segments."""
    if any(s[:1] == "." for s in path.split("/")) and "/." not in pattern:
        return False
    if "**" in pattern:
        return fnmatch.fnmatchcase(path.lstrip("/"), pattern.lstrip("/").replace("**/", "*"))
    got, want = path.strip("/").split("/"), pattern.strip("/").split("/")
    return len(got) == len(want) and all(map(fnmatch.fnmatchcase, got, want))
