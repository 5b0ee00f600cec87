"""Proof that document ids are unique: one DuckDB pass over Parquet files (asset-independent).

    from pipelines.readers.idcheck import partition_files, duplicate_ids
    ok, info = duplicate_ids(partition_files(out_dir, with_dropped=True))

Ids are `doc_id(source, origin)` (128 bits over dump, file and record key), and readers give every record,
kept or skipped, a distinct origin; this check re-reads what was written and counts ids seen more than
once, so a reader that reuses an origin (or a hash collision) shows up. DuckDB aggregates out of core,
so it works over a whole corpus (every partition of raw_documents) as well as over one partition.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from pipelines.fs import as_path, register_parquet
from pipelines.partition import read_manifest


def partition_files(out_dir: str | os.PathLike, with_dropped: bool = False) -> list[Path]:
    """The Parquet files a partition's manifest lists (documents, and skipped records if asked)."""
    out_dir = as_path(out_dir)
    m = read_manifest(out_dir)
    if m is None:
        raise FileNotFoundError(f"no manifest under {out_dir}: materialize the partition first")
    files = [out_dir / e["output"] for e in m["files"]]
    if with_dropped:
        files += [out_dir / m["dropped_dir"] / e["dropped"] for e in m["files"]]
    return files


def duplicate_ids(files: Iterable[str | os.PathLike], column: str = "id", examples: int = 20) -> tuple[bool, dict]:
    """(no id repeats, {rows, distinct, repeated_ids, examples: [[id, count], ...]}) over `files`."""
    import duckdb  # imported lazily: only this check needs it

    files = list(files)
    if not files:
        return True, {"files": 0, "rows": 0, "distinct": 0, "repeated_ids": 0, "examples": []}
    con = duckdb.connect()
    try:
        register_parquet(con, "docs", files)
        con.execute(f'CREATE VIEW ids AS SELECT "{column}" AS id FROM docs')
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT id) FROM ids").fetchone()
        repeated = con.execute("SELECT id, count(*) AS n FROM ids GROUP BY id HAVING n > 1 "
                               "ORDER BY n DESC, id LIMIT ?", [examples]).fetchall()
        n_repeated = con.execute("SELECT count(*) FROM (SELECT id FROM ids GROUP BY id HAVING count(*) > 1)"
                                 ).fetchone()[0]
    finally:
        con.close()
    info = {"files": len(files), "rows": rows, "distinct": distinct, "repeated_ids": n_repeated,
            "examples": [[i, n] for i, n in repeated]}
    return n_repeated == 0, info
