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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa

from pipelines.fs import RemotePath, as_path
from pipelines.integrity import (  # noqa: F401 (CorruptManifestError, TamperedFileError: re-exported)
    CorruptManifestError,
    TamperedFileError,
    read_stat,
)
from pipelines.integrity import record_stat as _record_stat
from pipelines.integrity import same_bytes as _same_bytes
from pipelines.lease import LEASE, hold
from pipelines.manifest import (  # noqa: F401 (the readers of committed partitions: re-exported)
    DONE,
    FILES,
    MANIFEST,
    NAMES,
    Entries,
    committed_files,
    dropped_dir_of,
    entry_text,
    iter_entries,
    iter_part_files,
    part_files,
    read_manifest,
    staged_manifest,
    verify_partition,
    write_json,
)
from pipelines.partwriter import PartWriter  # noqa: F401 (re-exported: the stages write with it)


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


@dataclass(frozen=True)
class Entry:
    """One task's line in a manifest (and its `_done/` record): its kept and dropped files, named by
    their content, with their sha256 and the counts. Stage-specific fields (info, notes, preview,
    utf8_repaired) go in `extra`; the runner adds key, input and digest."""

    output: str
    output_sha256: str
    dropped: str
    dropped_sha256: str
    rows_in: int
    kept: int
    dropped_rows: int
    stats: dict
    extra: dict = field(default_factory=dict)

    @classmethod
    def written(cls, kept: tuple[str, str, int], dropped: tuple[str, str, int], rows_in: int, stats: dict,
                **extra) -> Entry:
        """From the (name, sha256, rows) of two closed PartWriters."""
        return cls(kept[0], kept[1], dropped[0], dropped[1], rows_in, kept[2], dropped[2], stats, extra)

    def as_dict(self) -> dict:
        d = {f: getattr(self, f) for f in ("output", "output_sha256", "dropped", "dropped_sha256", "rows_in",
                                            "kept", "dropped_rows", "stats")}
        return {**d, **self.extra}


def partition_dirs(root, asset: str, source: str, dump: str) -> tuple[Path, Path]:
    """Kept and dropped folders of one partition (the layout above; the one place that spells it).
    `root` may be an s3:// URI (then RemotePaths)."""
    root = as_path(root)
    return root / asset / source / dump, root / "dropped" / asset / source / dump


