"""Step 2, one task per key bucket: DuckDB over its row groups of the scatter files, bounded in memory.

Every key lives in exactly one bucket, so each task decides alone and the union of the buckets'
answers does not depend on how many buckets there are or which finished first.
- ExactGather: groups of equal 128-bit content hash; all but the best (survivor.py) are dropped.
- BandGather: MinHash candidate pairs from equal (band, key), among documents exact dedup kept.
- BookGather: pairs of books sharing sampled shingles, with the count shared in this bucket.
- LineGather: CCNet lines whose hash occurred earlier in document order among surviving documents.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.dedup.minhash import BIG_BUCKET
from pipelines.dedup.plan import (
    Plan,
    bucket_number,
    bucket_rows,
    copy_to,
    globs,
    lit,
    query_table,
    write_by_task,
    write_parquet,
)
from pipelines.dedup.survivor import SQL_ORDER


def _in_bucket(plan: Plan, d: Path, pattern: str, tag: str, sql, out: Path | None = None):
    """`sql(rows)` over the rows of bucket `d` in the scatter files matching `pattern` (`rows` is a SQL
    relation), on a connection bounded in memory that spills to work/duckdb-<tag>-<bucket>: its rows
    as an Arrow table, or, given `out`, streamed to that Parquet file and counted. None when no
    scatter file of the kind exists or the bucket has no row in them."""
    files = globs(plan.path("scatter"), pattern)
    if not files:
        return None
    con = plan.connect(f"{tag}-{d.name}")
    try:
        rows = bucket_rows(files, bucket_number(d))
        if int(con.execute(f"SELECT count(*) FROM {rows}").fetchall()[0][0]) == 0:
            return None
        return copy_to(con, sql(rows), out) if out else query_table(con, sql(rows))
    finally:
        con.close()


def _live(plan: Plan, rows: str, columns: str) -> str:
    """Rows of the bucket whose document was not dropped by an earlier step."""
    dropped = globs(plan.path("dropped"), "*.parquet")
    sql = f"SELECT {columns} FROM {rows} AS t"
    return sql + (f" ANTI JOIN read_parquet({lit(dropped)}) AS x USING (doc)" if dropped else "")


def _write_drops(plan: Plan, drops: pa.Table, tag: str) -> None:
    """Drops (doc, reason, detail, sdoc) of a step: per task of input files, the survivors' counts, the index."""
    if drops.num_rows == 0:
        return
    write_by_task(plan, drops.select(["doc", "reason", "detail"]), "drop", tag)
    sdoc = drops.column("sdoc").to_numpy()
    u, n = np.unique(sdoc, return_counts=True)
    write_by_task(plan, pa.table({"doc": u.astype(np.int64), "n": n.astype(np.int64)}), "dups", tag)
    write_parquet(drops.select(["doc"]), plan.path("dropped", f"{tag}.parquet"))


class ExactGather:
    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, bucket_dir: str) -> dict:
        plan, d = self.plan, Path(bucket_dir)
        drops = _in_bucket(plan, d, "exact-*.parquet", "exact", lambda rows: f"""
            WITH e AS (SELECT *, doc < {plan.n_ref} AS ref FROM {rows}),
                 r AS (SELECT doc, ref, row_number() OVER w AS rk, first_value(doc) OVER w AS sdoc,
                              first_value(id) OVER w AS sid
                       FROM e WINDOW w AS (PARTITION BY h1, h2 ORDER BY {SQL_ORDER}))
            SELECT doc, 'exact_duplicate' AS reason, sid AS detail, sdoc FROM r
            WHERE rk > 1 AND NOT ref ORDER BY doc""")
        if drops is None:
            return {"exact_duplicates": 0}
        _write_drops(plan, drops, f"exact-{d.name}")
        return {"exact_duplicates": drops.num_rows}


class BandGather:
    """Candidate pairs (a < b) of one band-key bucket: all pairs of a small (band, key) group, star
    links to the smallest member in a group larger than BIG_BUCKET (templated pages). Sorted by `a`:
    a near.py range task reads the row groups of its range of `a` only."""

    def __init__(self, plan: Plan, big_bucket: int = BIG_BUCKET):
        self.plan, self.big = plan, big_bucket

    def __call__(self, bucket_dir: str) -> dict:
        plan, d = self.plan, Path(bucket_dir)
        n = _in_bucket(plan, d, "bands-*.parquet", "bands", lambda rows: f"""
            WITH k AS ({_live(plan, rows, "bkey, band, doc")}),
                 g AS (SELECT band, bkey, count(*) AS n, min(doc) AS m FROM k GROUP BY band, bkey
                       HAVING count(*) > 1),
                 small AS (SELECT x.doc AS a, y.doc AS b FROM k x JOIN g USING (band, bkey)
                           JOIN k y USING (band, bkey) WHERE g.n <= {self.big} AND x.doc < y.doc),
                 star AS (SELECT g.m AS a, k.doc AS b FROM k JOIN g USING (band, bkey)
                          WHERE g.n > {self.big} AND k.doc <> g.m)
            SELECT DISTINCT a, b FROM (SELECT * FROM small UNION ALL SELECT * FROM star) ORDER BY a, b""",
                       out=d / "pairs.parquet")
        return {"candidates": int(n or 0)}


class BookGather:
    """Pairs of books sharing sampled shingles of this bucket (each hash in at most max_df books), with
    the count shared here. Sorted by `a`: a books.py range task reads the row groups of its range only."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, bucket_dir: str) -> dict:
        plan, d = self.plan, Path(bucket_dir)
        n = _in_bucket(plan, d, "sample-*.parquet", "books", lambda rows: f"""
            WITH s AS ({_live(plan, rows, "h, doc")}),
                 df AS (SELECT h FROM s GROUP BY h HAVING count(*) BETWEEN 2 AND {plan.books.max_df}),
                 x AS (SELECT h, doc FROM s SEMI JOIN df USING (h))
            SELECT p.doc AS a, q.doc AS b, count(*) AS shared FROM x p JOIN x q USING (h)
            WHERE p.doc < q.doc GROUP BY ALL ORDER BY a, b""", out=d / "bookpairs.parquet")
        return {"pairs": int(n or 0)}


class LineGather:
    """Occurrences of a line hash after its first one (smallest document, then line) among documents
    not dropped by exact, near or book dedup: the lines step 3 removes."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, bucket_dir: str) -> dict:
        plan, d = self.plan, Path(bucket_dir)
        # Group-bys spill to disk where a window over all lines might not.
        removed = _in_bucket(plan, d, "lines-*.parquet", "lines", lambda rows: f"""
            WITH l AS ({_live(plan, rows, "lh, doc, line")}),
                 fd AS (SELECT lh, min(doc) AS d FROM l GROUP BY lh),
                 fl AS (SELECT l.lh, min(l.line) AS ln FROM l JOIN fd ON l.lh = fd.lh AND l.doc = fd.d
                        GROUP BY l.lh),
                 first AS (SELECT fd.lh, fd.d, fl.ln FROM fd JOIN fl USING (lh))
            SELECT l.doc, l.line FROM l JOIN first USING (lh)
            WHERE NOT (l.doc = first.d AND l.line = first.ln) AND l.doc >= {plan.n_ref}
            ORDER BY l.doc, l.line""")
        if removed is None:
            return {"lines_removed": 0}
        write_by_task(plan, removed, "lines", d.name)
        return {"lines_removed": removed.num_rows}
