"""Book containment by key range: candidate pairs, exact containment, each dropped book's partner, with
no process holding all pairs.

A book pair is a candidate when the two share at least `candidate` of the smaller one's sampled
shingles (summed over the buckets of bucket-*/bookpairs.parquet); it is verified when at least
`threshold` of the shorter book's exact shingle set is in the other's. The shorter book of a verified
pair loses (equal sizes: the worse by the survivor order, survivor.py); a loser that is not a reference
is dropped as `contained_book`, detail the id of its best partner: the largest winner, then the best by
the survivor order.

The document indices are cut into near.py's ranges; steps 1, 3 and 4 are one engine task per range
(1 and 3 write one small file per range under work/books/, 4 the drops of its losers):
1. CandidateRange, by range of `a` (pairs a < b): the summed shared counts of its pairs, the threshold:
   cand-<k>, sorted by (a, b).
2. One fetch task per task (group of files) holding a candidate (verify.py FetchDocs): shingle sets, rank columns.
3. VerifyRange, by range of `a`: exact containment of the range's candidates; per verified pair its
   loser, the winner, the winner's size and rank columns: ver-<k>, sorted by loser.
4. PartnerRange, by range of the loser: each loser's best partner, its drops.

The decision for a loser depends only on the verified pairs it loses, all read by the one task of its
range, and the survivor order is total (comparing two books within a task orders them as among all
books), so the drops are those of a single pass over all pairs, whatever the ranges.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.gather import _write_drops
from pipelines.dedup.near import ranges
from pipelines.dedup.plan import Plan, copy_to, globs, lit, query_table
from pipelines.dedup.survivor import SQL_ORDER
from pipelines.dedup.verify import _exact_scores, fetch_docs, release_memory

RANK = ("id", "ref", "lower_pct", "boiler", "words")   # rank columns of the fetched rank files (and ref)


def _path(plan: Plan, kind: str, k: int):
    return plan.path("books", f"{kind}-{k:05d}.parquet")


def _ranked(con, plan: Plan, nodes: np.ndarray, files: list[str]) -> pa.Table:
    """Rank columns of the given documents (from the fetched rank files), best first."""
    con.register("nodes", pa.table({"doc": nodes}))
    return query_table(con, f"""
        SELECT doc, id, doc < {plan.n_ref} AS ref, lower_pct, boiler, words
        FROM read_parquet({lit(files)}) AS t SEMI JOIN nodes USING (doc) ORDER BY {SQL_ORDER}""")


class CandidateRange:
    """Candidate pairs whose `a` is in range k: cand-<k> (a, b). Returns counts and the input files
    holding a candidate."""

    def __init__(self, plan: Plan, pair_files: list[str], doc_files: list[str]):
        self.plan, self.pair_files, self.doc_files = plan, pair_files, doc_files

    def __call__(self, k: int) -> dict:
        plan = self.plan
        lo, hi = ranges(plan)[k]
        out = _path(plan, "cand", k)
        out.parent.mkdir(parents=True, exist_ok=True)
        con = plan.connect(f"books-cand-{k:05d}")
        try:
            n = copy_to(con, f"""
                WITH s AS (SELECT a, b, sum(shared) AS shared FROM read_parquet({lit(self.pair_files)})
                           WHERE a >= {lo} AND a < {hi} GROUP BY a, b),
                     need AS (SELECT a AS doc FROM s UNION SELECT b FROM s),
                     d AS (SELECT doc, n_sample FROM read_parquet({lit(self.doc_files)}) AS t
                           SEMI JOIN need USING (doc))
                SELECT s.a, s.b FROM s JOIN d da ON da.doc = s.a JOIN d db ON db.doc = s.b
                WHERE s.shared >= {lit(float(plan.books.candidate))} * least(da.n_sample, db.n_sample)
                ORDER BY s.a, s.b""", out)
            docs = query_table(con, f"""SELECT DISTINCT doc FROM (SELECT a AS doc FROM read_parquet({lit(str(out))})
                UNION ALL SELECT b FROM read_parquet({lit(str(out))}))""").column("doc").to_numpy()
        finally:
            con.close()
        return {"candidates": n, "files": sorted(set(plan.file_of(docs).tolist()))}


class VerifyRange:
    """Exact containment of the candidates of range k; ver-<k>: per verified pair whose loser is not a
    reference, (loser, doc: the winner, wsize: its shingles, its rank columns), sorted by loser."""

    def __init__(self, plan: Plan, shingle_files: list[str], rank_files: list[str]):
        self.plan, self.shingle_files, self.rank_files = plan, shingle_files, rank_files

    def __call__(self, k: int) -> int:
        plan, b = self.plan, self.plan.books
        t = pq.read_table(_path(plan, "cand", k))
        pairs = np.stack([t.column("a").to_numpy(), t.column("b").to_numpy()], axis=1).astype(np.int64).reshape(-1, 2)
        con = plan.connect(f"books-ver-{k:05d}")
        try:
            s = _exact_scores(plan, pairs, self.shingle_files, "", con)
            inter, na, nb = s[:, 0], s[:, 1], s[:, 2]
            ok = (np.minimum(na, nb) > 0) & (inter >= b.threshold * np.minimum(na, nb))
            pairs, na, nb = pairs[ok], na[ok], nb[ok]
            ranked = _ranked(con, plan, np.unique(pairs), self.rank_files)
            # Position in the survivor order among this range's books (lower is better): orders any two
            # of them as among all books, the order being total.
            rdocs = ranked.column("doc").to_numpy()
            by_doc = np.argsort(rdocs)
            ra, rb = (by_doc[np.searchsorted(rdocs, pairs[:, j], sorter=by_doc)] for j in (0, 1))
            # The shorter one goes; equal sizes: the worse by the survivor order.
            a_loses = (na < nb) | ((na == nb) & (ra > rb))
            loser = np.where(a_loses, pairs[:, 0], pairs[:, 1])
            keep = loser >= plan.n_ref  # references are never dropped
            order = np.flatnonzero(keep)[np.argsort(loser[keep], kind="stable")]
            a_loses = a_loses[order]
            cols = {"loser": loser[order], "doc": np.where(a_loses, pairs[order, 1], pairs[order, 0]),
                    "wsize": np.where(a_loses, nb[order], na[order])}
            take = pa.array(np.where(a_loses, rb[order], ra[order]))
            con.register("v", pa.table({**{c: pa.array(v, pa.int64()) for c, v in cols.items()},
                                        **{c: ranked.column(c).take(take) for c in RANK}}))
            # DuckDB's row groups (min/max statistics) let a partner task skip the other losers.
            copy_to(con, "SELECT * FROM v ORDER BY loser", _path(plan, "ver", k))
        finally:
            con.close()
        release_memory()
        return int(ok.sum())


class PartnerRange:
    """Drops of the losers in range k: each one's best partner (most shingles, then survivor order)."""

    def __init__(self, plan: Plan, ver_files: list[str]):
        self.plan, self.ver_files = plan, ver_files

    def __call__(self, k: int) -> int:
        plan = self.plan
        lo, hi = ranges(plan)[k]
        con = plan.connect(f"books-partner-{k:05d}")
        try:
            drops = query_table(con, f"""
                WITH v AS (SELECT * FROM read_parquet({lit(self.ver_files)}) WHERE loser >= {lo} AND loser < {hi}),
                     w AS (SELECT loser, doc, id, row_number() OVER (PARTITION BY loser
                                  ORDER BY wsize DESC, {SQL_ORDER}) AS rk FROM v)
                SELECT loser AS doc, 'contained_book' AS reason, id AS detail, doc AS sdoc FROM w
                WHERE rk = 1 ORDER BY loser""")
        finally:
            con.close()
        _write_drops(plan, drops, f"books-{k:05d}")
        n = drops.num_rows
        del drops
        release_memory()
        return n


