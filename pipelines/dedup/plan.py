"""What every task of the dedup stage needs to know: a small picklable description of one run.

The run works in `work/` (on a file system every worker sees):

    work/scatter/{exact,bands,lines,sample}-<task>.parquet   step 1 output, row groups by key bucket
    work/bucket-<b>/{pairs,bookpairs}.parquet   candidate pairs found in one bucket
    work/docs/docs-<task>.parquet          per document: index, id, MinHash signature, shingle counts
    work/<step>-fetch/{s,r}-<task>.parquet shingle sets / rank columns of candidate documents
    work/decisions/t-<task>/<kind>-<tag>.parquet   drops / dups / lines of one task's input files
    work/dropped/<tag>.parquet             indices of documents dropped so far (for anti-joins)
    work/duckdb-<tag>/                     DuckDB spill space

Documents are numbered globally: reference files (earlier dumps) first, then the inputs, each file's
rows in order; so "earlier in document order" means an earlier dump, file or row.

Tasks are not files: the per-file steps (scatter, fetch, apply) run one task per run of consecutive
files (`Plan.tasks`, cut by group_files), so a dump of 80,000 tiny files is a few hundred tasks and its
scratch grows with them, not with the files. A task never mixes reference and input files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.minhash import MinHashParams
from pipelines.fs import parquet_file


@dataclass(frozen=True)
class BookParams:
    """Containment search for books: a shingle index over a 1/`sample` hash sample of each book."""

    ngram: int = 13             # word n-grams, as MinHash
    threshold: float = 0.9      # drop the shorter book when this share of its shingles is in the longer
    sample: int = 8             # index the shingles whose hash is 0 mod `sample`
    candidate: float = 0.5      # verify pairs sharing at least this share of the shorter one's sample
    max_df: int = 50            # ignore sampled shingles in more books (licence headers, front matter)


@dataclass(frozen=True)
class Plan:
    work: str
    source: str
    files: tuple[str, ...]          # reference files, then input files
    offsets: tuple[int, ...]        # first document of each file; offsets[-1] = documents in all
    n_ref_files: int
    buckets: int
    exact: bool = True
    clean_code: bool = False        # GitHub: hash the text without its licence header
    minhash: MinHashParams | None = None
    line: bool = False
    books: BookParams | None = None
    memory_limit: str = "1GB"       # per DuckDB connection (one per task); it spills beyond
    tasks: tuple[int, ...] = ()     # first file of each task, then len(files); () = one task per file

    @property
    def n_ref(self) -> int:
        """Documents of the reference files: indices below this are never dropped."""
        return self.offsets[self.n_ref_files]

    def path(self, *parts: str) -> Path:
        return Path(self.work).joinpath(*parts)

    def bucket_dirs(self) -> list[Path]:
        return [self.path(f"bucket-{b:05d}") for b in range(self.buckets)]

    def file_of(self, docs: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.offsets), docs, side="right") - 1

    @property
    def task_starts(self) -> tuple[int, ...]:
        return self.tasks or tuple(range(len(self.files) + 1))

    @property
    def n_tasks(self) -> int:
        return len(self.task_starts) - 1

    def task_files(self, task: int) -> range:
        """The input files (indices into `files`) of one task, in document order."""
        return range(self.task_starts[task], self.task_starts[task + 1])

    def task_of(self, files) -> np.ndarray:
        return np.searchsorted(np.asarray(self.task_starts), np.asarray(files), side="right") - 1

    def input_tasks(self) -> list[int]:
        """The tasks made of input files (the others hold reference files, which are never rewritten)."""
        return [t for t in range(self.n_tasks) if self.task_starts[t] >= self.n_ref_files]

    def connect(self, tag: str) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection bounded in memory that spills to work/duckdb-<tag>/."""
        tmp = self.path(f"duckdb-{tag}")
        tmp.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
        con.execute(f"SET temp_directory = '{tmp}'")
        con.execute("SET threads TO 1")
        con.execute("SET preserve_insertion_order = false")
        return con


def group_files(rows: list[int], nbytes: list[int], n_ref_files: int, max_rows: int, max_bytes: int,
                max_files: int) -> tuple[int, ...]:
    """Plan.tasks: consecutive files, in order, while a task stays within `max_rows` documents,
    `max_bytes` of Parquet data and `max_files` files; a file over a limit is a task alone, and the
    reference files never share a task with the inputs. O(files), from sizes in the Parquet footers."""
    starts: list[int] = []
    n_rows = n_bytes = n_files = 0
    for i, (r, b) in enumerate(zip(rows, nbytes)):
        if not starts or i == n_ref_files or n_files >= max_files or n_rows + r > max_rows or \
                n_bytes + b > max_bytes:
            starts.append(i)
            n_rows = n_bytes = n_files = 0
        n_rows, n_bytes, n_files = n_rows + r, n_bytes + b, n_files + 1
    return tuple(starts) + (len(rows),)


