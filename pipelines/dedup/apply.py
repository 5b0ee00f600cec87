"""Step 3, one task per input file: read the file and its decisions, write its kept and dropped files.

Decisions of a file are small (its drops, survivor counts and removed line numbers); the file itself is
read and written in batches, so memory is bounded by the file's decisions plus one batch.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.base import Stats
from pipelines.dedup.line import remove_lines
from pipelines.dedup.plan import Plan, globs
from pipelines.document import DROPPED_SCHEMA
from pipelines.partition import PartWriter

ROWS = 2_000


def _decisions(plan: Plan, index: int) -> tuple[dict, dict, dict]:
    d = plan.path("decisions", f"f-{index:05d}")
    drops: dict[int, tuple[str, str]] = {}
    for f in globs(d, "drop-*.parquet"):
        t = pq.read_table(f)
        for doc, reason, detail in zip(t.column("doc").to_pylist(), t.column("reason").to_pylist(),
                                       t.column("detail").to_pylist()):
            drops.setdefault(doc, (reason, detail))
    dups: dict[int, int] = defaultdict(int)
    for f in globs(d, "dups-*.parquet"):
        t = pq.read_table(f)
        for doc, n in zip(t.column("doc").to_pylist(), t.column("n").to_pylist()):
            dups[doc] += n
    lines: dict[int, list[int]] = defaultdict(list)
    for f in globs(d, "lines-*.parquet"):
        t = pq.read_table(f)
        for doc, ln in zip(t.column("doc").to_pylist(), t.column("line").to_pylist()):
            lines[doc].append(ln)
    return drops, dups, lines


class Apply:
    """apply(index of an input file) -> its manifest entry (PartWriter names, counts, Stats)."""

    def __init__(self, plan: Plan, keys: list[str], out_dir: str, dropped_dir: str, schema: pa.Schema,
                 stage: str):
        self.plan, self.keys, self.out_dir, self.dropped_dir = plan, keys, out_dir, dropped_dir
        self.schema, self.stage = schema, stage

    def __call__(self, index: int) -> dict:
        t0 = time.perf_counter()
        plan = self.plan
        key = self.keys[index - plan.n_ref_files]
        drops, dups, lines = _decisions(plan, index)
        kept_w = PartWriter(self.out_dir, key, self.schema)
        drop_w = PartWriter(self.dropped_dir, key, DROPPED_SCHEMA)
        stats = Stats()
        doc = plan.offsets[index]
        try:
            for batch in pq.ParquetFile(plan.files[index]).iter_batches(batch_size=ROWS):
                table = pa.Table.from_batches([batch])
                kept, dropped = self._batch(table, doc, drops, dups, lines, stats)
                kept_w.write_table(kept)
                drop_w.write_table(pa.Table.from_pylist(dropped, schema=DROPPED_SCHEMA))
                doc += table.num_rows
            out, out_sha, n_kept = kept_w.close()
            dname, dsha, n_dropped = drop_w.close()
        except BaseException:
            kept_w.abort()
            drop_w.abort()
            raise
        rows_in = doc - plan.offsets[index]
        if n_kept + n_dropped != rows_in or not stats.balanced:
            raise AssertionError(f"accounting error in {plan.files[index]}: {rows_in} in, {n_kept} kept, "
                                 f"{n_dropped} dropped")
        return {"output": out, "output_sha256": out_sha, "dropped": dname, "dropped_sha256": dsha,
                "rows_in": rows_in, "kept": n_kept, "dropped_rows": n_dropped, "stats": stats.as_dict(),
                "apply_seconds": round(time.perf_counter() - t0, 3)}

    def _batch(self, table: pa.Table, doc0: int, drops, dups, lines, stats: Stats):
        source = self.plan.source
        ids = table.column("id").to_pylist()
        texts = table.column("text").to_pylist()
        keep = np.zeros(table.num_rows, dtype=bool)
        new_texts, n_dups, n_lines, dropped = [], [], [], []

        def drop(k: int, reason: str, nbytes: int, detail: str | None) -> None:
            dropped.append({"id": ids[k], "source": source, "stage": self.stage, "reason": reason,
                            "detail": detail, "bytes": nbytes})
            stats.drop(reason, nbytes)

        for k, t in enumerate(texts):
            g = doc0 + k
            nbytes = len(t.encode("utf-8", "surrogatepass")) if t is not None else 0
            if t is None:
                drop(k, "null_text", 0, "the reader produced no text")
            elif not t.strip():
                drop(k, "empty_text", nbytes, None)
            elif g in drops:
                drop(k, drops[g][0], nbytes, drops[g][1])
            else:
                removed = lines.get(g)
                if removed:
                    t = remove_lines(t, removed)
                    if not t.strip():
                        drop(k, "line_dedup_empty", nbytes, f"{len(removed)} repeated lines")
                        continue
                keep[k] = True
                stats.keep(nbytes)
                new_texts.append(t)
                n_dups.append(dups.get(g, 0))
                n_lines.append(len(removed) if removed else 0)
        kept = table.filter(pa.array(keep))
        kept = kept.set_column(kept.column_names.index("text"), "text", pa.array(new_texts, pa.string()))
        kept = kept.append_column("cluster_id", kept.column("id")) \
            .append_column("duplicates", pa.array(n_dups, pa.int64())) \
            .append_column("lines_removed", pa.array(n_lines, pa.int64()))
        return kept, dropped


def apply_all(engine, plan: Plan, keys: list[str], out_dir: Path, dropped_dir: Path, schema: pa.Schema,
              stage: str, log=None) -> list[dict]:
    fn = Apply(plan, keys, str(out_dir), str(dropped_dir), schema, stage)
    return engine.map(fn, list(range(plan.n_ref_files, len(plan.files))), desc="dedup apply", log=log)
