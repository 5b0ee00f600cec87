"""MinHash near duplicates by key range: verify candidate pairs, build clusters, choose survivors, with
no process holding all pairs (nor all clustered documents).

The document indices [0, N) are cut into `plan.buckets` ranges; every step below is one engine task per
range, writing small files under work/near/, except the component merge, which runs in DuckDB bounded
in memory (it spills to the work dir).

1. EstimateRange: the distinct candidate pairs (a < b) of all buckets whose `a` is in the range, joined
   with both signatures; a pair whose estimate is more than MARGIN from the threshold is decided by it
   (acc-<k>), the others wait for their exact shingle Jaccard (chk-<k>); cand-<k>: the documents seen.
2. One fetch task per Plan task (run of input files) holding a document to check (shingle sets) or
   any candidate (rank columns: a superset of the cluster members, known only after the check).
3. VerifyRange: exact Jaccard of the range's checks; the accepted pairs' connected components within
   the range (union-find), written as star edges (doc, smallest doc of its local component).
4. components(): the local components merged by min-label propagation with pointer jumping over the
   star edges, until no label changes: every document in a verified pair gets the smallest document of
   its global component (the cluster label).
5. SurvivorRange, by range of the label: each cluster keeps its best member (survivor.py SQL_ORDER)
   and drops the others (not references) as `near_duplicate`, detail the survivor's id.

Whatever the ranges, the clusters are the connected components of all verified pairs and the survivor
is a function of the cluster, so the drops are those of a single-process clustering.
"""
from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.gather import _write_drops
from pipelines.dedup.minhash import clusters
from pipelines.dedup.plan import Plan, copy_to, globs, lit, query_batches, query_table, write_parquet
from pipelines.dedup.survivor import SQL_ORDER
from pipelines.dedup.verify import BATCH, _exact_scores, _sigs, fetch_docs

MARGIN = 0.2   # over 5 standard deviations of the estimate at 128 permutations
PAIRS = pa.schema([("a", pa.int64()), ("b", pa.int64())])


