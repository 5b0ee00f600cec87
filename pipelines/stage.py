"""Plumbing shared by the curation stages: read a partition, split it into kept and dropped, write both.

A stage function takes the partition's table and returns a `StageResult`; `write_result` writes the
kept rows to `<root>/<asset>/<source>/part-*.parquet` and the dropped ones (DROPPED_SCHEMA) to
`<root>/dropped/<asset>/<source>/part-*.parquet`, each folder atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.base import Stats
from pipelines.document import DROPPED_SCHEMA
from pipelines.io import atomic_path

ROWS_PER_SHARD = 20_000


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


def _write_shards(table: pa.Table, directory: Path, rows_per_shard: int = ROWS_PER_SHARD) -> int:
    with atomic_path(directory) as tmp:
        tmp.mkdir(parents=True)
        n = max(1, -(-table.num_rows // rows_per_shard))
        for i in range(n):
            pq.write_table(table.slice(i * rows_per_shard, rows_per_shard), tmp / f"part-{i:05d}.parquet",
                           compression="zstd")
    return n


def write_result(result: StageResult, root: str | os.PathLike, asset: str, source: str) -> dict:
    """Write kept and dropped rows of one partition; returns their paths."""
    root = Path(root)
    kept_dir = root / asset / source
    dropped_dir = root / "dropped" / asset / source
    _write_shards(result.dropped, dropped_dir)
    _write_shards(result.kept, kept_dir)
    return {"kept": str(kept_dir), "dropped": str(dropped_dir)}


def read_partition(directory: str | os.PathLike) -> tuple[pa.Table, int]:
    """Every shard of an upstream partition. Text that is not valid UTF-8 (a writer that bypassed
    Arrow's checks) is decoded with U+FFFD replacements instead of failing or losing the document;
    returns (table, number of repaired texts)."""
    directory = Path(directory)
    parts = sorted(directory.glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no Parquet shards under {directory}: materialize the upstream asset first")
    tables, repaired = [], 0
    for p in parts:
        try:
            t = pq.read_table(p)
        except Exception as e:  # noqa: BLE001 - name the file in the message
            raise ValueError(f"cannot read {p}: {e}") from e
        try:
            t.validate(full=True)
        except pa.ArrowInvalid:
            t, n = _repair_utf8(p)
            repaired += n
        tables.append(t)
    return pa.concat_tables(tables, promote_options="default"), repaired


def _repair_utf8(path: Path) -> tuple[pa.Table, int]:
    schema = pq.read_schema(path)
    cols = {f.name: pa.binary() if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else f.type
            for f in schema}
    raw = pq.read_table(path, schema=pa.schema([(k, v) for k, v in cols.items()]))
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


def balance(upstream_dir: str | os.PathLike, kept_dir: str | os.PathLike, dropped_dir: str | os.PathLike) -> dict:
    """Re-read a stage's input and both outputs from disk: every input id must be kept or dropped, once.

    Returns counts and `passed`. Used by the asset checks (input = kept + dropped).
    """
    import duckdb

    def files(d) -> list[str]:
        return [str(p) for p in sorted(Path(d).glob("part-*.parquet"))]

    up, kept, dropped = files(upstream_dir), files(kept_dir), files(dropped_dir)
    if not up or not kept or not dropped:
        return {"passed": False, "error": f"missing shards: input {len(up)}, kept {len(kept)}, dropped {len(dropped)}"}
    con = duckdb.connect()
    try:
        row = con.execute(
            """
            WITH i AS (SELECT id FROM read_parquet($up)),
                 o AS (SELECT id FROM read_parquet($kept) UNION ALL SELECT id FROM read_parquet($dropped))
            SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM read_parquet($kept)),
                   (SELECT count(*) FROM read_parquet($dropped)),
                   (SELECT count(*) FROM (SELECT id FROM i EXCEPT ALL SELECT id FROM o)),
                   (SELECT count(*) FROM (SELECT id FROM o EXCEPT ALL SELECT id FROM i))
            """, {"up": up, "kept": kept, "dropped": dropped}).fetchall()[0]
    finally:
        con.close()
    n_in, n_kept, n_dropped, missing, extra = (int(x) for x in row)
    return {"passed": n_in == n_kept + n_dropped and missing == 0 and extra == 0, "input": n_in,
            "kept": n_kept, "dropped": n_dropped, "missing": missing, "unexpected": extra}
