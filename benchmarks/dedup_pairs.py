"""Dedup on a pairs-heavy set: 30% of documents are near-copies, at two sizes; peak RSS of each run.

    python benchmarks/dedup_pairs.py --docs 40000 160000 --work /tmp/dedup-pairs
    DEDUP_MEMORY_LIMIT=200MB python benchmarks/dedup_pairs.py ...   # DuckDB's limit per connection
    python benchmarks/dedup_pairs.py --books --docs 1000 4000 --work /tmp/dedup-books

Sizes from 40,000 documents: below, the bucket count stays at its floor of 2 and a bucket grows with
the set (20,000 documents per bucket above it).

Generates RAW Parquet files of 2,000 documents (~150 words each); 30% of the documents copy an earlier
one with two words changed (MinHash Jaccard ~0.9: every one is a candidate pair and a verified near
duplicate, in clusters that chain). Each size runs `dedup_files` (CommonCrawl recipe: exact, MinHash,
line dedup) in a fresh child process on the local engine; prints documents, candidate and verified
pairs, near-duplicates dropped, seconds and the child's peak RSS, then the RSS ratio of the larger to
the smaller size (goal <= 1.3: no process holds what grows with the partition).

--books: a books-heavy set instead (source "books": exact dedup and book containment). Half of the
books are in families of FAMILY editions of one text (~300 words; each edition changes two words, some
add a tail of up to 60 words, some upper-case a line: equal shingle sets, the survivor order decides),
shuffled over the set, so nearly every pair of a family is a candidate and most are contained; the
other half are unrelated. The bucket count is set to one per BOOKS_PER_BUCKET books, as it grows with
the set above 40,000 documents (DOCS_PER_BUCKET), so that a few seconds of work show what a process
holds per range rather than per partition.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PER_FILE = 2_000
FAMILY = 20             # editions of one book (below BookParams.max_df, whose hashes are ignored)
BOOKS_PER_BUCKET = 250
BOOKS_PER_FILE = 500    # ~1.3 MB of text, as the near set's files


def generate(out: Path, docs: int, seed: int = 0) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.document import RAW_SCHEMA

    files = sorted(out.glob("part-*.parquet"))
    if (out / "_complete").exists():
        return files
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5_000)]
    texts: list[str] = []
    paths = []
    for f in range(-(-docs // PER_FILE)):
        rows = []
        for i in range(f * PER_FILE, min(docs, (f + 1) * PER_FILE)):
            if texts and rng.random() < 0.3:
                words = rng.choice(texts).split(" ")
                for _ in range(2):
                    words[rng.randrange(len(words))] = rng.choice(vocab)
            else:
                words = [rng.choice(vocab) for _ in range(150)]
            text = " ".join(words)
            texts.append(text)
            rows.append({"id": f"doc-{i}", "source": "commoncrawl", "text": text, "dump": "gen",
                         "origin": f"gen-{f}#{i}"})
        p = out / f"part-{f:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), p)
        paths.append(p)
    (out / "_complete").write_text("")
    return paths


def generate_books(out: Path, docs: int, seed: int = 0) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.document import RAW_SCHEMA

    if (out / "_complete").exists():
        return sorted(out.glob("part-*.parquet"))
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5_000)]

    def words(n: int) -> list[str]:
        return [rng.choice(vocab) for _ in range(n)]

    def text(w: list[str]) -> str:
        return "\n".join(" ".join(w[i:i + 12]) for i in range(0, len(w), 12))

    texts: list[str] = []
    while len(texts) < docs:
        if rng.random() < 1 / (FAMILY + 1):  # half of the books in families
            base = words(300)
            for _ in range(FAMILY):
                w = list(base)
                for _ in range(2):
                    w[rng.randrange(len(w))] = rng.choice(vocab)
                if rng.random() < 0.5:
                    w += words(rng.randrange(1, 60))
                t = text(w)
                if rng.random() < 0.2:
                    lines = t.split("\n")
                    k = rng.randrange(len(lines))
                    lines[k] = lines[k].upper()
                    t = "\n".join(lines)
                texts.append(t)
        else:
            texts.append(text(words(300)))
    texts = texts[:docs]
    rng.shuffle(texts)
    paths = []
    for f in range(-(-docs // BOOKS_PER_FILE)):
        rows = [{"id": f"book-{i:07d}", "source": "books", "text": texts[i], "dump": "gen", "origin": f"gen-{f}#{i}"}
                for i in range(f * BOOKS_PER_FILE, min(docs, (f + 1) * BOOKS_PER_FILE))]
        p = out / f"part-{f:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), p)
        paths.append(p)
    (out / "_complete").write_text("")
    return paths


def child(inputs: Path, work: Path, books: bool) -> dict:
    import pyarrow.parquet as pq

    from pipelines.dedup import dedup_files
    from pipelines.dedup.minhash import MinHashParams
    from pipelines.engine import LocalEngine

    files = sorted(inputs.glob("part-*.parquet"))
    t = time.perf_counter()
    docs = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    r = dedup_files(LocalEngine(1), files, [p.stem for p in files], work / "out", work / "dropped",
                    "books" if books else "commoncrawl", MinHashParams(num_perm=128, bands=25, ngram=5),
                    work / "tmp", memory_limit=os.environ.get("DEDUP_MEMORY_LIMIT", "1GB"),
                    buckets=max(2, docs // BOOKS_PER_BUCKET) if books else None)
    info = r["info"]
    found = (("book_candidates", "book_pairs_verified", "contained_books") if books else
             ("minhash_candidates", "minhash_verified_pairs", "near_duplicates"))
    return {"docs": info["rows_in"], **{k: info.get(k) for k in found},
            "seconds": round(time.perf_counter() - t, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_mb_after_step": info["run_seconds_context"]["peak_rss_mb_after"], "buckets": info["buckets"],
            "step_seconds": info["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs=2, help="two sizes (default 40000 160000; --books: 1000 4000)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/dedup-pairs"))
    ap.add_argument("--books", action="store_true", help="a books-heavy set (book containment)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(Path(a.child[0]), Path(a.child[1]), a.books)))
        return
    rows = []
    for n in a.docs or ([1_000, 4_000] if a.books else [40_000, 160_000]):
        inputs = a.work / f"{'books' if a.books else 'raw'}-{n}"
        (generate_books if a.books else generate)(inputs, n)
        work = a.work / f"run-{n}"
        subprocess.run(["rm", "-rf", str(work)], check=True)
        flags = ["--books"] if a.books else []
        out = subprocess.run([sys.executable, __file__, *flags, "--child", str(inputs), str(work)], check=True,
                             capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(json.dumps(r), flush=True)
    small, big = rows
    print(f"peak RSS {small['peak_rss_mb']:.0f} MB -> {big['peak_rss_mb']:.0f} MB for x{big['docs'] / small['docs']:.0f} "
          f"documents: ratio {big['peak_rss_mb'] / small['peak_rss_mb']:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
