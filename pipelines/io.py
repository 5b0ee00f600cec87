"""Atomic artifact writes: every file is written to a temporary name beside its target and renamed.

A killed run therefore leaves either the previous artifact or a `*.tmp-*` file that nothing reads,
never a half-written file under the final name. These writers are local only: given an s3:// path they
raise (objects are written through pipelines.fs / pipelines.partition instead). The readers of
partition folders below also take s3:// paths.
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

from pipelines.fs import as_path, is_remote, read_table


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `path` (file or directory), else remove it."""
    path = _local(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            # Directories cannot be renamed over a non-empty target: move the old one aside first.
            old = _tmp_name(path)
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
    if is_remote(path):
        raise ValueError(f"{path} is on object storage: pipelines.io writes local files only "
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


def _parts(directory: Path) -> list[Path]:
    """A manifest-committed partition's files (pipelines.partition), else the folder's part-* files."""
    from pipelines.partition import committed_files

    return committed_files(directory) or sorted(directory.glob("part-*.parquet"))


def _read(path, columns: list[str] | None = None) -> pa.Table:
    return read_table(path, columns=columns)


def read_parquet_dir(directory: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Read every Parquet file of a committed partition (or a folder's part-* files), in order."""
    directory = as_path(directory)
    parts = _parts(directory)
    if not parts:
        raise FileNotFoundError(f"no Parquet shards under {directory}: materialize the upstream asset first")
    return pa.concat_tables([_read(p, columns) for p in parts])


def read_dropped(directory: str | os.PathLike) -> pa.Table:
    """The dropped rows of a committed partition (or of every partition below `directory`), in order."""
    from pipelines.document import DROPPED_SCHEMA
    from pipelines.partition import committed_files

    files = committed_files(directory, "dropped")
    return pa.concat_tables([_read(p) for p in files]) if files else DROPPED_SCHEMA.empty_table()
