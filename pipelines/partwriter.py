"""One output file of a partition, streamed to Parquet and named by its content when closed.

A file's name carries the first 12 hex digits of its SHA-256 (`part-<key>-<sha12>.parquet`), so a name
is never written with other bytes (pipelines/partition.py says why). Locally the file is written under
a temporary name beside its target and renamed; for object storage it is built in the local scratch
folder and uploaded once under its final name.
"""
from __future__ import annotations

import contextlib
import os

import pyarrow as pa
import pyarrow.parquet as pq

from common.io import tmp_name as _tmp
from pipelines.fs import RemotePath, as_path, file_sha256, scratch_dir, upload
from pipelines.integrity import same_bytes as _same_bytes

ROW_GROUP = 5_000


class PartWriter:
    """Stream rows of one output into Parquet; `close()` names the file by its content and returns
    (file name, sha256, rows). Memory: one row group."""

    def __init__(self, directory: str | os.PathLike | RemotePath, key: str, schema: pa.Schema):
        self.directory, self.key, self.schema = as_path(directory), key, schema
        self.directory.mkdir(parents=True, exist_ok=True)
        # Remote: the file is built locally (its name needs its hash), then uploaded under that name.
        local = scratch_dir() if isinstance(self.directory, RemotePath) else self.directory
        self.tmp = _tmp(local / f"part-{key}.parquet")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.buffer: list[dict] = []
        self.rows = 0

    def write(self, row: dict) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= ROW_GROUP:
            self._flush()

    def write_table(self, table: pa.Table) -> None:
        self._flush()
        if table.num_rows:
            self.writer.write_table(table.select(self.schema.names).cast(self.schema), row_group_size=ROW_GROUP)
            self.rows += table.num_rows

    def _flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema), row_group_size=ROW_GROUP)
            self.rows += len(self.buffer)
            self.buffer = []

    def close(self) -> tuple[str, str, int]:
        try:
            return self._close()
        except BaseException:
            self.abort()         # a failed upload or write leaves no temporary behind
            raise

    def _close(self) -> tuple[str, str, int]:
        self._flush()
        if self.rows == 0:  # an empty file still carries the schema for readers
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        sha = file_sha256(self.tmp)
        name = f"part-{self.key}-{sha[:12]}.parquet"
        final = self.directory / name
        if final.exists() and _same_bytes(final, sha):
            self.tmp.unlink()  # the same bytes are already there (a tampered file of that name is replaced)
        elif isinstance(final, RemotePath):
            try:
                upload(self.tmp, final)
            finally:
                self.tmp.unlink()
        else:
            os.replace(self.tmp, final)
        return name, sha, self.rows

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
