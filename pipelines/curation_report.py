"""DuckDB queries over the curation outputs: drops per source, stage and reason; what is left per source."""
from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.partition import committed_files

STAGES = ("deduplicated", "language_identified", "quality_filtered")


def _files(directory: Path, which: str = "output") -> list[str]:
    return [str(p) for p in committed_files(directory, which)]


def drop_table(root: str | Path) -> list[tuple]:
    """[(source, stage, reason, documents, bytes)] over every curation stage's dropped table."""
    root = Path(root)
    files = [f for s in STAGES for f in _files(root / s, "dropped")]
    if not files:
        return []
    return duckdb.sql(
        f"""SELECT source, stage, reason, count(*)::BIGINT AS documents, coalesce(sum(bytes), 0)::BIGINT AS bytes
            FROM read_parquet({files}) GROUP BY ALL ORDER BY source, stage, documents DESC, reason"""
    ).fetchall()


def kept_table(root: str | Path) -> list[tuple]:
    """[(source, raw documents, curated documents, curated bytes)]."""
    root = Path(root)
    out = []
    for src_dir in sorted((root / "quality_filtered").glob("*/")):
        files = _files(src_dir)
        raw = _files(root / "raw_documents" / src_dir.name)
        if not files:
            continue
        n, b = duckdb.sql(f"SELECT count(*), coalesce(sum(strlen(text)), 0)::BIGINT "
                          f"FROM read_parquet({files})").fetchall()[0]
        n_raw = duckdb.sql(f"SELECT count(*) FROM read_parquet({raw})").fetchall()[0][0] if raw else 0
        out.append((src_dir.name, int(n_raw), int(n), int(b)))
    return out
