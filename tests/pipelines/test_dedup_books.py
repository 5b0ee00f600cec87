"""Book containment by key range (pipelines/dedup/books.py): on a generated set with many contained
books (excerpts, expanded editions, copies with changed words or a shouted line, references), the drops
equal a one-process reading of the rule over every pair, with the same bytes for any worker or bucket
count."""
from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.dedup import dedup_files
from pipelines.dedup.minhash import MinHashParams, shingles
from pipelines.dedup.near import ranges
from pipelines.dedup.plan import BookParams, Plan
from pipelines.dedup.survivor import rank_features, sort_key
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.engine import LocalEngine

PARAMS = MinHashParams(bands=25, ngram=5)
VOCAB = [f"w{i}" for i in range(3000)]


def _text(rng, n: int) -> str:
    w = rng.choices(VOCAB, k=n)
    return "\n".join(" ".join(w[i:i + 12]) for i in range(0, n, 12))


def _family(rng) -> list[str]:
    """A book and 1-7 relatives: excerpts, expanded editions, two words changed, a line in capitals."""
    base = _text(rng, 240)
    lines = base.split("\n")
    out = [base]
    for _ in range(rng.randint(1, 7)):
        kind = rng.choice(["excerpt", "edition", "changed", "shout"])
        if kind == "excerpt":
            n = rng.randint(len(lines) * 6 // 10, len(lines) - 2)
            s = rng.randrange(len(lines) - n + 1)
            out.append("\n".join(lines[s:s + n]))
        elif kind == "edition":
            tail = _text(rng, rng.randint(12, 120))
            out.append(base + "\n" + tail if rng.random() < 0.5 else tail + "\n" + base)
        elif kind == "changed":
            w = base.split(" ")
            for i in rng.sample(range(len(w)), 2):
                w[i] = rng.choice(VOCAB)
            out.append(" ".join(w))
        else:
            k = rng.randrange(len(lines))
            out.append("\n".join(x.upper() if i == k else x for i, x in enumerate(lines)))
    return out


def _books(seed: int = 7) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(references, inputs) as (id, text): 40 families and 40 unrelated books, shuffled; among the
    references an excerpt of an input and an expanded edition of two inputs."""
    rng = random.Random(seed)
    texts = [t for _ in range(40) for t in _family(rng)] + [_text(rng, 240) for _ in range(40)]
    x, y = _text(rng, 240), _text(rng, 240)
    texts += [x, y, "\n".join(y.split("\n")[:14])]
    refs = ["\n".join(x.split("\n")[2:]), y + "\n" + _text(rng, 60)] + [_text(rng, 240) for _ in range(4)]
    assert len(set(texts + refs)) == len(texts + refs)  # no exact duplicates: containment decides every drop
    rng.shuffle(texts)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(len(refs) + len(texts))]
    return list(zip(ids, refs)), list(zip(ids[len(refs):], texts))


def _expected(refs, inputs, threshold: float = BookParams.threshold) -> tuple[dict, list]:
    """The rule over every pair in one process: {dropped id: ("contained_book", partner id)}, and the
    (loser, winner) document indices of the verified pairs."""
    docs = refs + inputs
    sets = [set(shingles(t, PARAMS.ngram)) for _, t in docs]
    keys = [sort_key(i < len(refs), *rank_features(t), d, i) for i, (d, t) in enumerate(docs)]
    best: dict[int, tuple] = {}
    verified = []
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            small = min(len(sets[i]), len(sets[j]))
            if small == 0 or len(sets[i] & sets[j]) < threshold * small:
                continue
            loser, winner = (i, j) if (len(sets[i]), keys[j]) < (len(sets[j]), keys[i]) else (j, i)
            verified.append((loser, winner))
            if loser >= len(refs):
                key = (-len(sets[winner]), keys[winner])
                best[loser] = min(best.get(loser, key), key)
    return {docs[i][0]: ("contained_book", k[1][4]) for i, k in best.items()}, verified


def _write(path, books):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": d, "source": "books", "text": t} for d, t in books]
    pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), path)
    return path


def _run(tmp, refs, inputs, tag, engine, **kw):
    r = dedup_files(engine, inputs, [f"k{i}" for i in range(len(inputs))], tmp / tag / "out", tmp / tag / "dropped",
                    "books", PARAMS, tmp / tag / "work", reference_inputs=refs, **kw)
    dropped = [(tmp / tag / "dropped" / e["dropped"]).read_bytes() for e in r["files"]]
    kept = [(tmp / tag / "out" / e["output"]).read_bytes() for e in r["files"]]
    drop = [pq.read_table(tmp / tag / "dropped" / e["dropped"], schema=DROPPED_SCHEMA) for e in r["files"]]
    why = {d: (x, y) for t in drop for d, x, y in zip(t.column("id").to_pylist(), t.column("reason").to_pylist(),
                                                         t.column("detail").to_pylist())}
    return r, why, (kept, dropped)


@pytest.mark.slow
def test_generated_books_match_the_rule_over_all_pairs_on_any_engine_and_buckets(tmp_path):
    ref_books, books = _books()
    refs = [_write(tmp_path / "refs" / "r-0.parquet", ref_books)]
    cuts = [0, 30, 70, 75, len(books)]
    inputs = [_write(tmp_path / "in" / f"in-{k}.parquet", books[a:b]) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    want, verified = _expected(ref_books, books)
    assert len(want) >= 60 and len(verified) >= 150
    # References both lose (kept: never dropped) and win (named as the partner).
    assert any(loser < len(ref_books) for loser, _ in verified)
    ref_ids = {d for d, _ in ref_books}
    assert any(p in ref_ids for _, p in want.values())

    r1, why, out1 = _run(tmp_path, refs, inputs, "one", LocalEngine(1))
    assert why == want
    assert r1["info"]["contained_books"] == len(want) and r1["info"]["book_pairs_verified"] == len(verified)
    # Some losers lose pairs found by different range tasks (by `a`): their partner is still the best.
    n = len(ref_books) + len(books)
    plan = Plan(work="", source="books", files=(), offsets=(0, n), n_ref_files=0, buckets=7)
    bounds = [hi for _, hi in ranges(plan)]
    spread = {}
    for loser, winner in verified:
        a = min(loser, winner)
        spread.setdefault(loser, set()).add(next(k for k, hi in enumerate(bounds) if a < hi))
    assert sum(len(s) > 1 for s in spread.values()) >= 10

    two = LocalEngine(2)
    try:
        r2, _, out2 = _run(tmp_path, refs, inputs, "two", two, buckets=7)
    finally:
        two.close()
    r3, _, out3 = _run(tmp_path, refs, inputs, "many", LocalEngine(1), buckets=13, memory_limit="64MB")
    assert out1 == out2 == out3
    assert r2["info"]["buckets"] == 7 and r3["info"]["buckets"] == 13
    for r in (r2, r3):
        assert {k: r["info"][k] for k in ("book_candidates", "book_pairs_verified", "contained_books")} == \
            {k: r1["info"][k] for k in ("book_candidates", "book_pairs_verified", "contained_books")}
