"""Ingest one source: stream its dump through the reader into Parquet shards, skipped records to dropped/.

    from pipelines.readers.ingest import ingest_source
    summary = ingest_source("books", dump_dir, out_dir, dropped_dir)

Both outputs are ShardedParquetWriter directories (built under a temporary name and renamed at the end),
so a failure leaves the previous outputs untouched and no half-written shard. `_stats.json`, written last
beside the dropped shards, keeps the reader's counts for the accounting check.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.base import Stats
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.io import ShardedParquetWriter, write_text
from pipelines.readers import read_source

PREVIEW_DOCS = 3
LOG_SKIPS = 3  # examples logged per skip reason
STATS_FILE = "_stats.json"  # "_" prefix: pyarrow dataset discovery skips it


# Rows buffered per shard bound the memory of an ingest run (about rows x mean document size), whatever
# the size of the dump.
def ingest_source(source: str, dump_dir: str | Path, out_dir: str | Path, dropped_dir: str | Path,
                  rows_per_shard: int = 10_000, log=None) -> dict:
    """Read every record of `dump_dir`; return a summary (counts, bytes, skipped per reason, timings)."""
    stats, notes, preview = Stats(), {}, []
    t0 = time.perf_counter()
    out = ShardedParquetWriter(out_dir, RAW_SCHEMA, rows_per_shard=rows_per_shard)
    dropped = ShardedParquetWriter(dropped_dir, DROPPED_SCHEMA, rows_per_shard=rows_per_shard)
    logged: dict[str, int] = {}

    def on_skip(s) -> None:
        dropped.write(s.row())
        logged[s.reason] = logged.get(s.reason, 0) + 1
        if log and logged[s.reason] <= LOG_SKIPS:  # every skip is in dropped/; the log shows examples
            log(f"{source}: skipped {s.origin} ({s.reason}): {s.detail}")

    try:
        for doc in read_source(source, dump_dir, stats=stats, notes=notes, on_skip=on_skip):
            out.write(doc.row())
            if len(preview) < PREVIEW_DOCS:
                preview.append(doc)
            if log and stats.read % 50_000 == 0:
                log(f"{source}: {stats.read} records read")
    except BaseException:
        out.abort()
        dropped.abort()
        raise
    out.close()
    dropped.close()
    seconds = time.perf_counter() - t0
    summary = {
        "source": source,
        "records_read": stats.read,
        "documents": stats.kept,
        "skipped": sum(stats.dropped.values()),
        "skipped_by_reason": dict(sorted(stats.dropped.items())),
        "bytes": stats.bytes_kept,
        "bytes_skipped": sum(stats.bytes_dropped.values()),
        "seconds": round(seconds, 3),
        "docs_per_s": round(stats.kept / seconds, 1) if seconds > 0 else None,
        "mb_per_s": round(stats.bytes_in / 1e6 / seconds, 2) if seconds > 0 else None,
        "shards": out.shards,
        "notes": {k: v for k, v in sorted(notes.items()) if v},
        "balanced": stats.balanced,
    }
    write_text(Path(dropped_dir) / STATS_FILE, json.dumps(summary, indent=1, sort_keys=True))
    summary["preview"] = [{"id": d.id, "title": d.title, "url": d.url, "origin": d.origin,
                           "text": d.text[:300]} for d in preview]
    return summary


def check_accounting(out_dir: str | Path, dropped_dir: str | Path) -> tuple[bool, dict]:
    """Records read (from _stats.json) == rows written + rows skipped, and per-reason counts agree."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    stats_path = Path(dropped_dir) / STATS_FILE
    if not stats_path.exists():
        return False, {"error": f"{stats_path} missing: materialize raw_documents first"}
    summary = json.loads(stats_path.read_text())
    written = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(Path(out_dir).glob("part-*.parquet")))
    reasons: dict[str, int] = {}
    for p in sorted(Path(dropped_dir).glob("part-*.parquet")):
        col = pq.read_table(p, columns=["reason"])["reason"]
        for item in pc.value_counts(col).to_pylist():
            reasons[item["values"]] = reasons.get(item["values"], 0) + item["counts"]
    skipped = sum(reasons.values())
    ok = (summary["records_read"] == written + skipped and written == summary["documents"]
          and dict(sorted(reasons.items())) == summary["skipped_by_reason"])
    return ok, {"records_read": summary["records_read"], "written": written, "skipped": skipped,
                "skipped_by_reason": dict(sorted(reasons.items()))}
