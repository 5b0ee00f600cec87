"""Exact, line and MinHash dedup: reference equality with datasketch, planted pairs, accounting."""
import hashlib
import random

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash

from pipelines.dedup import deduplicate
from pipelines.dedup.exact import exact_duplicates
from pipelines.dedup.line import dedup_lines, line_hash, normalize_line
from pipelines.dedup.minhash import (
    MinHashParams,
    clusters,
    shingle_hash32,
    shingle_hash64,
    shingle_hashes,
    shingles,
    signatures,
)
from pipelines.document import RAW_SCHEMA

VOCAB = [f"w{i}" for i in range(3000)]


def text(rng, n=120):
    return " ".join(rng.choices(VOCAB, k=n))


def near_copy(rng, t, changes):
    w = t.split()
    for i in rng.sample(range(len(w)), changes):
        w[i] = "zz" + w[i]
    return " ".join(w)


def jaccard(a, b, n=5):
    sa, sb = set(shingles(a, n)), set(shingles(b, n))
    return len(sa & sb) / len(sa | sb)


def table(texts, source="commoncrawl"):
    rows = [{"id": f"d{i:04d}", "source": source, "text": t} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=RAW_SCHEMA)


# ----------------------------------------------------------------------------- exact

def test_exact_survivor_is_smallest_id_whatever_the_order():
    ids, texts = ["b", "a", "c", "d"], ["x", "x", "y", "x"]
    assert exact_duplicates(ids, texts) == ["a", None, None, "a"]
    back = dict(zip(ids[::-1], exact_duplicates(ids[::-1], texts[::-1])))
    assert back == {"b": "a", "a": None, "c": None, "d": "a"}


# ----------------------------------------------------------------------------- line (CCNet)

def test_line_normalization_and_hash_match_ccnet():
    # ASCII punctuation stays (CCNet); its Unicode punctuation table and control characters go.
    assert normalize_line("  Hello, World! 2024 ") == "hello, world! 0000"
    assert normalize_line("Hello「World」\x07 ２０２４") == "helloworld 0000"
    assert line_hash("abc") == int.from_bytes(hashlib.sha1(b"abc").digest()[:8], "little")


def test_dedup_lines_keeps_first_occurrence_only():
    texts = ["Home | About 2024\nreal text one", "home | about 1999\nreal text two\n\n", "HOME | ABOUT 2025"]
    out, removed = dedup_lines(texts)
    assert out == ["Home | About 2024\nreal text one", "real text two\n\n", ""]
    assert removed.tolist() == [0, 1, 1]


# ----------------------------------------------------------------------------- MinHash vs datasketch

TEXTS = ["The quick brown fox jumps over the lazy dog, again and again and again.",
         "short one", "", "  leading\tand\u00a0unicode   spaces \u2003 here and there ok fine",
         "Ünïcode Wörds ÀND case", "a b c d e"]


def test_vectorized_shingles_equal_reference():
    h, off = shingle_hashes(TEXTS, 5)
    for i, t in enumerate(TEXTS):
        assert h[off[i]:off[i + 1]].tolist() == [shingle_hash64(s) for s in shingles(t, 5)]


def test_signatures_equal_datasketch_bit_for_bit():
    sig = signatures(TEXTS, MinHashParams(num_perm=128, ngram=5))
    for i, t in enumerate(TEXTS):
        m = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash32)
        m.update_batch(shingles(t, 5))
        assert np.array_equal(m.hashvalues, sig[i])


def test_jaccard_estimates_agree_with_datasketch_default_hash():
    rng = random.Random(0)
    base = [text(rng, 200) for _ in range(20)]
    pairs = [(b, near_copy(rng, b, rng.randint(2, 30))) for b in base]
    sig = signatures([x for p in pairs for x in p], MinHashParams(ngram=5))
    for k, (a, b) in enumerate(pairs):
        ours = float((sig[2 * k] == sig[2 * k + 1]).mean())
        ms = []
        for t in (a, b):
            m = MinHash(num_perm=128)  # datasketch's own SHA-1 shingle hash
            m.update_batch([" ".join(s).encode() for s in shingles(t, 5)])
            ms.append(m)
        true = jaccard(a, b)
        assert abs(ours - true) < 0.15 and abs(ms[0].jaccard(ms[1]) - true) < 0.15


def test_stage_accounts_for_every_document():
    rng = random.Random(3)
    docs = [text(rng) for _ in range(30)]
    docs += [docs[0], near_copy(rng, docs[1], 2), "nav home about\n" + docs[2], "", None,
             "nav home about\nshared footer", "Shared footer"]
    r = deduplicate(table(docs), "commoncrawl", MinHashParams(bands=25, ngram=5))
    assert r.stats.balanced and r.stats.read == len(docs)
    reasons = dict(zip(r.dropped.column("id").to_pylist(), r.dropped.column("reason").to_pylist()))
    details = dict(zip(r.dropped.column("id").to_pylist(), r.dropped.column("detail").to_pylist()))
    assert reasons["d0030"] == "exact_duplicate" and details["d0030"] == "d0000"
    assert reasons["d0031"] == "near_duplicate" and details["d0031"] == "d0001"
    assert reasons["d0032"] == "near_duplicate"
    assert reasons["d0033"] == "empty_text" and reasons["d0034"] == "null_text"
    assert reasons["d0036"] == "line_dedup_empty"
    kept = dict(zip(r.kept.column("id").to_pylist(), r.kept.column("text").to_pylist()))
    assert kept["d0035"] == "nav home about\nshared footer"
    dup = dict(zip(r.kept.column("id").to_pylist(), r.kept.column("duplicates").to_pylist()))
    assert dup["d0000"] == 1 and dup["d0001"] == 1
    assert r.kept.num_rows + r.dropped.num_rows == len(docs)


@pytest.mark.parametrize("docs", [[], ["", "   "]], ids=["empty partition", "all dropped"])
def test_stage_empty_and_all_dropped(docs):
    r = deduplicate(table(docs), "commoncrawl", MinHashParams(bands=25, ngram=5))
    assert r.kept.num_rows == 0 and r.dropped.num_rows == len(docs) and r.stats.balanced


def test_books_use_containment():
    rng = random.Random(4)
    book = "\n".join(text(rng, 80) for _ in range(20))
    reissue = book + "\n" + text(rng, 200)  # contains the whole first book: Jaccard ~0.9, overlap 1.0
    r = deduplicate(table([book, reissue, text(rng, 500)], "books"), "books", MinHashParams(bands=25, ngram=5))
    assert r.dropped.column("reason").to_pylist() == ["contained_book"]
    assert r.dropped.column("id").to_pylist() == ["d0000"] and r.dropped.column("detail").to_pylist() == ["d0001"]


def test_clusters_are_connected_components():
    pairs = np.array([[3, 1], [1, 4], [5, 6]])
    assert clusters(7, pairs).tolist() == [0, 1, 2, 1, 1, 5, 5]
