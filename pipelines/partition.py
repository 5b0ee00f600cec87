"""One partition of a curation asset on disk: per-input-file Parquet outputs, committed by a manifest.

    <root>/<asset>/<source>/<dump>/part-<key>-<sha12>.parquet         kept rows of one input file
    <root>/dropped/<asset>/<source>/<dump>/part-<key>-<sha12>.parquet  its dropped rows (DROPPED_SCHEMA)
    <root>/<asset>/<source>/<dump>/_manifest.json                      the files that make the partition
    <root>/<asset>/<source>/<dump>/_done/<key>.json                    one finished task (for resume)

Why this shape (the datatrove / object-storage way rather than one folder renamed at the end):
- Output names carry the first 12 hex digits of their content's SHA-256, so a file is never overwritten
  with other bytes: writers never race, an unchanged output keeps its name (and downstream stages see
  an unchanged input and skip it), and object stores, which have no rename, need no rename.
- The manifest is written last and is the only thing readers trust: a partition is the manifest's
  files, in its order. A killed run leaves the previous manifest, so the previous data, untouched.
- Each finished task writes `_done/<key>.json` (its manifest entry and the digest of its inputs); a
  rerun skips tasks whose entry still matches, so a killed run redoes only the missing files and adding
  one dump file runs one task.
- A run that would turn a partition with documents into one without is refused unless allowed.

Object storage (`s3://` roots, pipelines/fs.py): the same files and names. Locally every file is written
to a temporary name and renamed, and a partition has one writer at a time (a lease,
pipelines/lease.py; on S3 too, by conditional writes). On S3 there is no rename: a part is written to a
local temporary file (its name needs its hash), then uploaded once under its final name; done-records
and the manifest are single PUTs, the manifest last. Readers never see a partial object, so the commit
point is the same.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.fs import RemotePath, as_path, file_sha256, scratch_dir, upload
from pipelines.lease import LEASE, hold

MANIFEST = "_manifest.json"
DONE = "_done"
ROW_GROUP = 5_000


class EmptyPartitionError(RuntimeError):
    """A run would replace a partition holding documents with an empty one."""


@dataclass
class Task:
    """One unit of work of a map stage: read `input`, write the outputs of `key`."""

    key: str                     # stable name of the input (e.g. hash of its path in the dump)
    input: str                   # what the task reads (a dump file, an upstream Parquet file)
    digest: str                  # fingerprint of the input, the parameters and the code version
    out_dir: str
    dropped_dir: str
    params: dict = field(default_factory=dict)


def digest_of(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def key_of(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


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
        self._flush()
        if self.rows == 0:  # an empty file still carries the schema for readers
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        sha = file_sha256(self.tmp)
        name = f"part-{self.key}-{sha[:12]}.parquet"
        final = self.directory / name
        if final.exists():
            self.tmp.unlink()  # the same bytes are already there
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


def write_json(path: Path | RemotePath, obj) -> None:
    path = as_path(path)
    if isinstance(path, RemotePath):
        path.write_text(json.dumps(obj, indent=1, sort_keys=True))  # one PUT: old or new object, never part
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_manifest(directory: str | os.PathLike) -> dict | None:
    p = as_path(directory) / MANIFEST
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def part_files(directory: str | os.PathLike, which: str = "output") -> list[Path]:
    """The files of a committed partition, in manifest order. `which`: "output" or "dropped"."""
    directory = as_path(directory)
    m = read_manifest(directory)
    if m is None:
        raise FileNotFoundError(f"no {MANIFEST} under {directory}: materialize the upstream asset first")
    base = directory if which == "output" else dropped_dir_of(directory, m)
    return [base / e[which] for e in m["files"]]


def dropped_dir_of(directory, manifest: dict):
    """The dropped folder of a partition: its manifest's `dropped_dir` ("../../dropped/...") resolved
    against the partition folder (by name on object storage, where ".." is not a folder)."""
    directory, rel = as_path(directory), manifest["dropped_dir"]
    if isinstance(directory, RemotePath):
        return RemotePath("s3://" + posixpath.normpath(posixpath.join(directory.key, rel)))
    return directory / rel


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """One writer of a partition at a time (a second run waits), across hosts: a lease on the shared
    file system or S3 (pipelines/lease.py), renewed while the run lives, broken when it expired."""
    with hold(as_path(directory) / LEASE):
        yield


def remove_stale_temporaries(*dirs: Path) -> int:
    """Temporary files left by killed runs (`.*.tmp-*`); called at stage start, under the lock."""
    n = 0
    for d in dirs:
        if isinstance(d, RemotePath):
            continue  # nothing is ever written there under a temporary name
        if d.is_dir():
            for p in list(d.glob(".*.tmp-*")) + list((d / DONE).glob(".*.tmp-*")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    n += 1
    return n


def _run_task(pair: tuple[Callable, dict]) -> dict:
    """Worker side: run one task, then record it as done (entry written after its outputs)."""
    fn, task = pair
    entry = fn(Task(**task))
    # No timings here: a manifest is the same bytes whoever ran the tasks, and wherever.
    entry.update(key=task["key"], digest=task["digest"])
    entry.setdefault("input", task["input"])
    write_json(as_path(task["out_dir"]) / DONE / f"{task['key']}.json", entry)
    return entry


def _finished(task: Task) -> dict | None:
    p = as_path(task.out_dir) / DONE / f"{task.key}.json"
    try:
        entry = json.loads(p.read_text())  # one request on S3 (no separate existence check)
    except (FileNotFoundError, ValueError):
        return None
    if entry.get("digest") != task.digest:
        return None
    if not (as_path(task.out_dir) / entry["output"]).is_file() or not (as_path(task.dropped_dir) / entry["dropped"]).is_file():
        return None
    return entry


def run_map(engine, fn: Callable[[Task], dict], tasks: list[Task], out_dir: str | os.PathLike,
            dropped_dir: str | os.PathLike, *, stage: str, allow_empty: bool = False,
            log: Callable[[str], None] | None = None, extra: dict | None = None) -> dict:
    """Run `fn` on every task not already done, then commit the partition's manifest.

    fn(task) writes its kept and dropped files (PartWriter) and returns a manifest entry with at least
    output, output_sha256, dropped, dropped_sha256, rows_in, kept, dropped_rows, stats. Returns the
    manifest (entries in task order, plus `ran` / `skipped` task counts).
    """
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    with locked(out_dir):
        cleaned = remove_stale_temporaries(out_dir, dropped_dir)
        entries: list[dict | None] = [_finished(t) for t in tasks]
        todo = [i for i, e in enumerate(entries) if e is None]
        if log:
            log(f"{stage}: {len(tasks)} files, {len(tasks) - len(todo)} unchanged, {len(todo)} to run "
                f"on {engine.name} ({engine.workers} workers)")
        results = engine.map(_run_task, [(fn, asdict(tasks[i])) for i in todo], desc=stage, log=log)
        for i, r in zip(todo, results):
            entries[i] = r
        manifest = commit(out_dir, dropped_dir, entries, stage=stage, allow_empty=allow_empty, extra=extra)
    return dict(manifest, ran=len(todo), skipped=len(tasks) - len(todo), stale_temporaries_removed=cleaned)


def commit(out_dir: Path, dropped_dir: Path, entries: list[dict], *, stage: str, allow_empty: bool = False,
           extra: dict | None = None) -> dict:
    """Write the partition's manifest (the commit point), then remove files no longer listed.
    Call with the partition locked."""
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    rel = (posixpath.relpath(dropped_dir.key, out_dir.key) if isinstance(out_dir, RemotePath)
           else os.path.relpath(dropped_dir, out_dir))
    manifest = {"stage": stage, "dropped_dir": rel, "files": entries,
                "rows_in": sum(e["rows_in"] for e in entries), "kept": sum(e["kept"] for e in entries),
                "dropped_rows": sum(e["dropped_rows"] for e in entries), **(extra or {})}
    old = read_manifest(out_dir)
    if old and old.get("kept", 0) > 0 and manifest["kept"] == 0 and not allow_empty:
        raise EmptyPartitionError(
            f"{stage}: this run would replace {old['kept']} documents under {out_dir} with none "
            f"({manifest['rows_in']} records in); check the dump, or set LLAMA_ALLOW_EMPTY=1 to accept it")
    write_json(out_dir / MANIFEST, manifest)
    _remove_unlisted(out_dir, dropped_dir, entries)
    return manifest


def _remove_unlisted(out_dir: Path, dropped_dir: Path, entries: list[dict]) -> None:
    """Outputs and done-records of inputs no longer in the partition (after the manifest switched)."""
    keep_out = {e["output"] for e in entries}
    keep_drop = {e["dropped"] for e in entries}
    keys = {e["key"] for e in entries}
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    for p in out_dir.glob("part-*.parquet"):
        if p.name not in keep_out:
            p.unlink(missing_ok=True)
    for p in dropped_dir.glob("part-*.parquet"):
        if p.name not in keep_drop:
            p.unlink(missing_ok=True)
    for p in (out_dir / DONE).glob("*.json"):
        if p.stem not in keys:
            p.unlink(missing_ok=True)


def committed_files(directory: str | os.PathLike, which: str = "output") -> list[Path]:
    """The committed files of one partition folder, or of every partition below a folder (e.g. every
    dump of `quality_filtered/commoncrawl`, in dump order). [] when nothing is committed there."""
    directory = as_path(directory)
    if (directory / MANIFEST).is_file():
        return part_files(directory, which)
    if not directory.is_dir():
        return []
    out: list[Path] = []
    for sub in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        out += committed_files(sub, which)
    return out


def write_partition(out_dir: str | os.PathLike, dropped_dir: str | os.PathLike, tables: list[pa.Table],
                    schema: pa.Schema, stage: str = "written") -> dict:
    """Commit a partition made of the given tables, one file each, nothing dropped (tests, imports)."""
    from pipelines.document import DROPPED_SCHEMA

    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    entries = []
    for i, t in enumerate(tables):
        key = f"{i:05d}"
        w = PartWriter(out_dir, key, schema)
        w.write_table(t)
        name, sha, rows = w.close()
        dname, dsha, _ = PartWriter(dropped_dir, key, DROPPED_SCHEMA).close()
        entries.append({"key": key, "input": key, "output": name, "output_sha256": sha, "dropped": dname,
                        "dropped_sha256": dsha, "rows_in": rows, "kept": rows, "dropped_rows": 0,
                        "stats": {"read": rows, "kept": rows, "dropped": {}, "bytes_in": 0, "bytes_kept": 0,
                                  "bytes_dropped": {}}})
    with locked(out_dir):
        return commit(out_dir, dropped_dir, entries, stage=stage, allow_empty=True)
