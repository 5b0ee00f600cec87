"""Proof that document ids are unique: DuckDB over Parquet files (asset-independent).

    from pipelines.readers.idcheck import partition_files, duplicate_ids
    ok, info = duplicate_ids(partition_files(out_dir, with_dropped=True))

Ids are `doc_id(source, origin)` (128 bits over dump, file and record key), and readers give every record,
kept or skipped, a distinct origin; this check re-reads what was written and counts ids seen more than
once, so a reader that reuses an origin (or a hash collision) shows up. DuckDB aggregates out of core,
so it works over a whole corpus (every partition of raw_documents) as well as over one partition; the ids
are copied into its table a few files at a time (a scan holds reader state for every file it reads).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from pipelines.fs import as_path, copy_from_parquet
from pipelines.manifest import MANIFEST, NAMES, dropped_dir_of, iter_entries


def partition_files(out_dir: str | os.PathLike, with_dropped: bool = False) -> Iterator[Path]:
    """The Parquet files a partition's manifest lists (documents, and skipped records if asked), the
    manifest read as a stream (pipelines/manifest.py iter_entries): a partition of 80,000 files is not
    held as a list. FileNotFoundError when nothing is committed."""
    out_dir = as_path(out_dir)
    if not (out_dir / MANIFEST).is_file():
        raise FileNotFoundError(f"no manifest under {out_dir}: materialize the partition first")
    yield from (out_dir / e["output"] for e in iter_entries(out_dir, fields=NAMES))
    if with_dropped:
        header: dict = {}
        dropped = None
        for e in iter_entries(out_dir, fields=NAMES, header=header):
            dropped = dropped_dir_of(out_dir, header) if dropped is None else dropped
            yield dropped / e["dropped"]


ID_FILES = 64  # files scanned at once (DuckDB holds reader state per file of a scan)


def duplicate_ids(files: Iterable[str | os.PathLike], column: str = "id", examples: int = 20) -> tuple[bool, dict]:
    """(no id repeats, {rows, distinct, repeated_ids, examples: [[id, count], ...]}) over `files` (a
    stream is read as it goes: the ids are copied into a DuckDB table ID_FILES files at a time)."""
    import duckdb  # imported lazily: only this check needs it

    con = duckdb.connect()
    try:
        n = copy_from_parquet(con, "ids", files, f'"{column}" AS id', ID_FILES)
        if not n:
            return True, {"files": 0, "rows": 0, "distinct": 0, "repeated_ids": 0, "examples": []}
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT id) FROM ids").fetchone()
        repeated = con.execute("SELECT id, count(*) AS n FROM ids GROUP BY id HAVING n > 1 "
                               "ORDER BY n DESC, id LIMIT ?", [examples]).fetchall()
        n_repeated = con.execute("SELECT count(*) FROM (SELECT id FROM ids GROUP BY id HAVING count(*) > 1)"
                                 ).fetchone()[0]
    finally:
        con.close()
    info = {"files": n, "rows": rows, "distinct": distinct, "repeated_ids": n_repeated,
            "examples": [[i, n] for i, n in repeated]}
    return n_repeated == 0, info
