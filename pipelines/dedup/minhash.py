"""MinHash LSH near-duplicate detection, vectorized with numpy and designed to spread over machines.

    signatures per shard (process pool) -> band keys (Parquet) -> one DuckDB query on (band, key)
    -> candidate pairs -> similarity check -> connected components (union-find) -> survivor = smallest id

Shingles (pipelines/dedup/shingle.py) are word n-grams of the lower-cased, whitespace-split text. The signature is datasketch's (>= 2.0, scheme "affine32"): each 32-bit shingle
hash is mixed by the MurmurHash3 finalizer, then permuted by `a*h + b mod 2^32` with the same `a`, `b`
datasketch draws from `RandomState(seed)`; tests check our signatures equal datasketch's bit for bit
when datasketch is given our shingle hash function. The speed comes from doing every step over all
shingles of a shard at once: one pyarrow tokenization, one rolling n-gram hash, one
`np.minimum.reduceat` per permutation over cache-sized blocks of documents.

LSH: `bands` bands of `rows` rows: `rows_per_band` (13), or fewer when the bands would not fit in the
signature (rows = min(rows_per_band, num_perm // bands)). Two documents become candidates when any band
agrees; the chance for Jaccard s is 1 - (1 - s^rows)^bands. Documents with identical signatures are
linked to one representative instead of to each other. A candidate pair is accepted when its
similarity reaches the threshold: the MinHash estimate decides when it is far (> 0.2, over 5 standard
deviations) from the threshold, the exact shingle Jaccard otherwise; so precision does not depend on
the banding, which only sets recall. The paper-scale default (9 bands x 13 rows = 117 of the 128
permutations, the last 11 unused; threshold ~(1/9)^(1/13) = 0.84, P(candidate | s = 0.8) = 0.40) follows
public reproductions (SPEC §1); the tiny profile uses 25 x 5 (P(candidate | s = 0.8) = 0.99995).

Distribution: shards are independent until the join. Each machine turns its shards into band-key
Parquet files (doc, band, key: 16 bytes per band and document); only those files meet in the join.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.shingle import (  # noqa: F401 (re-exported)
    MULT,
    as_text_array,
    shingle_hash32,
    shingle_hash64,
    shingle_hashes,
    shingles,
    word_hash,
)
from pipelines.io import atomic_path

_MULT = MULT


@dataclass(frozen=True)
class MinHashParams:
    num_perm: int = 128       # signature length (datasketch num_perm)
    bands: int = 9            # LSH bands
    rows_per_band: int = 13   # SPEC §1: 9 x 13 (117 of 128 permutations); capped at num_perm // bands
    ngram: int = 13           # word n-gram shingles
    threshold: float = 0.8    # verified Jaccard at or above which a candidate pair is a duplicate
    seed: int = 1             # permutation seed (datasketch's default)
    measure: str = "jaccard"  # "jaccard" or "containment" (|A & B| / min(|A|, |B|): book overlap)

    @property
    def rows(self) -> int:
        return min(self.rows_per_band, self.num_perm // self.bands)

    def __post_init__(self):
        if self.bands < 1 or self.num_perm // self.bands < 1:
            raise ValueError(f"cannot split {self.num_perm} permutations into {self.bands} bands")
        if self.measure not in ("jaccard", "containment"):
            raise ValueError(f"measure must be jaccard or containment, not {self.measure!r}")


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters: odd `a` and any `b`, both uint32."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer (datasketch applies it to every shingle hash)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


# ---------------------------------------------------------------- signatures and bands

def signatures_from_hashes(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                           seed: int = 1, block: int = 1 << 18) -> np.ndarray:
    """MinHash signatures [D, num_perm] uint32; a document without shingles gets all 0xFFFFFFFF.

    Works on blocks of whole documents of about `block` shingles, so each block's hashes stay in
    cache while all permutations run over them (twice as fast as streaming the shard per permutation).
    """
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    if len(hashes) == 0:
        return sig
    h32 = fmix32((hashes >> np.uint64(32)).astype(np.uint32))
    a, b = permutations(num_perm, seed)
    counts = np.diff(offsets)
    tmp = np.empty(min(len(h32), block + int(counts.max())), dtype=np.uint32)
    d0 = 0
    while d0 < n_docs:
        d1 = int(np.searchsorted(offsets, offsets[d0] + block, side="right")) - 1
        d1 = min(max(d1, d0 + 1), n_docs)
        nonempty = np.flatnonzero(counts[d0:d1] > 0) + d0
        if len(nonempty):
            s0, s1 = offsets[d0], offsets[d1]
            x, t = h32[s0:s1], tmp[:s1 - s0]
            starts = offsets[nonempty] - s0
            out = np.empty((num_perm, len(nonempty)), dtype=np.uint32)
            for k in range(num_perm):
                np.multiply(x, a[k], out=t)
                np.add(t, b[k], out=t)
                np.minimum.reduceat(t, starts, out=out[k])
            sig[nonempty] = out.T
        d0 = d1
    return sig


def signatures(texts, params: MinHashParams) -> np.ndarray:
    hashes, offsets = shingle_hashes(texts, params.ngram)
    return signatures_from_hashes(hashes, offsets, params.num_perm, params.seed)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """[D, bands] 64-bit keys: a band's `rows` signature values folded and mixed into one integer."""
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    for j in range(bands):
        block = sig[:, j * rows:(j + 1) * rows].astype(np.uint64)
        k = np.full(sig.shape[0], j + 1, dtype=np.uint64)
        for r in range(rows):
            k = (k * _MULT) ^ block[:, r]
        k ^= k >> np.uint64(29)
        k *= np.uint64(0xBF58476D1CE4E5B9)
        k ^= k >> np.uint64(32)
        keys[:, j] = k
    return keys


