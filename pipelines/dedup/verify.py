"""Step 2, after the buckets: fetch what verification needs.

Exact shingle sets and rank columns (survivor.py) come from the texts of only the documents that need
them, fetched by one task per Plan task whose files hold any (FetchDocs); `_exact_scores` joins
pairs with their sets in slices. MinHash near duplicates (near.py) and book containment (books.py)
use both, by key range.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.plan import (
    Plan,
    globs,
    lit,
    query_batches,
    valid_batches,
    write_parquet,
)
from pipelines.dedup.shingle import shingle_hashes
from pipelines.dedup.survivor import rank_columns

BATCH = 4_096
SLICE_PAIRS = 20_000  # pairs whose exact Jaccard / containment is computed per query


class FetchDocs:
    """One task (Plan.tasks), for the documents of its files listed in `need` (a Parquet file: doc,
    shingles, rank): the unique shingle hashes of those flagged `shingles`, the rank columns
    (survivor.py) of those flagged `rank`. One pass over the text of each file holding any."""

    def __init__(self, plan: Plan, need: str, ngram: int, name: str):
        self.plan, self.need, self.ngram, self.name = plan, need, ngram, name

    def __call__(self, task: int) -> int:
        plan, files = self.plan, self.plan.task_files(task)
        need = pq.read_table(self.need, filters=[("doc", ">=", plan.offsets[files[0]]),
                                                 ("doc", "<", plan.offsets[files[-1] + 1])])
        order = np.argsort(need.column("doc").to_numpy())
        all_docs = need.column("doc").to_numpy()[order]
        want_sh = need.column("shingles").to_numpy(zero_copy_only=False)[order]
        want_rk = need.column("rank").to_numpy(zero_copy_only=False)[order]
        docs, sets, ranks = [], [], []
        for index in files:
            lo, hi = plan.offsets[index], plan.offsets[index + 1]
            mine = (all_docs >= lo) & (all_docs < hi)
            if mine.any():
                self._file(index, all_docs[mine] - lo, want_sh[mine], want_rk[mine], docs, sets, ranks)
        if docs:
            write_parquet(pa.table({"doc": pa.array(docs, pa.int64()), "h": pa.array(sets, pa.list_(pa.int64()))}),
                          plan.path(self.name, f"s-{task:05d}.parquet"))
        if ranks:
            write_parquet(pa.concat_tables(ranks), plan.path(self.name, f"r-{task:05d}.parquet"))
        n = len(docs) + sum(t.num_rows for t in ranks)
        del docs, sets, ranks
        release_memory()
        return n

    def _file(self, index: int, rows_all, want_sh, want_rk, docs: list, sets: list, ranks: list) -> None:
        lo, start = self.plan.offsets[index], 0
        for batch in valid_batches(self.plan.files[index], 2_000, ["id", "text"]):
            n = batch.num_rows
            inside = (rows_all >= start) & (rows_all < start + n)
            rows = rows_all[inside & want_rk] - start
            if len(rows):
                sel = pa.array(rows)
                r = rank_columns(batch.column("text").take(sel))
                ranks.append(pa.table({"doc": pa.array(lo + start + rows, pa.int64()),
                                       "id": batch.column("id").take(sel).cast(pa.string()),
                                       **{k: pa.array(v.astype(np.int64)) for k, v in r.items()}}))
            rows = rows_all[inside & want_sh] - start
            if len(rows):
                hashes, off = shingle_hashes(batch.column("text").take(pa.array(rows)), self.ngram)
                for k, r in enumerate(rows.tolist()):
                    docs.append(lo + start + r)
                    sets.append(np.unique(hashes[off[k]:off[k + 1]]).view(np.int64))
            start += n


def release_memory() -> None:
    """Hand the memory Arrow freed during a task back to the system. A process that runs task after
    task (the local engine, a pool worker) otherwise keeps freed blocks, and its RSS climbs with the
    number of tasks, not the largest one (measured: +58 MB over 8 fetch tasks of 500 books)."""
    pa.default_memory_pool().release_unused()


def fetch_docs(engine, plan: Plan, need, files: list[int], ngram: int, name: str,
               log) -> tuple[list[str], list[str]]:
    """FetchDocs over the tasks of `files` (the input files holding a document of the `need` file): the
    written shingle files and rank files."""
    tasks = sorted(set(plan.task_of(files).tolist())) if len(files) else []
    engine.map(FetchDocs(plan, str(need), ngram, name), tasks, desc=f"dedup fetch {name}", log=log)
    return globs(plan.path(name), "s-*.parquet"), globs(plan.path(name), "r-*.parquet")


def _exact_scores(plan: Plan, pairs: np.ndarray, shingle_files: list[str], tag: str, con=None) -> np.ndarray:
    """[K, 3]: |A & B|, |A|, |B| for each pair (a, b) of document indices (on `con` if given, else on a
    connection of its own)."""
    out = np.zeros((len(pairs), 3), dtype=np.int64)
    if len(pairs) == 0:
        return out
    own = con is None
    con = plan.connect(tag) if own else con
    f = lit(shingle_files)
    try:
        # Slices of SLICE_PAIRS pairs, each joined with the shingle sets of its own documents only:
        # joining all pairs at once held every fetched set (~1 KB a document) in the join.
        for lo in range(0, len(pairs), SLICE_PAIRS):
            part = pairs[lo:lo + SLICE_PAIRS]
            con.register("p", pa.table({"k": np.arange(lo, lo + len(part)), "a": part[:, 0], "b": part[:, 1]}))
            reader = query_batches(con, f"""
                WITH need AS (SELECT a AS doc FROM p UNION SELECT b FROM p),
                     s AS (SELECT doc, h FROM read_parquet({f}) AS t SEMI JOIN need USING (doc))
                SELECT p.k, sa.h AS ha, sb.h AS hb FROM p JOIN s sa ON sa.doc = p.a
                JOIN s sb ON sb.doc = p.b""", BATCH)
            for batch in reader:
                ks = batch.column("k").to_numpy()
                for k, x, y in zip(ks, _lists(batch, "ha"), _lists(batch, "hb")):
                    out[k] = (len(np.intersect1d(x, y, assume_unique=True)), len(x), len(y))
            del reader
            con.unregister("p")
    finally:
        if own:
            con.close()
    return out


def _sigs(col: pa.Array, width: int) -> np.ndarray:
    """[n, num_perm] uint32 from a column of signatures (DuckDB returns them as variable-size BLOBs)."""
    if pa.types.is_fixed_size_binary(col.type):
        start, data = col.offset * width, col.buffers()[1]
    else:
        dtype = np.int64 if pa.types.is_large_binary(col.type) else np.int32
        start, data = int(np.frombuffer(col.buffers()[1], dtype)[col.offset]), col.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[start:start + len(col) * width]
    return raw.view(np.uint32).reshape(len(col), width // 4)


def _lists(batch: pa.RecordBatch, name: str):
    col = batch.column(name)
    values = col.values.to_numpy()
    off = col.offsets.to_numpy()
    return [values[off[i]:off[i + 1]] for i in range(len(col))]
