"""MinHash LSH near-duplicate detection, vectorized with numpy and designed to spread over machines.

    signatures and band keys per file (dedup/scatter.py) -> candidate pairs per key bucket (DuckDB,
    dedup/gather.py) -> similarity check and connected components (dedup/near.py, per range with `clusters` here)

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

Distribution: files are independent until the join. Each task turns its file into band keys by key
bucket (doc, band, key: 16 bytes per band and document); only those files meet in the join.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.dedup.shingle import (  # noqa: F401 (re-exported)
    MULT,
    as_text_array,
    shingle_hash32,
    shingle_hash64,
    shingle_hashes,
    shingles,
    word_hash,
)

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


BIG_BUCKET = 64  # a band bucket with more documents links each to its smallest member, not all pairs


def similarity(x: np.ndarray, y: np.ndarray, measure: str = "jaccard") -> float:
    """Jaccard (or containment) of two sets of unique shingle hashes."""
    if len(x) == 0 or len(y) == 0:
        return 0.0
    inter = len(np.intersect1d(x, y, assume_unique=True))
    if measure == "containment":
        return inter / min(len(x), len(y))
    return inter / (len(x) + len(y) - inter)


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