BAND_SCHEMA = pa.schema([("doc", pa.int64()), ("band", pa.int16()), ("key", pa.int64())])
DOC_SCHEMA_BASE = [("doc", pa.int64()), ("sig", pa.int64())]  # + "minhash": the signature's bytes
BIG_BUCKET = 64  # a band bucket with more documents links each to its smallest member, not all pairs


def band_tables(texts, params: MinHashParams, doc_offset: int = 0) -> tuple[pa.Table, pa.Table]:
    """Band keys (doc, band, key) and a whole-signature key (doc, sig) of documents with words.

    Documents are numbered doc_offset + i; documents without any word emit nothing.
    """
    hashes, offsets = shingle_hashes(texts, params.ngram)
    sig = signatures_from_hashes(hashes, offsets, params.num_perm, params.seed)
    docs = np.flatnonzero(np.diff(offsets) > 0)
    keys = band_keys(sig[docs], params.bands, params.rows)
    whole = band_keys(sig[docs], 1, params.num_perm)[:, 0]
    bands = pa.table({
        "doc": pa.array(np.repeat(docs + doc_offset, params.bands).astype(np.int64)),
        "band": pa.array(np.tile(np.arange(params.bands, dtype=np.int16), len(docs))),
        "key": pa.array(keys.reshape(-1).view(np.int64)),
    }, schema=BAND_SCHEMA)
    width = 4 * params.num_perm
    minhash = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(docs),
                                                   [None, pa.py_buffer(np.ascontiguousarray(sig[docs]).tobytes())])
    return bands, pa.table({"doc": pa.array((docs + doc_offset).astype(np.int64)),
                            "sig": pa.array(whole.view(np.int64)), "minhash": minhash})


def read_signatures(band_dir: str | os.PathLike, docs: np.ndarray, num_perm: int) -> np.ndarray:
    """Signatures [len(docs), num_perm] of the given (sorted, unique) documents from the docs-*.parquet files."""
    out = np.full((len(docs), num_perm), 0xFFFFFFFF, dtype=np.uint32)
    for f in sorted(Path(band_dir).glob("docs-*.parquet")):
        t = pq.read_table(f, columns=["doc", "minhash"])
        d = t.column("doc").to_numpy()
        hit = np.isin(d, docs)
        if not hit.any():
            continue
        col = t.column("minhash").combine_chunks()
        raw = np.frombuffer(col.buffers()[1], dtype=np.uint32, count=len(col) * num_perm,
                            offset=col.offset * 4 * num_perm).reshape(-1, num_perm)
        out[np.searchsorted(docs, d[hit])] = raw[hit]
    return out


