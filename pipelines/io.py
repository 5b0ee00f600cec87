"""Atomic artifact writes: every file is written to a temporary name beside its target and renamed.

A killed run therefore leaves either the previous artifact or a `*.tmp-*` file that nothing reads,
never a half-written file under the final name.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `path` (file or directory), else remove it."""
    path = Path(path)
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


class ShardedParquetWriter:
    """Stream rows into numbered Parquet shards `part-00000.parquet`, ... inside a directory.

    The whole directory is built under a temporary name and renamed in `close()`, so a partition's
    output appears complete or not at all. Memory holds at most `rows_per_shard` rows.
    """

    def __init__(self, directory: str | os.PathLike, schema: pa.Schema, rows_per_shard: int = 20_000):
        self.directory = Path(directory)
        self.schema = schema
        self.rows_per_shard = rows_per_shard
        self._ctx = atomic_path(self.directory)
        self._tmp = self._ctx.__enter__()
        self._tmp.mkdir(parents=True)
        self._buffer: list[dict] = []
        self.shards = 0
        self.rows = 0

    def write(self, row: dict) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self.rows_per_shard:
            self._flush()

    def write_many(self, rows: Iterable[dict]) -> None:
        for r in rows:
            self.write(r)

    def _flush(self) -> None:
        if not self._buffer and self.shards > 0:
            return
        table = pa.Table.from_pylist(self._buffer, schema=self.schema)
        pq.write_table(table, self._tmp / f"part-{self.shards:05d}.parquet", compression="zstd")
        self.rows += len(self._buffer)
        self.shards += 1
        self._buffer = []

    def close(self) -> Path:
        """Write the last shard (an empty one if nothing was written, so readers see the schema)."""
        if self._buffer or self.shards == 0:
            self._flush()
        self._ctx.__exit__(None, None, None)
        return self.directory

    def abort(self) -> None:
        self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "ShardedParquetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _parts(directory: Path) -> list[Path]:
    """A manifest-committed partition's files (pipelines.partition), else the folder's part-* files."""
    from pipelines.partition import committed_files

    return committed_files(directory) or sorted(directory.glob("part-*.parquet"))


def read_parquet_dir(directory: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Read every `part-*.parquet` of a directory written by ShardedParquetWriter, in order."""
    directory = Path(directory)
    parts = _parts(directory)
    if not parts:
        raise FileNotFoundError(f"no Parquet shards under {directory}: materialize the upstream asset first")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_dropped(directory: str | os.PathLike) -> pa.Table:
    """The dropped rows of a committed partition (or of every partition below `directory`), in order."""
    from pipelines.document import DROPPED_SCHEMA
    from pipelines.partition import committed_files

    files = committed_files(directory, "dropped")
    return pa.concat_tables([pq.read_table(p) for p in files]) if files else DROPPED_SCHEMA.empty_table()


def iter_parquet_dir(directory: str | os.PathLike, columns: list[str] | None = None,
                     batch_size: int = 5_000) -> Iterator[pa.RecordBatch]:
    """Stream record batches of a shard directory (memory bounded by batch_size)."""
    directory = Path(directory)
    parts = _parts(directory)
    if not parts:
        raise FileNotFoundError(f"no Parquet shards under {directory}: materialize the upstream asset first")
    for p in parts:
        yield from pq.ParquetFile(p).iter_batches(batch_size=batch_size, columns=columns)
