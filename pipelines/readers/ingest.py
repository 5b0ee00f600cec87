"""Ingest one dump: one task per dump file (or GitHub repository), each writing its documents and skips.

    from pipelines.readers.ingest import ingest_dump
    summary = ingest_dump(engine, "books", dump_dir, out_dir, dropped_dir)

Each task streams one unit through its reader into `part-<key>-<sha>.parquet` (RAW_SCHEMA) and its
skipped records into the dropped folder (DROPPED_SCHEMA); the partition is committed by its manifest
(pipelines/partition.py). A unit whose path, size and modification time, and the version of its
reader (pipelines/version.py: code closure, recipe, limits) are unchanged since the last run is not read again; a killed run resumes with the units it had not done.
Accounting: per unit, records read == documents written + records skipped, kept in the manifest.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, fields
from pathlib import Path

import pyarrow.compute as pc

from pipelines import recipes
from pipelines.base import Stats
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.fs import as_path, parquet_file, read_table
from pipelines.manifest import MANIFEST, done_record, verified_entries
from pipelines.partition import (
    CorruptManifestError,
    Entry,
    PartWriter,
    TamperedFileError,
    Task,
    digest_of,
    key_of,
    run_map,
)
from pipelines.readers import list_units, read_unit
from pipelines.readers.base import Limits
from pipelines.stage import Stage

PREVIEW_DOCS = 3
STAGE = "raw_documents"
READER_MODULES = ("arxiv", "books", "c4", "commoncrawl", "github", "stackexchange", "wikipedia")


def _other_readers(source: str) -> tuple[str, ...]:
    """readers/__init__.py imports every reader; a source's units run through its own only."""
    return tuple(f"pipelines.readers.{m}" for m in READER_MODULES if m != source)


INGEST = Stage(asset=STAGE, modules=("pipelines.readers.ingest",), schema=RAW_SCHEMA, recipe_stage=recipes.RAW,
               exclude=lambda source: _other_readers(source))


def stage_version(source: str, limits: dict | None = None) -> str:
    """The version of a source's ingest: its reader's code closure, its recipe steps, the reader limits."""
    return INGEST.version(source, {"limits": asdict(reader_limits(limits))})


def explain_version(source: str, limits: dict | None = None) -> dict:
    """What stage_version is made of (asset metadata, lineage)."""
    return INGEST.explain(source, {"limits": asdict(reader_limits(limits))})


def fingerprint(unit: Path) -> list:
    """What identifies a unit's content without reading it: relative paths, sizes, mtimes."""
    if unit.is_dir() and not unit.is_symlink():  # a linked unit is never followed (the reader skips it)
        out = []
        for dirpath, dirnames, filenames in os.walk(unit):
            dirnames.sort()
            for name in sorted(filenames):
                st = os.lstat(Path(dirpath) / name)
                out.append([os.path.relpath(Path(dirpath) / name, unit), st.st_size, st.st_mtime_ns])
        return out
    st = os.lstat(unit)
    return [unit.name, st.st_size, st.st_mtime_ns]


def reader_limits(overrides: dict | None) -> Limits:
    """The readers' size caps: Limits' defaults with the profile's overrides (DataArgs.reader_limits)."""
    try:
        return Limits(**(overrides or {}))
    except TypeError:
        known = ", ".join(f.name for f in fields(Limits))
        raise ValueError(f"reader_limits {sorted(overrides)}: the caps are {known}") from None


def ingest_tasks(source: str, dump_dir: str | Path, out_dir: str | Path, dropped_dir: str | Path,
                 limits: dict | None = None) -> list[Task]:
    dump_dir = Path(dump_dir)
    # The limits (every cap, defaults included) are part of the version: they change what is read.
    version = stage_version(source, limits)  # fails before any task on an unknown cap
    tasks, out_dir, dropped_dir = [], str(out_dir), str(dropped_dir)
    params = {"source": source, "dump_dir": str(dump_dir), "limits": dict(limits or {})}  # shared, read only
    for unit in list_units(source, dump_dir):
        rel = unit.relative_to(dump_dir).as_posix()
        tasks.append(Task(key=key_of(rel), input=rel, digest=digest_of(source, rel, fingerprint(unit), version),
                          out_dir=out_dir, dropped_dir=dropped_dir, params=params))
    return tasks