def ranges(plan: Plan) -> list[tuple[int, int]]:
    """[lo, hi) of document indices per range: plan.buckets ranges of (nearly) equal width."""
    n, r = plan.offsets[-1], plan.buckets
    return [(n * k // r, n * (k + 1) // r) for k in range(r)]


def _path(plan: Plan, kind: str, k: int):
    return plan.path("near", f"{kind}-{k:05d}.parquet")


def _pairs(parts: list[np.ndarray]) -> pa.Table:
    ab = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
    return pa.table({"a": ab[:, 0].astype(np.int64), "b": ab[:, 1].astype(np.int64)}, schema=PAIRS)


def _read_pairs(path) -> np.ndarray:
    t = pq.read_table(path)
    return np.stack([t.column("a").to_numpy(), t.column("b").to_numpy()], axis=1).astype(np.int64).reshape(-1, 2)


class EstimateRange:
    def __init__(self, plan: Plan, pair_files: list[str], doc_files: list[str]):
        self.plan, self.pair_files, self.doc_files = plan, pair_files, doc_files

    def __call__(self, k: int) -> dict:
        plan, p = self.plan, self.plan.minhash
        lo, hi = ranges(plan)[k]
        width = 4 * p.num_perm
        accepted, check, seen, n = [], [], [], 0
        con = plan.connect(f"near-est-{k:05d}")
        try:
            reader = query_batches(con, f"""
                WITH c AS (SELECT DISTINCT a, b FROM read_parquet({lit(self.pair_files)})
                           WHERE a >= {lo} AND a < {hi}),
                     need AS (SELECT a AS doc FROM c UNION SELECT b FROM c),
                     d AS (SELECT doc, sig FROM read_parquet({lit(self.doc_files)}) AS t SEMI JOIN need USING (doc))
                SELECT c.a, c.b, da.sig AS sa, db.sig AS sb FROM c
                JOIN d da ON da.doc = c.a JOIN d db ON db.doc = c.b""", BATCH)
            for batch in reader:
                n += batch.num_rows
                sa, sb = _sigs(batch.column("sa"), width), _sigs(batch.column("sb"), width)
                est = (sa == sb).mean(axis=1)
                ab = np.stack([batch.column("a").to_numpy(), batch.column("b").to_numpy()], axis=1)
                near = np.abs(est - p.threshold) < MARGIN
                accepted.append(ab[~near & (est >= p.threshold)])
                check.append(ab[near])
                seen.append(np.unique(ab))
            del reader
        finally:
            con.close()
        check_t = _pairs(check)
        write_parquet(_pairs(accepted), _path(plan, "acc", k))
        write_parquet(check_t, _path(plan, "chk", k))
        docs = np.unique(np.concatenate(seen)).astype(np.int64) if seen else np.zeros(0, np.int64)
        write_parquet(pa.table({"doc": docs}), _path(plan, "cand", k))
        return {"candidates": n, "checks": check_t.num_rows, "files": sorted(set(plan.file_of(docs).tolist()))}


class VerifyRange:
    def __init__(self, plan: Plan, shingle_files: list[str]):
        self.plan, self.shingle_files = plan, shingle_files

    def __call__(self, k: int) -> int:
        plan, p = self.plan, self.plan.minhash
        pairs, check = _read_pairs(_path(plan, "acc", k)), _read_pairs(_path(plan, "chk", k))
        if len(check):
            s = _exact_scores(plan, check, self.shingle_files, f"near-verify-{k:05d}")
            jac = s[:, 0] / np.maximum(s[:, 1] + s[:, 2] - s[:, 0], 1)
            pairs = np.concatenate([pairs, check[(jac >= p.threshold) & (s[:, 1] > 0) & (s[:, 2] > 0)]])
        nodes, local = np.unique(pairs, return_inverse=True)
        root = nodes[clusters(len(nodes), local.reshape(-1, 2))]
        star = nodes != root
        write_parquet(pa.table({"a": nodes[star], "b": root[star]}, schema=PAIRS), _path(plan, "star", k))
        return len(pairs)


def components(plan: Plan) -> str:
    """work/near/labels.parquet (doc, lab: the smallest document of its component), sorted by lab."""
    con = plan.connect("near-components")
    e = f"read_parquet({lit(globs(plan.path('near'), 'star-*.parquet'))})"
    try:
        prev = plan.path("near", "label-00000.parquet")
        copy_to(con, f"""SELECT doc, min(lab) AS lab FROM (SELECT a AS doc, b AS lab FROM {e}
                         UNION ALL SELECT b, b FROM {e}) GROUP BY doc""", prev)
        for it in itertools.count(1):  # ends: labels only decrease, and only to documents
            cur = plan.path("near", f"label-{it:05d}.parquet")
            # A document takes the smallest label among its own, its neighbours' and its label's label
            # (pointer jumping: chains shrink by half per round, not by one edge).
            copy_to(con, f"""
                WITH l AS (SELECT doc, lab FROM read_parquet({lit(str(prev))})),
                     n AS (SELECT e.a AS doc, l.lab FROM {e} AS e JOIN l ON l.doc = e.b
                           UNION ALL SELECT e.b, l.lab FROM {e} AS e JOIN l ON l.doc = e.a
                           UNION ALL SELECT l.doc, j.lab FROM l JOIN l AS j ON j.doc = l.lab
                           UNION ALL SELECT doc, lab FROM l)
                SELECT doc, min(lab) AS lab FROM n GROUP BY doc""", cur)
            changed = con.execute(f"""SELECT count(*) FROM read_parquet({lit(str(cur))}) AS x
                JOIN read_parquet({lit(str(prev))}) AS y USING (doc) WHERE x.lab <> y.lab""").fetchall()[0][0]
            prev.unlink()
            prev = cur
            if changed == 0:
                break
        out = plan.path("near", "labels.parquet")
        copy_to(con, f"SELECT doc, lab FROM read_parquet({lit(str(prev))}) ORDER BY lab, doc", out)
        prev.unlink()
        return str(out)
    finally:
        con.close()


class SurvivorRange:
    """Drops of the clusters whose label is in range k: all members but the best, references kept."""

    def __init__(self, plan: Plan, labels: str, rank_files: list[str]):
        self.plan, self.labels, self.rank_files = plan, labels, rank_files

    def __call__(self, k: int) -> int:
        plan = self.plan
        lo, hi = ranges(plan)[k]
        con = plan.connect(f"near-survivor-{k:05d}")
        try:
            drops = query_table(con, f"""
                WITH l AS (SELECT doc, lab FROM read_parquet({lit(self.labels)}) WHERE lab >= {lo} AND lab < {hi}),
                     r AS (SELECT l.lab, t.doc, t.id, t.doc < {plan.n_ref} AS ref, t.lower_pct, t.boiler, t.words
                           FROM read_parquet({lit(self.rank_files)}) AS t JOIN l USING (doc)),
                     w AS (SELECT doc, ref, row_number() OVER w AS rk, first_value(doc) OVER w AS sdoc,
                                  first_value(id) OVER w AS sid
                           FROM r WINDOW w AS (PARTITION BY lab ORDER BY {SQL_ORDER}))
                SELECT doc, 'near_duplicate' AS reason, sid AS detail, sdoc FROM w
                WHERE rk > 1 AND NOT ref ORDER BY doc""")
        finally:
            con.close()
        _write_drops(plan, drops, f"near-{k:05d}")
        return drops.num_rows


def near_duplicates(engine, plan: Plan, log=None) -> dict:
    """Verify the buckets' candidate pairs, cluster, write `near_duplicate` drops. Returns counts."""
    pair_files = globs(plan.path(), "bucket-*/pairs.parquet")
    doc_files = globs(plan.path("docs"), "docs-*.parquet")
    info = {"minhash_candidates": 0, "minhash_exact_checks": 0, "minhash_verified_pairs": 0, "near_duplicates": 0}
    if not pair_files or not doc_files:
        return info
    ks = list(range(plan.buckets))
    est = engine.map(EstimateRange(plan, pair_files, doc_files), ks, desc="dedup minhash estimate", log=log)
    info["minhash_candidates"] = sum(r["candidates"] for r in est)
    info["minhash_exact_checks"] = sum(r["checks"] for r in est)
    if info["minhash_candidates"] == 0:
        return info
    need = plan.path("near-fetch-need.parquet")
    chk, cand = (lit(globs(plan.path("near"), f"{kind}-*.parquet")) for kind in ("chk", "cand"))
    con = plan.connect("near-need")
    try:
        copy_to(con, f"""SELECT doc, bool_or(sh) AS shingles, bool_or(rk) AS rank FROM (
            SELECT a AS doc, true AS sh, false AS rk FROM read_parquet({chk})
            UNION ALL SELECT b, true, false FROM read_parquet({chk})
            UNION ALL SELECT doc, false, true FROM read_parquet({cand})) GROUP BY doc ORDER BY doc""", need)
    finally:
        con.close()
    files = sorted(set().union(*(r["files"] for r in est)))
    shingle_files, rank_files = fetch_docs(engine, plan, need, files, plan.minhash.ngram, "near-fetch", log)
    verified = engine.map(VerifyRange(plan, shingle_files), ks, desc="dedup minhash verify", log=log)
    info["minhash_verified_pairs"] = sum(verified)
    if info["minhash_verified_pairs"] == 0:
        return info
    labels = components(plan)
    info["near_duplicates"] = sum(engine.map(SurvivorRange(plan, labels, rank_files), ks,
                                             desc="dedup minhash survivors", log=log))
    return info
