"""Plumbing shared by the per-file curation stages (language ID, quality): one task per upstream file.

A stage function takes the table of one upstream file and returns a `StageResult` (kept rows, dropped
rows in DROPPED_SCHEMA, Stats); `run_table_task` writes both as that file's outputs and the partition is
committed by its manifest (pipelines/partition.py). Per-document stages therefore never hold more than
one file, and a file whose input and code are unchanged is not run again.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import recipes, version
from pipelines.base import Stats
from pipelines.document import DROPPED_SCHEMA
from pipelines.fs import as_path, copy_from_parquet, read_schema, read_table
from pipelines.manifest import FILES
from pipelines.partition import (
    CorruptManifestError,
    Entry,
    PartWriter,
    TamperedFileError,
    Task,
    digest_of,
    iter_entries,
    iter_part_files,
    verify_partition,
)


@dataclass
class StageResult:
    kept: pa.Table
    dropped: pa.Table                       # DROPPED_SCHEMA
    stats: Stats
    info: dict = field(default_factory=dict)  # stage-specific metadata (timings, thresholds, counts)


def text_bytes(texts: pa.Array | pa.ChunkedArray) -> list[int]:
    return pc.fill_null(pc.binary_length(texts), 0).to_pylist()


class DropLog:
    """Collects dropped rows and keeps the Stats in step with them."""

    def __init__(self, source: str, stage: str):
        self.source, self.stage = source, stage
        self.rows: dict[str, list] = {k: [] for k in DROPPED_SCHEMA.names}

    def add(self, doc_id: str, reason: str, nbytes: int, detail: str | None = None) -> None:
        for k, v in (("id", doc_id), ("source", self.source), ("stage", self.stage), ("reason", reason),
                     ("detail", detail), ("bytes", int(nbytes))):
            self.rows[k].append(v)

    def table(self) -> pa.Table:
        return pa.table(self.rows, schema=DROPPED_SCHEMA)


def finish(table: pa.Table, keep: list[bool], drops: DropLog, info: dict | None = None,
           nbytes: list[int] | None = None) -> StageResult:
    """Assemble a StageResult; `keep[i]` False rows must have been logged in `drops`."""
    nbytes = nbytes if nbytes is not None else text_bytes(table.column("text"))
    stats = Stats()
    dropped = drops.table()
    for k, b in zip(keep, nbytes):
        if k:
            stats.keep(b)
    for r, b in zip(dropped.column("reason").to_pylist(), dropped.column("bytes").to_pylist()):
        stats.drop(r, b)
    n_kept = sum(keep)
    if n_kept + dropped.num_rows != table.num_rows:
        raise AssertionError(f"accounting error: {table.num_rows} in, {n_kept} kept, {dropped.num_rows} dropped")
    kept = table.filter(pa.array(keep, type=pa.bool_())) if table.num_rows else table
    return StageResult(kept=kept, dropped=dropped, stats=stats, info=info or {})


def read_file(path) -> tuple[pa.Table, int]:
    """One upstream Parquet file (a local path, or an s3:// URI / RemotePath). Text that is not valid UTF-8 (a writer that bypassed Arrow's checks)
    is decoded with U+FFFD replacements instead of failing or losing the document; returns (table,
    number of repaired texts)."""
    p = as_path(path)
    try:
        t = read_table(p)
    except Exception as e:  # noqa: BLE001 - name the file in the message
        raise ValueError(f"cannot read {p}: {e}") from e
    try:
        t.validate(full=True)
    except pa.ArrowInvalid:
        return _repair_utf8(p)
    return t, 0


@dataclass(frozen=True)
class Stage:
    """A curation stage as data: what it materializes from what, its code, recipe and models.

    `modules` are the roots of its code (pipelines/version.py follows their imports); `exclude(source)`
    names modules that do not run for that source (the other sources' readers); `models(source,
    params)` gives {name: content hash} of the model files a source's partitions are computed with;
    `located` are params that say where something is (a folder), not what it is: left out of digests
    (the content they point at enters through `models`). Per-file stages have `run(table, source,
    **params) -> StageResult`, a function object (workers receive it by reference).
    """

    asset: str
    modules: tuple[str, ...]
    schema: pa.Schema
    upstream: str | None = None
    run: Callable | None = None
    recipe_stage: str = ""
    models: Callable[[str | None, dict], dict] | None = None
    exclude: Callable[[str], tuple[str, ...]] | None = None
    located: tuple[str, ...] = ()

    def recipe(self, source: str | None = None) -> object:
        """The recipe steps that apply: the source's, or every source's (the asset as a whole)."""
        stage = self.recipe_stage or self.asset
        if source is None:
            return {s: self.recipe(s) for s in recipes.RECIPES}
        data: dict = {"steps": recipes.as_dict(source, stage)}
        if stage == recipes.DEDUP:
            data["scope"] = recipes.dedup_scope(source)
        return data

    def version(self, source: str | None = None, params: dict | None = None) -> str:
        """The version of one source's partitions (or of the asset: source None) from its code closure,
        its recipe, the params that change outputs (profile fields, reader limits) and its models."""
        return version.version(**self._parts(source, params))

    def explain(self, source: str | None = None, params: dict | None = None) -> dict:
        """What the version is made of: modules and their digests, recipe, params, model hashes."""
        return version.explain(**self._parts(source, params))

    def _parts(self, source: str | None, params: dict | None) -> dict:
        params = params or {}
        return dict(roots=self.modules, exclude=self.exclude(source) if self.exclude and source else (),
                    recipe=self.recipe(source), params={k: v for k, v in params.items() if k not in self.located},
                    models=self.models(source, params) if self.models else {})


def map_tasks(upstream_dir: str | os.PathLike, out_dir: str | os.PathLike, dropped_dir: str | os.PathLike,
              stage: Stage, source: str, params: dict | None = None) -> list[Task]:
    """One task per committed file of the upstream partition: `stage.run(table, source, **params)`.
    A file's digest is its input's sha256 and the stage's version for `source` (pipelines/version.py)."""
    # A rewritten input never reaches the stage; the upstream entries are read for their files only.
    m = verify_partition(upstream_dir, stage.upstream or "", fields=FILES)
    params = params or {}
    v = stage.version(source, params)
    up, out_dir, dropped_dir = as_path(upstream_dir), str(out_dir), str(dropped_dir)
    shared = {"func": stage.run, "source": source, "kwargs": params}  # one dict for every task (read only)
    return [Task(key=e["key"], input=str(up / e["output"]), digest=digest_of(e["output_sha256"], source, v),
                 out_dir=out_dir, dropped_dir=dropped_dir, params=shared) for e in m["files"]]


def run_table_task(task: Task) -> dict:
    """Worker: one upstream file through the stage function; its kept and dropped files; its entry."""
    table, repaired = read_file(task.input)
    result: StageResult = task.params["func"](table, task.params["source"], **task.params["kwargs"])
    out = PartWriter(task.out_dir, task.key, result.kept.schema)
    dropped = PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA)
    try:
        out.write_table(result.kept)
        dropped.write_table(result.dropped)
        kept, lost = out.close(), dropped.close()   # a failed close aborts the other writer too
    except BaseException:
        out.abort()
        dropped.abort()
        raise
    return Entry.written(kept, lost, table.num_rows, result.stats.as_dict(),
                         input=as_path(task.input).name, utf8_repaired=repaired,
                         info=json.loads(json.dumps(without_timings(result.info), default=str))).as_dict()


def without_timings(info: dict) -> dict:
    """Stage info for a manifest: timings vary from run to run, and a manifest must not."""
    return {k: v for k, v in info.items() if "seconds" not in k}


def stats_of(manifest: dict) -> Stats:
    """The partition's Stats, summed over its files' entries."""
    total = Stats()
    for e in manifest["files"]:
        s = e["stats"]
        total.merge(Stats.from_dict(s))
    return total


def _repair_utf8(path) -> tuple[pa.Table, int]:
    schema = read_schema(path)
    cols = {f.name: pa.binary() if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else f.type
            for f in schema}
    raw = read_table(path, schema=pa.schema([(k, v) for k, v in cols.items()]))
    out, n = {}, 0
    for f in schema:
        col = raw.column(f.name)
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            vals = []
            for v in col.to_pylist():
                if v is None:
                    vals.append(None)
                    continue
                try:
                    vals.append(v.decode("utf-8"))
                except UnicodeDecodeError:
                    vals.append(v.decode("utf-8", errors="replace"))
                    n += 1
            out[f.name] = pa.array(vals, type=f.type)
        else:
            out[f.name] = col
    return pa.table(out, schema=schema), n


def add_columns(table: pa.Table, columns: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    """Append (or replace) columns and cast to `schema`."""
    for name, arr in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    return table.select(schema.names).cast(schema)


BALANCE_FILES = 64  # files scanned at once by the balance check (DuckDB holds reader state per file scanned)


def balance(upstream_dir: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Re-read a stage's input and both outputs from disk: every input id must be kept or dropped, once,
    in every file and in the partition. Returns counts and `passed`. Used by the asset checks."""
    import duckdb

    sides = (("up_files", upstream_dir, "output"), ("kept_files", out_dir, "output"),
             ("dropped_files", out_dir, "dropped"))
    counts = {}
    con = duckdb.connect()
    try:
        # The ids of each side copied into a table BALANCE_FILES files at a time (read_parquet locally, a
        # pyarrow dataset scan on object storage, no httpfs): one scan of every file of a partition at once
        # held reader state per file (peak RSS 348 MB for 3 x 5,000 tiny files, growing with the count).
        # The manifests are read as streams, each file checked as it is reached: no list of the
        # partition's files is held (3 parsed manifests and lists: a 20 MB peak at 5,000 files).
        try:
            for name, directory, which in sides:
                counts[name] = copy_from_parquet(con, name, iter_part_files(directory, which), "id", BALANCE_FILES)
        except (FileNotFoundError, CorruptManifestError, TamperedFileError) as e:
            return {"passed": False, "error": str(e)}
        if not all(counts.values()):
            return {"passed": False, "error": f"missing files: input {counts['up_files']}, kept "
                                              f"{counts['kept_files']}, dropped {counts['dropped_files']}"}
        # Missing and unexpected ids as multiset differences (what EXCEPT ALL counts) from the count of
        # each id on either side: EXCEPT ALL held ~0.8 KB per id (+31 MB for 40,000 ids, this +12 MB).
        row = con.execute(
            """
            WITH i AS (SELECT id, count(*) AS n FROM up_files GROUP BY id),
                 o AS (SELECT id, count(*) AS n
                       FROM (SELECT id FROM kept_files UNION ALL SELECT id FROM dropped_files) GROUP BY id)
            SELECT (SELECT count(*) FROM up_files), (SELECT count(*) FROM kept_files),
                   (SELECT count(*) FROM dropped_files),
                   coalesce(sum(greatest(coalesce(i.n, 0) - coalesce(o.n, 0), 0)), 0),
                   coalesce(sum(greatest(coalesce(o.n, 0) - coalesce(i.n, 0), 0)), 0)
            FROM i FULL OUTER JOIN o ON i.id IS NOT DISTINCT FROM o.id
            """).fetchall()[0]
    finally:
        con.close()
    n_in, n_kept, n_dropped, missing, extra = (int(x) for x in row)
    files, bad_files = 0, 0
    for e in iter_entries(out_dir, fields=("rows_in", "kept", "dropped_rows")):
        files += 1
        bad_files += e["rows_in"] != e["kept"] + e["dropped_rows"]
    return {"passed": n_in == n_kept + n_dropped and missing == 0 and extra == 0 and not bad_files,
            "input": n_in, "kept": n_kept, "dropped": n_dropped, "missing": missing, "unexpected": extra,
            "files": files, "unbalanced_files": bad_files}