def bucket_of(keys: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket of 64-bit keys (hashes: their high half is uniform)."""
    return ((keys.view(np.uint64) >> np.uint64(32)) % np.uint64(buckets)).astype(np.int64)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Intermediate files: written once by one task under a unique name, read after the task ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="none")
    os.replace(tmp, path)


def write_buckets(table: pa.Table, key: np.ndarray, buckets: int, path: Path) -> None:
    """Rows of `table` into one file with a `bucket` column (bucket_of(key)), sorted by bucket, one
    row group per non-empty bucket: a gather reads its bucket's row groups only (min/max statistics),
    and a scatter task writes one file per kind, not one per kind and bucket."""
    if table.num_rows == 0:
        return
    b = bucket_of(key, buckets)
    order = np.argsort(b, kind="stable")
    b = b[order]
    table = table.take(pa.array(order)).append_column("bucket", pa.array(b.astype(np.int32)))
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(b)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with pq.ParquetWriter(tmp, table.schema, compression="none") as w:
        for s, e in zip(starts, ends):
            w.write_table(table.slice(int(s), int(e - s)), row_group_size=int(e - s))
    os.replace(tmp, path)


def bucket_rows(files: list[str], bucket: int) -> str:
    """SQL relation: the rows of bucket `bucket` in scatter files written by write_buckets."""
    return f"(SELECT * EXCLUDE (bucket) FROM read_parquet({lit(files)}) WHERE bucket = {int(bucket)})"


def bucket_number(bucket_dir) -> int:
    """The bucket of an Engine.bucket_join folder `bucket-<b>`."""
    return int(Path(bucket_dir).name.rsplit("-", 1)[1])


def write_by_task(plan: Plan, table: pa.Table, kind: str, tag: str) -> None:
    """Decision rows (column `doc`) of input files, one file per task (Plan.tasks) they touch: what the
    apply task of those files reads."""
    if table.num_rows == 0:
        return
    docs = table.column("doc").to_numpy()
    f = plan.task_of(plan.file_of(docs))
    order = np.argsort(f, kind="stable")
    f = f[order]
    table = table.take(pa.array(order))
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    ends = np.r_[starts[1:], len(f)]
    for s, e in zip(starts, ends):
        j = int(f[s])
        if plan.task_starts[j] >= plan.n_ref_files:  # references are never changed
            write_parquet(table.slice(int(s), int(e - s)), plan.path("decisions", f"t-{j:05d}", f"{kind}-{tag}.parquet"))


def globs(directory: Path, pattern: str) -> list[str]:
    return [str(p) for p in sorted(directory.glob(pattern))]


DROP_SCHEMA = pa.schema([("doc", pa.int64()), ("reason", pa.string()), ("detail", pa.string())])
DUPS_SCHEMA = pa.schema([("doc", pa.int64()), ("n", pa.int64())])
LINES_SCHEMA = pa.schema([("doc", pa.int64()), ("line", pa.int32())])


def lit(value) -> str:
    """A SQL literal: a list of paths, a number (our own values: paths under the work dir)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def query_table(con, sql: str) -> pa.Table:
    """A query's result as an Arrow table (DuckDB 1.x and 2.x spell it differently)."""
    rel = con.sql(sql)
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()


def query_batches(con, sql: str, rows: int):
    """A query's result as a stream of Arrow record batches of about `rows` rows."""
    rel = con.sql(sql)
    return rel.to_arrow_reader(rows) if hasattr(rel, "to_arrow_reader") else rel.fetch_arrow_reader(rows)


def copy_to(con, sql: str, path: Path) -> int:
    """Write a query's result to a Parquet file (streamed, spilling); returns its rows."""
    con.execute(f"COPY ({sql}) TO {lit(str(path))} (FORMAT parquet)")
    return int(con.execute(f"SELECT count(*) FROM read_parquet({lit(str(path))})").fetchall()[0][0])


def valid_batches(path: str, batch_size: int, columns: list[str] | None = None, repaired: list | None = None):
    """Record batches of a Parquet file; text that is not valid UTF-8 (a writer that bypassed Arrow's
    checks) is decoded with U+FFFD replacements instead of failing (counted in `repaired`)."""
    for batch in parquet_file(path).iter_batches(batch_size=batch_size, columns=columns):
        try:
            batch.validate(full=True)
        except pa.ArrowInvalid:
            batch, n = _repair(batch)
            if repaired is not None:
                repaired.append(n)
        yield batch


def _repair(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    cols, n = [], 0
    for field, col in zip(batch.schema, batch.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = []
            for v in col.cast(pa.large_binary()).to_pylist():
                if v is None:
                    values.append(None)
                    continue
                try:
                    values.append(v.decode("utf-8"))
                except UnicodeDecodeError:
                    values.append(v.decode("utf-8", errors="replace"))
                    n += 1
            col = pa.array(values, type=field.type)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema), n
