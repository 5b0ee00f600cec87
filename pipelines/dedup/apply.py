"""Step 3, one task per run of input files (Plan.tasks): read the task's decisions, then each of its
files in order, writing one kept and one dropped file per input file (the partition's per-file manifest
entries, the same bytes however the files are grouped into tasks).

Decisions of a task are small (its files' drops, survivor counts and removed line numbers); each file is
read and written in batches, so memory is bounded by the task's decisions plus one batch.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.base import Stats
from pipelines.dedup.line import remove_lines
from pipelines.dedup.plan import Plan, globs, valid_batches
from pipelines.dedup.scatter import has_text
from pipelines.document import DROPPED_SCHEMA
from pipelines.manifest import Entries, entry_text
from pipelines.partition import Entry, PartWriter

ROWS = 5_000


def _decisions(plan: Plan, task: int) -> tuple[dict, dict, dict]:
    d = plan.path("decisions", f"t-{task:05d}")
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
    """apply(task) -> the manifest entries of its input files, in order (PartWriter names, counts, Stats)."""

    def __init__(self, plan: Plan, keys: list[str], out_dir: str, dropped_dir: str, schema: pa.Schema,
                 stage: str):
        self.plan, self.keys, self.out_dir, self.dropped_dir = plan, keys, out_dir, dropped_dir
        self.schema, self.stage = schema, stage

    def __call__(self, task: int) -> list[str]:
        """The entries as their manifest text (pipelines.manifest.entry_text): the driver holds a text
        per file (~0.5 KB) instead of a dict (~2 KB), and a string crosses processes cheaply."""
        drops, dups, lines = _decisions(self.plan, task)
        return [entry_text(self._file(index, drops, dups, lines)) for index in self.plan.task_files(task)]

    def _file(self, index: int, drops: dict, dups: dict, lines: dict) -> dict:
        plan = self.plan
        key = self.keys[index - plan.n_ref_files]
        kept_w = PartWriter(self.out_dir, key, self.schema)
        drop_w = PartWriter(self.dropped_dir, key, DROPPED_SCHEMA)
        stats = Stats()
        doc = plan.offsets[index]
        try:
            for batch in valid_batches(plan.files[index], ROWS):
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
        return Entry.written((out, out_sha, n_kept), (dname, dsha, n_dropped), rows_in, stats.as_dict(), key=key,
                             input=Path(plan.files[index]).name).as_dict()

    def _batch(self, table: pa.Table, doc0: int, drops, dups, lines, stats: Stats):
        """Vectorized over the batch; Python only for dropped documents and texts that lose lines."""
        n = table.num_rows
        texts = table.column("text").combine_chunks()
        nbytes = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        null = texts.is_null().to_numpy(zero_copy_only=False)
        ok = has_text(texts)
        reason: dict[int, tuple[str, str | None]] = {}
        for k in np.flatnonzero(~ok).tolist():
            reason[k] = ("null_text", "the reader produced no text") if null[k] else ("empty_text", None)
        docs = np.arange(doc0, doc0 + n)
        for k in np.flatnonzero(ok).tolist():
            d = drops.get(doc0 + k)
            if d is not None:
                reason[k] = d
        n_lines = np.zeros(n, dtype=np.int64)
        changed, new = [], []
        touched = [k for k in range(n) if k not in reason and (doc0 + k) in lines] if lines else []
        if touched:
            for k, t in zip(touched, texts.take(pa.array(touched)).to_pylist()):
                removed = lines[doc0 + k]
                t = remove_lines(t, removed)
                if not t.strip():
                    reason[k] = ("line_dedup_empty", f"{len(removed)} repeated lines")
                else:
                    n_lines[k] = len(removed)
                    changed.append(k)
                    new.append(t)
        keep = np.ones(n, dtype=bool)
        keep[list(reason)] = False
        if changed:
            mask = np.zeros(n, dtype=bool)
            mask[changed] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(new, texts.type))
        ids = table.column("id")
        dropped = []
        for k in sorted(reason):
            r, detail = reason[k]
            dropped.append({"id": ids[k].as_py(), "source": self.plan.source, "stage": self.stage, "reason": r,
                            "detail": detail, "bytes": int(nbytes[k])})
            stats.drop(r, int(nbytes[k]))
        n_kept = int(keep.sum())
        stats.read += n_kept
        stats.kept += n_kept
        kept_bytes = int(nbytes[keep].sum())
        stats.bytes_in += kept_bytes
        stats.bytes_kept += kept_bytes
        sel = pa.array(keep)
        kept = table.set_column(table.column_names.index("text"), "text", texts).filter(sel)
        dup = np.fromiter((dups.get(int(d), 0) for d in docs[keep]), dtype=np.int64, count=n_kept) \
            if dups else np.zeros(n_kept, dtype=np.int64)
        kept = kept.append_column("cluster_id", kept.column("id")) \
            .append_column("duplicates", pa.array(dup)) \
            .append_column("lines_removed", pa.array(n_lines[keep]))
        return kept, dropped


def apply_all(engine, plan: Plan, keys: list[str], out_dir: Path, dropped_dir: Path, schema: pa.Schema,
              stage: str, log=None) -> Entries:
    """Every input file's manifest entry, in input order (one engine task per Plan task), held as text
    and read back one dict at a time."""
    fn = Apply(plan, keys, str(out_dir), str(dropped_dir), schema, stage)
    per_task = engine.map(fn, plan.input_tasks(), desc="dedup apply", log=log)
    entries = Entries(len(keys))
    i = 0
    for t, texts in enumerate(per_task):
        for text in texts:
            entries[i] = text
            i += 1
        per_task[t] = None
    if i != len(keys):
        raise AssertionError(f"dedup apply gave {i} entries for {len(keys)} input files")
    return entries
