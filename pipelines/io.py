"""Readers of committed partition folders (local or s3://), and the atomic writers of common/io.py
(temp + rename, local only), re-exported for the curation code."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from common.io import atomic_path, write_bytes, write_parquet, write_text
from pipelines.fs import as_path, read_table

__all__ = ["atomic_path", "read_dropped", "read_parquet_dir", "write_bytes", "write_parquet", "write_text"]


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
