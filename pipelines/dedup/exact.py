"""Exact deduplication: documents with byte-identical text keep one survivor, the smallest id.

The survivor does not depend on the order documents arrive in, so re-running on reshuffled shards
gives the same result. At scale each shard emits (hash, id) pairs and one group-by finds the groups.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence


def content_hash(text: str) -> str:
    """SHA-1 of the UTF-8 text (hex). Odd code points (lone surrogates) are hashed as written."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def exact_duplicates(ids: Sequence[str], texts: Sequence[str]) -> list[str | None]:
    """For each document, the id of the survivor it duplicates, or None if it is the survivor/unique."""
    best: dict[str, str] = {}
    hashes = []
    for i, t in zip(ids, texts):
        h = content_hash(t)
        hashes.append(h)
        if h not in best or i < best[h]:
            best[h] = i
    out: list[str | None] = []
    claimed: set[str] = set()  # a repeated id with the same text is still a duplicate of the first
    for i, h in zip(ids, hashes):
        if best[h] == i and h not in claimed:
            claimed.add(h)
            out.append(None)
        else:
            out.append(best[h])
    return out
