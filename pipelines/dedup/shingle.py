"""Word n-gram shingles, hashed for MinHash and for the book containment index, vectorized over a batch.

Shingles are word n-grams of the lower-cased, whitespace-split text (the same definition as the
planted ground truth). A word is hashed with xxh64; an n-gram is a rolling polynomial over its word
hashes, computed for every position of a batch at once (one pyarrow tokenization, numpy for the rest).
`shingles` / `shingle_hash64` are the slow reference the tests compare the vectorized path with.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

MULT = np.uint64(0x9E3779B97F4A7C15)   # odd 64-bit constant of the rolling n-gram hash
# Unicode white space that str.split() splits on but pyarrow's ascii_split_whitespace does not.
_UNICODE_WS = r"[\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{1c}-\x{1f}]"


def word_hash(word: str) -> int:
    return xxhash.xxh64_intdigest(word.encode("utf-8", "surrogatepass"))


def shingle_hash64(words: Sequence[str]) -> int:
    """64-bit hash of one shingle (a tuple of words): s = s * M + xxh64(word) mod 2^64."""
    s = 0
    for w in words:
        s = (s * 0x9E3779B97F4A7C15 + word_hash(w)) & 0xFFFFFFFFFFFFFFFF
    return s


def shingle_hash32(words: Sequence[str]) -> int:
    """The 32-bit value fed to MinHash: the high half of shingle_hash64 (datasketch `hashfunc`)."""
    return shingle_hash64(words) >> 32


def shingles(text: str, ngram: int) -> list[tuple[str, ...]]:
    """Reference (slow) shingling: word n-grams of text.lower().split(); a shorter text is one shingle."""
    words = text.lower().split()
    if not words:
        return []
    if len(words) < ngram:
        return [tuple(words)]
    return [tuple(words[i:i + ngram]) for i in range(len(words) - ngram + 1)]


def as_text_array(texts) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), type=pa.large_string())
    return texts.fill_null("")


def shingle_hashes(texts, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """All shingle hashes of all documents, vectorized.

    Returns (hashes uint64 [S], offsets int64 [D + 1]): document d owns hashes[offsets[d]:offsets[d+1]].
    Equal to [shingle_hash64(s) for s in shingles(text, ngram)] for each text.
    """
    arr = as_text_array(texts)
    low = pc.utf8_lower(arr)
    other = pc.invert(pc.string_is_ascii(low))
    if pc.any(other).as_py():  # the regex runs on the non-ASCII documents only
        fixed = pc.replace_substring_regex(low.filter(other), _UNICODE_WS, " ")
        low = pc.replace_with_mask(low, other, fixed)
    words = pc.ascii_split_whitespace(low)
    word_off = words.offsets.to_numpy().astype(np.int64)
    word_off = word_off - word_off[0]
    flat = words.flatten()
    n_docs = len(arr)
    # Splitting "" or text with leading white space yields empty "words": drop them, fix the offsets.
    nonempty = pc.binary_length(flat).to_numpy(zero_copy_only=False) > 0
    if not nonempty.all():
        flat = flat.filter(pa.array(nonempty))
        kept = np.concatenate([[0], np.cumsum(nonempty)])
        word_off = kept[word_off]
    if len(flat) == 0:
        return np.zeros(0, np.uint64), np.zeros(n_docs + 1, np.int64)
    enc = pc.dictionary_encode(flat)
    vocab = enc.dictionary.to_pylist()
    wh = np.fromiter((word_hash(w) for w in vocab), dtype=np.uint64, count=len(vocab))
    h = wh[enc.indices.to_numpy()]

    n_words = np.diff(word_off)
    n_sh = np.where(n_words >= ngram, n_words - ngram + 1, np.minimum(n_words, 1))
    sh_off = np.zeros(n_docs + 1, np.int64)
    np.cumsum(n_sh, out=sh_off[1:])
    # Rolling polynomial over the flat word stream: s[i] = hash of words i .. i+ngram-1 (zero padded).
    total = len(h)
    hp = np.concatenate([h, np.zeros(ngram - 1, np.uint64)])
    s = hp[:total].copy()
    for j in range(1, ngram):
        s *= MULT
        s += hp[j:total + j]
    # A window is a shingle when it ends inside the document it starts in.
    end = np.repeat(word_off[1:], n_words)
    mask = np.arange(total, dtype=np.int64) + ngram <= end
    # Short documents (fewer words than ngram): one shingle of all their words, at their first word.
    for d in np.flatnonzero((n_words > 0) & (n_words < ngram)):
        v = 0
        for x in h[word_off[d]:word_off[d + 1]].tolist():
            v = (v * 0x9E3779B97F4A7C15 + x) & 0xFFFFFFFFFFFFFFFF
        s[word_off[d]] = v
        mask[word_off[d]] = True
    out = s[mask]
    return out, sh_off


def unique_shingle_sets(texts, ngram: int) -> list[np.ndarray]:
    """Per document, its sorted unique shingle hashes (uint64)."""
    hashes, offsets = shingle_hashes(texts, ngram)
    return [np.unique(hashes[offsets[d]:offsets[d + 1]]) for d in range(len(offsets) - 1)]