def ingest_unit(task: Task) -> dict:
    """Worker: read one unit, write its documents and skips; return its manifest entry."""
    source, dump_dir = task.params["source"], Path(task.params["dump_dir"])
    stats, notes, preview = Stats(), Counter(), []
    out = PartWriter(task.out_dir, task.key, RAW_SCHEMA)
    dropped = PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA)
    try:
        for doc in read_unit(source, dump_dir, dump_dir / task.input, stats=stats,
                             on_skip=lambda s: dropped.write(s.row()), notes=notes,
                             limits=reader_limits(task.params.get("limits")),
                             keep_licences=recipes.github_licences() if source == "github" else None):
            out.write(doc.row())
            if len(preview) < PREVIEW_DOCS:
                preview.append({"id": doc.id, "title": doc.title, "url": doc.url, "origin": doc.origin,
                                "text": doc.text[:300]})
        kept = out.close()
        lost = dropped.close()     # inside the try: a failed close aborts the other writer
    except BaseException:
        out.abort()
        dropped.abort()
        raise
    if stats.read == 0:
        notes["files_without_records"] += 1  # named in the log by the caller: an empty dump file
    entry = Entry.written(kept, lost, stats.read, stats.as_dict(), notes=dict(sorted(notes.items())),
                          preview=preview)
    assert entry.kept == stats.kept and entry.dropped_rows == sum(stats.dropped.values()), "reader accounting"
    return entry.as_dict()


def ingest_dump(engine, source: str, dump_dir: str | Path, out_dir: str | Path, dropped_dir: str | Path,
                log=None, allow_empty: bool = False, limits: dict | None = None) -> dict:
    """Ingest every unit of one dump; return a summary (counts, bytes, skipped per reason, timings)."""
    t0 = time.perf_counter()
    tasks = ingest_tasks(source, dump_dir, out_dir, dropped_dir, limits)
    m = run_map(engine, ingest_unit, tasks, out_dir, dropped_dir, stage=f"{STAGE}[{source}/{Path(dump_dir).name}]",
                allow_empty=allow_empty, log=log,
                extra={"source": source, "dump": Path(dump_dir).name, "version": stage_version(source, limits)})
    total, notes, empty = Stats(), Counter(), []
    for e in m["files"]:
        s = e["stats"]
        total.merge(Stats.from_dict(s))
        notes.update(e.get("notes", {}))
        if e["rows_in"] == 0:
            empty.append(e["input"])
    seconds = time.perf_counter() - t0
    return {
        "source": source, "dump": Path(dump_dir).name, "files": len(tasks), "files_read": m["ran"],
        "files_unchanged": m["skipped"], "files_without_records": empty,
        "records_read": total.read, "documents": total.kept, "skipped": sum(total.dropped.values()),
        "skipped_by_reason": dict(sorted(total.dropped.items())), "bytes": total.bytes_kept,
        "bytes_skipped": sum(total.bytes_dropped.values()), "seconds": round(seconds, 3),
        "docs_per_s": round(total.kept / seconds, 1) if seconds > 0 else None,
        "mb_per_s": round(total.bytes_in / 1e6 / seconds, 2) if seconds > 0 else None,
        "notes": {k: v for k, v in sorted(notes.items()) if v}, "balanced": total.balanced,
        "preview": _preview(out_dir, m["files"]),
    }


def _preview(out_dir, entries) -> list[dict]:
    """The first documents of the partition, from the first files' done-records (a manifest does not
    carry previews: pipelines/manifest.py RECORD_ONLY)."""
    out: list[dict] = []
    for e in entries:
        if len(out) >= PREVIEW_DOCS:
            break
        if e["kept"]:
            out += (e.get("preview") or (done_record(out_dir, e["key"]) or {}).get("preview", []))
    return out[:PREVIEW_DOCS]


def check_accounting(out_dir: str | Path) -> tuple[bool, dict]:
    """Per file and in total: records read == rows written + rows skipped, per reason, re-read from disk."""
    out_dir = as_path(out_dir)
    if not (out_dir / MANIFEST).is_file():
        return False, {"error": f"no manifest under {out_dir}: materialize raw_documents first"}
    bad, n_bad, reasons_total, read, written, files = [], 0, Counter(), 0, 0, 0
    try:
        # The manifest read as a stream, each file checked as it is reached (a rewritten or truncated
        # file fails, named): a partition of 80,000 files is not held as parsed entries.
        for e, out, dropped in verified_entries(out_dir, ("rows_in", "stats"), "raw_documents"):
            n_out = parquet_file(out).metadata.num_rows
            col = read_table(dropped, columns=["reason"])["reason"]
            reasons = {it["values"]: it["counts"] for it in pc.value_counts(col).to_pylist()}
            if e["rows_in"] != n_out + sum(reasons.values()) or reasons != e["stats"]["dropped"]:
                n_bad += 1
                if len(bad) < 20:  # the first 20 named
                    bad.append(e["input"])
            reasons_total.update(reasons)
            read += e["rows_in"]
            written += n_out
            files += 1
    except (CorruptManifestError, TamperedFileError) as e:
        return False, {"error": str(e)}
    return not n_bad, {"records_read": read, "written": written, "skipped": sum(reasons_total.values()),
                     "skipped_by_reason": dict(sorted(reasons_total.items())), "files": files,
                     "unbalanced_files": bad}
