"""The `deduplicated` stage: exact, then MinHash near-duplicate, then CCNet line dedup, per recipe.

Order matters: exact duplicates go first (reason `exact_duplicate`); MinHash then sees whole documents
(so near-duplicates are judged on their full text, as the planted truth is); line dedup runs last on
the survivors, so it strips shared boilerplate lines without erasing near-duplicate pairs first.

Drop reasons: null_text, empty_text, exact_duplicate, near_duplicate (detail: the survivor's id),
line_dedup_empty (every line was a repeat).
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import recipes
from pipelines.dedup.exact import exact_duplicates
from pipelines.dedup.line import dedup_lines
from pipelines.dedup.minhash import MinHashParams, find_near_duplicates
from pipelines.document import RAW_SCHEMA
from pipelines.stage import DropLog, StageResult, add_columns, finish, text_bytes

STAGE = recipes.DEDUP
ADDED_COLUMNS = [("cluster_id", pa.string()),     # id of the survivor (itself for every kept document)
                 ("duplicates", pa.int64()),      # documents dropped as exact or near copies of it
                 ("lines_removed", pa.int64())]   # lines removed by line dedup
SCHEMA = pa.schema(list(RAW_SCHEMA) + [pa.field(n, t) for n, t in ADDED_COLUMNS])


def deduplicate(table: pa.Table, source: str, params: MinHashParams, workdir: str | os.PathLike | None = None,
                workers: int = 1, shard_rows: int = 20_000) -> StageResult:
    """Run the source's dedup steps over one partition (RAW_SCHEMA rows)."""
    t0 = time.perf_counter()
    n = table.num_rows
    ids = table.column("id").to_pylist()
    texts_col = table.column("text")
    texts = texts_col.to_pylist()
    nbytes = text_bytes(texts_col)
    drops = DropLog(source, STAGE)
    alive = np.ones(n, dtype=bool)
    duplicates = np.zeros(n, dtype=np.int64)
    index = {i: k for k, i in enumerate(ids)}
    info: dict = {"steps": recipes.as_dict(source, STAGE)}

    for k, t in enumerate(texts):
        if t is None:
            drops.add(ids[k], "null_text", 0, "the reader produced no text")
            alive[k] = False
        elif not t.strip():
            drops.add(ids[k], "empty_text", nbytes[k])
            alive[k] = False

    if recipes.step(source, STAGE, "exact"):
        live = np.flatnonzero(alive)
        dup_of = exact_duplicates([ids[k] for k in live], [texts[k] for k in live])
        for k, d in zip(live, dup_of):
            if d is not None:
                drops.add(ids[k], "exact_duplicate", nbytes[k], d)
                alive[k] = False
                duplicates[index[d]] += 1
        info["exact_duplicates"] = int(sum(d is not None for d in dup_of))

    near = recipes.step(source, STAGE, "minhash")
    if near:
        p = replace(params, threshold=near.params["threshold"], measure=near.params["measure"])
        live = np.flatnonzero(alive)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            sub = table.select(["text"]).take(pa.array(live, type=pa.int64()))
            shards = []
            for s in range(max(1, -(-len(live) // shard_rows))):
                path = Path(tmp) / f"text-{s:05d}.parquet"
                pq.write_table(sub.slice(s * shard_rows, shard_rows), path)
                shards.append(path)
            live_ids = [ids[k] for k in live]
            nd = find_near_duplicates(shards, live_ids, sub.column("text"), p, Path(tmp) / "bands",
                                      workers=workers)
        dropped_near = 0
        for j in np.flatnonzero(nd.survivor != np.arange(len(live))):
            k, s = live[j], int(nd.survivor[j])
            drops.add(ids[k], "near_duplicate", nbytes[k], live_ids[s])
            alive[k] = False
            duplicates[live[s]] += 1
            dropped_near += 1
        info.update(near_duplicates=dropped_near, minhash_candidates=nd.candidates,
                    minhash_verified_pairs=len(nd.pairs), minhash_seconds=round(time.perf_counter() - t1, 3),
                    minhash=dict(num_perm=p.num_perm, bands=p.bands, rows=p.rows, ngram=p.ngram,
                                 threshold=p.threshold, measure=p.measure))

    lines_removed = np.zeros(n, dtype=np.int64)
    if recipes.step(source, STAGE, "line"):
        live = np.flatnonzero(alive)
        new_texts, removed = dedup_lines([texts[k] for k in live])
        for k, t, r in zip(live, new_texts, removed):
            lines_removed[k] = r
            if r and not t.strip():
                drops.add(ids[k], "line_dedup_empty", nbytes[k], f"{r} repeated lines")
                alive[k] = False
            texts[k] = t
        info["lines_removed"] = int(lines_removed.sum())

    out = add_columns(table, {
        "text": pa.array(texts, type=pa.string()),
        "cluster_id": pa.array(ids, type=pa.string()),
        "duplicates": pa.array(duplicates),
        "lines_removed": pa.array(lines_removed),
    }, SCHEMA)
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return finish(out, alive.tolist(), drops, info, nbytes)