def digest_of(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def data_version(manifest: dict) -> str:
    """A partition's data version: the digest of the files its manifest commits (kept and dropped).
    The digest_of of their list of [output, dropped] sha256 pairs, hashed pair by pair: `files` may be
    a stream (manifest.iter_entries) and no list of 80,000 pairs is built."""
    h = hashlib.sha256(b"[[")
    for i, e in enumerate(manifest["files"]):
        h.update(((", " if i else "") + json.dumps([e["output_sha256"], e["dropped_sha256"]])).encode())
    h.update(b"]]")
    return h.hexdigest()[:16]


def committed_data_version(directory) -> str:
    """The data version of a committed partition, its manifest read as a stream."""
    return data_version({"files": iter_entries(directory, fields=("output_sha256", "dropped_sha256"))})


def key_of(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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


def _run_task(pair: tuple[Callable, dict]) -> str:
    """Worker side: run one task, then record it as done (entry written after its outputs). Returns the
    entry's manifest text: what the driver keeps of it (the done-record has all of it)."""
    fn, task = pair
    return entry_text(_record_done(task, fn(Task(**task))))


class _Calls(Sequence):
    """The engine's items for the tasks that run, made when the engine takes them (not all up front)."""

    def __init__(self, fn: Callable, tasks: list[Task], todo: list[int]):
        self.fn, self.tasks, self.todo = fn, tasks, todo

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.fn, asdict(self.tasks[self.todo[i]])


def _record_done(task: dict, entry: dict) -> dict:
    # No timings here: a manifest is the same bytes whoever ran the tasks, and wherever.
    entry.update(key=task["key"], digest=task["digest"])
    entry.setdefault("input", task["input"])
    write_json(as_path(task["out_dir"]) / DONE / f"{task['key']}.json", entry)
    return entry


def _finished(task: Task, known: dict | None = None) -> dict | None:
    """The entry of a task done before with the same digest whose files still hold their bytes."""
    p = as_path(task.out_dir) / DONE / f"{task.key}.json"
    try:
        entry = json.loads(p.read_text())  # one request on S3 (no separate existence check)
    except (FileNotFoundError, ValueError):
        return None
    if entry.get("digest") != task.digest:
        return None
    known = known or {}
    if not _same_bytes(as_path(task.out_dir) / entry["output"], entry["output_sha256"], known) or \
            not _same_bytes(as_path(task.dropped_dir) / entry["dropped"], entry["dropped_sha256"], known.get("dropped")):
        return None  # missing or rewritten: the task runs again and writes the right bytes
    return entry


def run_map(engine, fn: Callable[[Task], dict] | None, tasks: list[Task], out_dir: str | os.PathLike,
            dropped_dir: str | os.PathLike, *, stage: str, allow_empty: bool = False,
            log: Callable[[str], None] | None = None, extra: dict | None = None,
            together: Callable[[list[Task]], tuple[list[dict], dict]] | None = None) -> dict:
    """The one runner of the curation stages: plan (the tasks), skip what is done, run the rest on the
    engine, commit the partition's manifest.

    fn(task) writes its kept and dropped files (PartWriter) and returns a manifest entry with at least
    output, output_sha256, dropped, dropped_sha256, rows_in, kept, dropped_rows, stats. A global stage
    (dedup: every file's output depends on every input) gives `together(tasks) -> (entries, extra)`
    instead: if any task is not done, all run in one call. A task is done when its `_done/` record has
    its digest and its files still hold their bytes. Returns the manifest (entries in task order, plus
    `ran` / `skipped` task counts).
    """
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    extra = dict(extra or {})
    with locked(out_dir):
        cleaned = remove_stale_temporaries(out_dir, dropped_dir)
        if cleaned and log:
            log(f"{stage}: removed {cleaned} temporary files of a killed run")
        known = read_stat(out_dir)
        entries = Entries(_finished(t, known) for t in tasks)  # held as manifest text, not as dicts
        del known  # every file of the partition: not held while the tasks run
        todo = entries.missing()
        kept_extra = _old_extra(out_dir, extra) if together is not None and not todo else {}
        if together is not None and (todo or kept_extra is None):
            todo = list(range(len(tasks)))  # a global stage runs whole (also to rebuild what it recorded)
        if log:
            log(f"{stage}: {len(tasks)} files, {len(tasks) - len(todo)} unchanged, {len(todo)} to run "
                f"on {engine.name} ({engine.workers} workers)")
        if together is None:
            results = engine.map(_run_task, _Calls(fn, tasks, todo), desc=stage, log=log)
        elif todo:
            given, more = together(tasks)
            # one entry at a time (an Entries yields each as a dict when read): recorded, then kept as text
            results = [entry_text(_record_done(asdict(t), r)) for t, r in zip(tasks, given)]
            del given
            extra.update(more)
        else:
            results = []
            extra.update(kept_extra or {})
        for i, r in zip(todo, results):
            entries[i] = r
        del results
        manifest = commit(out_dir, dropped_dir, entries, stage=stage, allow_empty=allow_empty, extra=extra, log=log)
    return dict(manifest, ran=len(todo), skipped=len(tasks) - len(todo), stale_temporaries_removed=cleaned)


def _old_extra(out_dir, extra: dict) -> dict | None:
    """What a global stage recorded beside its files last time (kept when nothing runs again); None when
    its manifest is gone or corrupt (then the stage runs again)."""
    try:
        old = read_manifest(out_dir)
    except CorruptManifestError:
        return None
    if old is None:
        return None
    core = {"stage", "dropped_dir", "files", "rows_in", "kept", "dropped_rows"}
    return {k: v for k, v in old.items() if k not in core and k not in extra}


def commit(out_dir: Path, dropped_dir: Path, entries: Entries | list[dict], *, stage: str,
           allow_empty: bool = False, extra: dict | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Write the partition's manifest (the commit point, streamed: pipelines/manifest.py), then remove
    files no longer listed. Returns the manifest, its `files` an Entries. Call with the partition locked."""
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    entries = entries if isinstance(entries, Entries) else Entries(entries)
    rel = (posixpath.relpath(dropped_dir.key, out_dir.key) if isinstance(out_dir, RemotePath)
           else os.path.relpath(dropped_dir, out_dir))
    header = {"stage": stage, "dropped_dir": rel, "rows_in": 0, "kept": 0, "dropped_rows": 0, **(extra or {})}
    for e in entries:  # one entry parsed at a time
        for k in ("rows_in", "kept", "dropped_rows"):
            header[k] += e[k]
    with staged_manifest(out_dir, header, entries) as changed:
        if changed:  # the old manifest is read (names only) when it is about to be replaced
            try:
                old = read_manifest(out_dir, fields=NAMES)
            except CorruptManifestError as e:
                old = None  # rebuilt from the tasks' entries (their _done/ records)
                if log:
                    log(f"{e}: rebuilding it")
            if old and old.get("kept", 0) > 0 and header["kept"] == 0 and not allow_empty:
                raise EmptyPartitionError(
                    f"{stage}: this run would replace {old['kept']} documents under {out_dir} with none "
                    f"({header['rows_in']} records in); check the dump, or set LLAMA_ALLOW_EMPTY=1 to accept it")
    _remove_unlisted(out_dir, dropped_dir, entries)
    _record_stat(out_dir, dropped_dir, entries)
    return dict(header, files=entries)


def _remove_unlisted(out_dir: Path, dropped_dir: Path, entries: Entries) -> None:
    """Outputs and done-records of inputs no longer in the partition (after the manifest switched). One
    folder at a time, its listed names only in memory, its listing read as it goes."""
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    for which, folder, suffix in (("output", out_dir, ".parquet"), ("dropped", dropped_dir, ".parquet"),
                                  ("key", out_dir / DONE, ".json")):
        listed = {e[which] for e in entries}
        for p in _listing(folder, "part-" if suffix == ".parquet" else "", suffix):
            if (p.name if which != "key" else p.name[:-len(suffix)]) not in listed:
                p.unlink(missing_ok=True)


def _listing(folder, prefix: str, suffix: str) -> Iterator:
    """Files of a folder named prefix*suffix, as they are listed (a local folder is not read whole)."""
    if isinstance(folder, RemotePath):
        yield from folder.glob(f"{prefix}*{suffix}")
        return
    try:
        with os.scandir(folder) as it:
            for d in it:
                if d.name.startswith(prefix) and d.name.endswith(suffix) and not d.name.startswith("."):
                    yield folder / d.name
    except FileNotFoundError:
        return


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
        kept = w.close()
        rows = kept[2]
        entry = Entry.written(kept, PartWriter(dropped_dir, key, DROPPED_SCHEMA).close(), rows,
                              {"read": rows, "kept": rows, "dropped": {}, "bytes_in": 0, "bytes_kept": 0,
                               "bytes_dropped": {}}, key=key, input=key)
        entries.append(entry.as_dict())
    with locked(out_dir):
        return commit(out_dir, dropped_dir, entries, stage=stage, allow_empty=True)
