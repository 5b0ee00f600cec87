"""Atomic file writes: every file is written to a temporary name beside its target and renamed.

A killed run therefore leaves either the previous artifact or a `.<name>.tmp-*` file that nothing reads
(the next run of that stage removes it), never a half-written file under the final name. Local files
only: given an object-storage URI they raise (objects are written whole by pipelines.fs /
pipelines.partition). Used by both libraries, so it lives here, below them.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `path` (file or directory), else remove it."""
    path = _local(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            # Directories cannot be renamed over a non-empty target: move the old one aside first.
            old = tmp_name(path)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _local(path) -> Path:
    """`path` as a local Path; a clear error (not a local folder named "s3:") for object-storage paths."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if "://" in text and not text.startswith("file://"):
        raise ValueError(f"{text} is on object storage: common.io writes local files only "
                         f"(see docs/architecture.md, Object storage)")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_parquet(table: pa.Table, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)
