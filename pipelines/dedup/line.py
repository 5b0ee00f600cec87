"""CCNet line-level deduplication (Wenzek et al. 2020, `cc_net/dedup.py`).

Each line is normalized exactly as CCNet (strip, lower-case, digits -> 0, CCNet's Unicode punctuation and
non-printing characters removed) and hashed with SHA-1, keeping the first 8 bytes as a little-endian uint64.
Within a group of shards (one partition, plus earlier dumps for scope "source") a line whose hash already occurred earlier is
removed; the first occurrence stays. This strips navigation menus, cookie banners and other boilerplate.
A document left without any non-blank line is dropped by the caller.

At scale (pipelines/dedup/__init__.py): every input file writes (hash, document, line) rows into
buckets by hash; one task per bucket finds each hash's first occurrence among the documents that
survived exact and near dedup and lists the other occurrences; the apply step removes them per file.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_DIGITS = re.compile(r"\d")
# The Unicode punctuation CCNet's normalizer removes (its UNICODE_PUNCT table) and the non-printing
# characters; ASCII punctuation and white space stay, as in CCNet.
_CCNET_PUNCT = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"
_PUNCT_OR_NON_PRINTING = re.compile("[" + re.escape(_CCNET_PUNCT) + "\x00-\x1f\x7f-\x9f]")


def normalize_line(line: str) -> str:
    """CCNet `normalize_for_dedup`: strip, lower-case, every digit -> 0, then remove CCNet's Unicode
    punctuation and the non-printing characters."""
    line = line.strip()
    if not line:
        return line
    line = _DIGITS.sub("0", line.lower())
    return _PUNCT_OR_NON_PRINTING.sub("", line)


def line_hash(normalized: str) -> int:
    """First 8 bytes of SHA-1 of the normalized line, as CCNet's `str_hash`."""
    digest = hashlib.sha1(normalized.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "little")


def dedup_lines(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Remove every line whose normalized hash occurred earlier in `texts` (in order).

    Returns the new texts and, per document, the number of lines removed. Lines that normalize to
    nothing (blank, only punctuation) are never treated as duplicates.
    """
    lines_per_doc: list[list[str]] = []
    digests = bytearray()
    hashable: list[bool] = []
    for text in texts:
        lines = text.split("\n")
        lines_per_doc.append(lines)
        for line in lines:
            norm = normalize_line(line)
            hashable.append(bool(norm))
            digests += hashlib.sha1(norm.encode("utf-8", "surrogatepass")).digest()[:8]
    hashes = np.frombuffer(bytes(digests), dtype="<u8")
    mask = np.asarray(hashable, dtype=bool)
    keep = np.ones(len(hashes), dtype=bool)
    if mask.any():
        where = np.flatnonzero(mask)
        _, first = np.unique(hashes[where], return_index=True)
        first_flag = np.zeros(len(where), dtype=bool)
        first_flag[first] = True
        keep[where[~first_flag]] = False

    out: list[str] = []
    removed = np.zeros(len(lines_per_doc), dtype=np.int64)
    pos = 0
    for d, lines in enumerate(lines_per_doc):
        k = keep[pos:pos + len(lines)]
        pos += len(lines)
        if k.all():
            out.append("\n".join(lines))
            continue
        removed[d] = int((~k).sum())
        out.append("\n".join(line for line, ok in zip(lines, k) if ok))
    return out, removed


def line_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(line numbers, hashes as int64) of the lines of `text` that normalize to something.

    Step 1 of the stage writes these per document; the bucketed pass finds each hash's first
    occurrence in document order and removes the others (the same outcome as `dedup_lines`).
    """
    numbers, digests = [], bytearray()
    for k, line in enumerate(text.split("\n")):
        norm = normalize_line(line)
        if norm:
            numbers.append(k)
            digests += hashlib.sha1(norm.encode("utf-8", "surrogatepass")).digest()[:8]
    return np.asarray(numbers, dtype=np.int32), np.frombuffer(bytes(digests), dtype="<u8").view(np.int64)


def remove_lines(text: str, numbers) -> str:
    """`text` without the lines whose numbers (0-based, split on "\\n") are given."""
    drop = {int(k) for k in numbers}
    return "\n".join(line for k, line in enumerate(text.split("\n")) if k not in drop)
