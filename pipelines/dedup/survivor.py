"""Which copy of a duplicate cluster survives: the best one, by a fixed and documented order.

Before, the survivor was the smallest id, so in a cluster {article, the same article in capitals with
doubled spaces} the degraded copy won about half the time (and was then lost at language ID). Now the
members of a cluster get rank columns (vectorized over a batch: for MinHash and book clusters from
their texts, fetched per file once the clusters are known; for GitHub's exact groups in step 1), and a
cluster keeps the member that sorts first by:

1. a document of an earlier dump (a reference of scope "source"): those are never dropped here;
2. most lower-case letters (Unicode Ll) as a share of all cased letters (Ll + Lu), in whole percent
   (an all-caps copy has 0; a text without cased letters counts 100);
3. fewest boilerplate lines: lines of at most 4 words not ending in terminal punctuation (menus,
   buttons, breadcrumbs, "Read more");
4. most words (runs of non-space characters: a truncated copy loses, doubled spaces do not count);
5. smallest id, then earliest position (a repeated id): a total order, so the survivor never depends
   on the engine, the worker count or the order in which buckets finish.

Byte-identical texts have equal columns 2-4, so exact dedup still keeps the smallest id.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.dedup.shingle import as_text_array

# Rank columns in sort order with their direction; `ref` and `doc` are added by the stage.
ORDER = (("ref", "DESC"), ("lower_pct", "DESC"), ("boiler", "ASC"), ("words", "DESC"), ("id", "ASC"),
         ("doc", "ASC"))
SQL_ORDER = ", ".join(f"{c} {d}" for c, d in ORDER)

BOILER_MAX_WORDS = 4
# A line of at most 4 white-space separated words whose last character is not terminal punctuation.
# RE2 syntax (pyarrow): \s is ASCII white space, [^\S\n] white space other than the newline.
_BOILER_LINE = (r"(?m)^[^\S\n]*(?:\S+[^\S\n]+){0,3}\S*[^\s.!?\"'\x{201d}\x{2019}):;][^\S\n]*$")


_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True


def _per_doc(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of a per-byte flag over each document's byte range (a batch is far below 4 GB of text)."""
    c = np.concatenate([np.zeros(1, np.uint32), np.cumsum(flags, dtype=np.uint32)])
    return c[offsets[1:]].astype(np.int64) - c[offsets[:-1]].astype(np.int64)


def rank_columns(texts) -> dict[str, np.ndarray]:
    """lower_pct, boiler and words of every text of a batch (strings; nulls count as empty).

    Letters and words are counted with numpy over the UTF-8 bytes (ASCII letters, ASCII white space);
    documents with other characters get their letter counts from RE2's \\p{Ll} / \\p{Lu} instead.
    """
    texts = as_text_array(texts).cast(pa.large_string())
    n = len(texts)
    off = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset:texts.offset + n + 1]
    data = texts.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[off[0]:off[-1]] if data is not None else np.zeros(0, np.uint8)
    offsets = off - off[0]
    lower = _per_doc((raw >= 97) & (raw <= 122), offsets)
    upper = _per_doc((raw >= 65) & (raw <= 90), offsets)
    space = _SPACE[raw]
    after_space = np.concatenate([[True], space[:-1]])
    first = offsets[:-1][offsets[:-1] < len(raw)]
    after_space[first] = True  # a document's first byte starts a word unless it is a space
    words = _per_doc(~space & after_space[:len(raw)], offsets)
    other = np.flatnonzero(~pc.string_is_ascii(texts).to_numpy(zero_copy_only=False))
    if len(other):
        sub = texts.take(pa.array(other))
        lower[other] = pc.count_substring_regex(sub, r"\p{Ll}").to_numpy(zero_copy_only=False)
        upper[other] = pc.count_substring_regex(sub, r"\p{Lu}").to_numpy(zero_copy_only=False)
    cased = lower + upper
    pct = np.where(cased > 0, (100 * lower) // np.maximum(cased, 1), 100)
    boiler = pc.count_substring_regex(texts, _BOILER_LINE).to_numpy(zero_copy_only=False)
    return {"lower_pct": pct.astype(np.int16), "boiler": boiler.astype(np.int32), "words": words.astype(np.int64)}


def rank_features(text: str) -> tuple[int, int, int]:
    """(lower_pct, boiler, words) of one document."""
    c = rank_columns([text])
    return int(c["lower_pct"][0]), int(c["boiler"][0]), int(c["words"][0])


def sort_key(ref: bool, lower_pct: int, boiler: int, words: int, doc_id: str, doc: int) -> tuple:
    """Python form of ORDER: the smallest key survives."""
    return (not ref, -lower_pct, boiler, -words, doc_id, doc)