def band_table(texts, params: MinHashParams, doc_offset: int = 0) -> pa.Table:
    return band_tables(texts, params, doc_offset)[0]


def shard_band_keys(shard: str, out_dir: str, params: MinHashParams, doc_offset: int, index: int,
                    column: str = "text") -> int:
    """Worker: read one Parquet shard's text column, write its band and signature keys. Returns rows."""
    texts = pq.read_table(shard, columns=[column]).column(column)
    bands, docs = band_tables(texts, params, doc_offset)
    for table, name in ((bands, "bands"), (docs, "docs")):
        # Intermediate files of random 64-bit keys: compression costs time and saves nothing.
        with atomic_path(Path(out_dir) / f"{name}-{index:05d}.parquet") as tmp:
            pq.write_table(table, tmp, compression="none")
    return len(texts)


def write_band_keys(shards: Sequence[str | os.PathLike], out_dir: str | os.PathLike, params: MinHashParams,
                    workers: int = 1, column: str = "text") -> int:
    """Band keys of every shard, one Parquet file per shard, computed in a process pool.

    Document indices are global: shard order, then row order. Returns the number of documents.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = [pq.ParquetFile(s).metadata.num_rows for s in shards]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    jobs = [(str(s), str(out_dir), params, int(offsets[i]), i, column) for i, s in enumerate(shards)]
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            shard_band_keys(*j)
    else:
        # spawn: safe inside a threaded host process (Dagster); workers import only numpy/pyarrow.
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
            list(pool.map(shard_band_keys, *zip(*jobs)))
    return int(offsets[-1])


def candidate_pairs(band_dir: str | os.PathLike, big_bucket: int = BIG_BUCKET) -> np.ndarray:
    """[K, 2] int64 pairs (a < b) to verify, from one DuckDB query over the band-key files.

    Documents with identical whole signatures are first linked to their smallest member (their Jaccard
    is ~1; linking all pairs would be quadratic in copies). The remaining representatives meet on
    (band, key): all pairs in a bucket, or star links to the smallest member in a bucket of more than
    `big_bucket` documents (templated pages).
    """
    band_dir = Path(band_dir)
    bands = [str(f) for f in sorted(band_dir.glob("bands-*.parquet"))]
    docs = [str(f) for f in sorted(band_dir.glob("docs-*.parquet"))]
    if not bands:
        return np.zeros((0, 2), np.int64)
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        res = con.execute(
            """
            WITH d AS (SELECT doc, sig FROM read_parquet($docs)),
                 rep AS (SELECT sig, min(doc) AS rep FROM d GROUP BY sig),
                 same AS (SELECT r.rep AS a, d.doc AS b FROM d JOIN rep r USING (sig) WHERE d.doc <> r.rep),
                 k AS (SELECT b.doc, b.band, b.key FROM read_parquet($bands) b SEMI JOIN rep r ON b.doc = r.rep),
                 bucket AS (SELECT band, key, count(*) AS n, min(doc) AS m FROM k GROUP BY band, key
                            HAVING count(*) > 1),
                 small AS (SELECT x.doc AS a, y.doc AS b
                           FROM k x JOIN bucket USING (band, key) JOIN k y USING (band, key)
                           WHERE bucket.n <= $big AND x.doc < y.doc),
                 star AS (SELECT bucket.m AS a, k.doc AS b FROM k JOIN bucket USING (band, key)
                          WHERE bucket.n > $big AND k.doc <> bucket.m)
            SELECT DISTINCT a, b FROM (SELECT * FROM same UNION ALL SELECT * FROM small UNION ALL SELECT * FROM star)
            ORDER BY a, b
            """, {"docs": docs, "bands": bands, "big": big_bucket}).fetchnumpy()
    finally:
        con.close()
    return np.stack([np.asarray(res["a"]), np.asarray(res["b"])], axis=1).astype(np.int64).reshape(-1, 2)


# ---------------------------------------------------------------- verification and clusters

def similarity(x: np.ndarray, y: np.ndarray, measure: str = "jaccard") -> float:
    """Jaccard (or containment) of two sets of unique shingle hashes."""
    if len(x) == 0 or len(y) == 0:
        return 0.0
    inter = len(np.intersect1d(x, y, assume_unique=True))
    if measure == "containment":
        return inter / min(len(x), len(y))
    return inter / (len(x) + len(y) - inter)


def verify_pairs(pairs: np.ndarray, texts, params: MinHashParams, margin: float = 0.2,
                 band_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Similarity of each candidate pair (texts indexed by the pairs' document indices).

    Jaccard: a pair whose MinHash estimate is more than `margin` away from the threshold (over 5
    standard deviations of the estimate at 128 permutations: sqrt(0.8 * 0.2 / 128) = 0.035) gets its
    estimate; only pairs near the threshold are checked exactly on their shingle sets. Containment
    (books) is always computed exactly.
    """
    if len(pairs) == 0:
        return np.zeros(0)
    docs = np.unique(pairs)
    pos = np.searchsorted(docs, pairs)
    texts = as_text_array(texts)
    out = np.zeros(len(pairs))
    check = np.ones(len(pairs), dtype=bool)
    if params.measure == "jaccard":
        if band_dir is not None:  # the signatures the workers stored
            sig = read_signatures(band_dir, docs, params.num_perm)
        else:
            sig = signatures(texts.take(pa.array(docs)), params)
        est = (sig[pos[:, 0]] == sig[pos[:, 1]]).mean(axis=1)
        check = np.abs(est - params.threshold) < margin
        out[~check] = est[~check]
    # Exact shingle sets, only for the documents of the pairs still to check.
    need = np.unique(pos[check])
    hashes, offsets = shingle_hashes(texts.take(pa.array(docs[need])), params.ngram) \
        if len(need) else (np.zeros(0, np.uint64), np.zeros(1, np.int64))
    slot = np.full(len(docs), -1, dtype=np.int64)
    slot[need] = np.arange(len(need))
    sets: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        j = int(slot[i])
        if j not in sets:
            sets[j] = np.unique(hashes[offsets[j]:offsets[j + 1]])
        return sets[j]

    for k in np.flatnonzero(check):
        out[k] = similarity(get(int(pos[k, 0])), get(int(pos[k, 1])), params.measure)
    return out


def clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root index per document: the smallest index of its connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    root = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(root, label, np.arange(n, dtype=np.int64))
    return root[label]


@dataclass
class NearDuplicates:
    pairs: np.ndarray        # [K, 2] verified pairs (document indices)
    similarity: np.ndarray   # [K] their exact similarity
    candidates: int          # candidate pairs from LSH before verification
    survivor: np.ndarray     # [D] index of the document each one is merged into (itself if kept)


def find_near_duplicates(shards: Sequence[str | os.PathLike], ids: Sequence[str], texts,
                         params: MinHashParams, workdir: str | os.PathLike, workers: int = 1,
                         column: str = "text") -> NearDuplicates:
    """The whole near-dup pass over Parquet shards whose rows, in order, are `ids` / `texts`.

    The survivor of each cluster is the document with the smallest id, so the outcome does not
    depend on shard order or worker count.
    """
    n = write_band_keys(shards, workdir, params, workers=workers, column=column)
    if n != len(ids):
        raise ValueError(f"shards hold {n} documents but {len(ids)} ids were given")
    cand = candidate_pairs(workdir)
    sim = verify_pairs(cand, texts, params, band_dir=workdir)
    ok = sim >= params.threshold
    pairs, sim = cand[ok], sim[ok]
    roots = clusters(n, pairs)
    # The survivor of a cluster: its member with the smallest id (independent of shard order).
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(np.asarray(ids, dtype=object), kind="stable")] = np.arange(n)
    best = np.full(n, n, dtype=np.int64)
    np.minimum.at(best, roots, rank)
    by_rank = np.empty(n, dtype=np.int64)
    by_rank[rank] = np.arange(n)
    survivor = by_rank[best[roots]] if n else np.zeros(0, np.int64)
    return NearDuplicates(pairs=pairs, similarity=sim, candidates=len(cand), survivor=survivor)