def contained_books(engine, plan: Plan, log=None) -> dict:
    """Candidate book pairs from the sampled-shingle index, verified by exact containment, by range."""
    pair_files = globs(plan.path(), "bucket-*/bookpairs.parquet")
    doc_files = globs(plan.path("docs"), "docs-*.parquet")
    info = {"book_candidates": 0, "book_pairs_verified": 0, "contained_books": 0}
    if not pair_files or not doc_files:
        return info
    ks = list(range(plan.buckets))
    cand = engine.map(CandidateRange(plan, pair_files, doc_files), ks, desc="dedup book candidates", log=log)
    info["book_candidates"] = sum(r["candidates"] for r in cand)
    if info["book_candidates"] == 0:
        return info
    need = plan.path("book-fetch-need.parquet")
    c = lit(globs(plan.path("books"), "cand-*.parquet"))
    con = plan.connect("books-need")
    try:
        copy_to(con, f"""SELECT doc, true AS shingles, true AS rank FROM (SELECT a AS doc FROM read_parquet({c})
                         UNION SELECT b FROM read_parquet({c})) ORDER BY doc""", need)
    finally:
        con.close()
    files = sorted(set().union(*(r["files"] for r in cand)))
    shingle_files, rank_files = fetch_docs(engine, plan, need, files, plan.books.ngram, "book-fetch", log)
    verified = engine.map(VerifyRange(plan, shingle_files, rank_files), ks, desc="dedup book verify", log=log)
    info["book_pairs_verified"] = sum(verified)
    if info["book_pairs_verified"] == 0:
        return info
    ver_files = globs(plan.path("books"), "ver-*.parquet")
    info["contained_books"] = sum(engine.map(PartnerRange(plan, ver_files), ks, desc="dedup book partners",
                                             log=log))
    return info
