"""Our MinHash near-dup pass vs a plain per-document datasketch loop, on the same documents and parameters.

    # on generated dumps (after ingesting them to raw_documents Parquet; see docs/curation.md):
    python benchmarks/dedup.py --data /tmp/big_data --truth /tmp/big/ground_truth.json
    # self-contained: synthetic documents with planted near-duplicates
    python benchmarks/dedup.py --docs 100000

Both runs use 128 permutations, the tiny profile's bands/rows and word 5-grams. Reference: for each
document, datasketch `MinHash.update_batch` over its shingles, then `MinHashLSH.query` and `insert`.
Ours: the stage's own entry point `pipelines.dedup.dedup_files` with only its MinHash step (RAW Parquet
files -> band keys per file -> DuckDB per bucket -> verification -> components -> kept/dropped files),
on the local engine, including writing the input files. Reported pairs: each dropped document with the
survivor of its cluster.
Each run is a child process of this script so its peak RSS is its own. Prints seconds, speed ratio,
recall on planted pairs at Jaccard >= 0.8, precision of reported pairs, and peak RSS of both.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa
import pyarrow.parquet as pq

from llama_model.configs import get_profile
from pipelines.dedup.minhash import MinHashParams, shingles

NEAR = 0.8


def _jaccard(a: str, b: str, n: int) -> float:
    sa, sb = set(shingles(a, n)), set(shingles(b, n))
    return len(sa & sb) / max(1, len(sa | sb))


def synthetic(n_docs: int, seed: int = 0, near_frac: float = 0.03) -> tuple[list[str], list[str], list[dict]]:
    """English-like documents (Zipfian words) with planted near copies at known Jaccard."""
    rng = random.Random(seed)
    vocab = [f"{rng.choice('bcdfghklmnprstvw')}{rng.choice('aeiou')}{i}" for i in range(50_000)]
    cum = list(itertools.accumulate(1 / (r + 1) for r in range(len(vocab))))
    texts: list[str] = []
    truth = []
    while len(texts) < n_docs:
        if texts and rng.random() < near_frac:
            src = rng.randrange(len(texts))
            w = texts[src].split(" ")
            for i in rng.sample(range(len(w)), rng.randint(1, max(1, len(w) // 12))):
                w[i] = "x" + w[i]
            texts.append(" ".join(w))
            truth.append({"a": f"s{src:07d}", "b": f"s{len(texts) - 1:07d}", "jaccard": None})
        else:
            texts.append(" ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(80, 400))))
    ids = [f"s{i:07d}" for i in range(len(texts))]
    by_id = dict(zip(ids, texts))
    for t in truth:
        t["jaccard"] = round(_jaccard(by_id[t["a"]], by_id[t["b"]], 5), 4)
    return ids, texts, truth


def from_data(data: Path, truth_path: Path) -> tuple[list[str], list[str], list[dict]]:
    files = sorted((data / "raw_documents").rglob("part-*.parquet"))  # <source>/part-* or <source>/<dump>/part-*
    t = pa.concat_tables([pq.read_table(f, columns=["id", "text"]) for f in files])
    t = t.filter(pa.compute.invert(pa.compute.is_null(t.column("text"))))
    truth = json.loads(truth_path.read_text())
    pairs = list(truth.get("near_duplicates", []))
    return t.column("id").to_pylist(), t.column("text").to_pylist(), pairs


# ------------------------------------------------------------------ the two runs (child processes)

def run_ours(inp: Path, params: MinHashParams, workers: int, work: Path) -> dict:
    from pipelines.dedup import dedup_files
    from pipelines.document import RAW_SCHEMA
    from pipelines.engine import LocalEngine

    table = pq.read_table(inp)
    t0 = time.perf_counter()
    n = table.num_rows
    raw = pa.table({f.name: table.column(f.name) if f.name in ("id", "text") else
                    pa.array(["c4"] * n) if f.name == "source" else pa.nulls(n, f.type) for f in RAW_SCHEMA},
                   schema=RAW_SCHEMA)
    inputs, per = [], 10_000
    for s in range(0, n, per):
        p = work / "in" / f"raw-{s // per:05d}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(raw.slice(s, per), p)
        inputs.append(p)
    r = dedup_files(LocalEngine(workers), inputs, [p.stem for p in inputs], work / "out", work / "dropped", "c4",
                    params, work / "tmp", steps=("minhash",))
    seconds = time.perf_counter() - t0
    # Each dropped document linked to its cluster's survivor; clusters are their union-find closure.
    links = []
    for e in r["files"]:
        d = pq.read_table(work / "dropped" / e["dropped"], columns=["id", "detail"])
        links += list(zip(d.column("id").to_pylist(), d.column("detail").to_pylist()))
    return {"seconds": seconds, "links": links, "candidates": r["info"].get("minhash_candidates", 0),
            "phases": r["info"]["seconds"]}


def run_datasketch(inp: Path, params: MinHashParams) -> dict:
    from datasketch import MinHash, MinHashLSH

    table = pq.read_table(inp)
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    t0 = time.perf_counter()
    lsh = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
    links = []
    for i, t in zip(ids, texts):
        m = MinHash(num_perm=params.num_perm, seed=params.seed)
        m.update_batch([" ".join(s).encode("utf-8", "surrogatepass") for s in set(shingles(t, params.ngram))])
        for j in lsh.query(m):
            links.append((i, j))
        lsh.insert(i, m)
    return {"seconds": time.perf_counter() - t0, "links": links, "candidates": len(links)}


def _child(args) -> None:
    d = get_profile("tiny").data
    params = MinHashParams(num_perm=d.minhash_perms, bands=d.minhash_bands, ngram=d.minhash_ngram)
    if args.run == "ours":
        with tempfile.TemporaryDirectory() as work:
            out = run_ours(Path(args.input), params, args.workers, Path(work))
    else:
        out = run_datasketch(Path(args.input), params)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["children_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(args.output).write_text(json.dumps(out))


# ------------------------------------------------------------------ scoring

def score(links: list, truth: list[dict], texts: dict[str, str], ngram: int) -> dict:
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    pos = [p for p in truth if p["jaccard"] >= NEAR]
    recall = sum(find(p["a"]) == find(p["b"]) for p in pos) / max(1, len(pos))
    known = {frozenset((p["a"], p["b"])): p["jaccard"] for p in truth}
    good = 0
    for a, b in links:
        j = known.get(frozenset((a, b)))
        if j is None:
            j = _jaccard(texts[a], texts[b], ngram)
        good += j >= NEAR
    return {"recall": recall, "precision": good / len(links) if links else 1.0, "pairs_reported": len(links),
            "planted_pairs_ge_0.8": len(pos)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="an LLAMA_DATA_DIR holding raw_documents/<source>/part-*.parquet")
    ap.add_argument("--truth", type=Path, help="ground_truth.json of the dumps behind --data")
    ap.add_argument("--docs", type=int, default=100_000, help="synthetic documents when --data is not given")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--run", choices=["ours", "datasketch"], help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        return _child(args)

    d = get_profile("tiny").data
    ngram = d.minhash_ngram
    t0 = time.perf_counter()
    if args.data:
        ids, texts, truth = from_data(args.data, args.truth)
    else:
        ids, texts, truth = synthetic(args.docs)
    print(f"{len(ids)} documents, {len(truth)} planted near-duplicate pairs "
          f"({sum(p['jaccard'] >= NEAR for p in truth)} at Jaccard >= {NEAR}); "
          f"num_perm={d.minhash_perms} bands={d.minhash_bands} rows={d.minhash_perms // d.minhash_bands} "
          f"ngram={ngram}; prepared in {time.perf_counter() - t0:.1f}s")
    by_id = dict(zip(ids, texts))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "docs.parquet"
        pq.write_table(pa.table({"id": ids, "text": texts}), inp)
        for name in ("ours", "datasketch"):
            out = Path(tmp) / f"{name}.json"
            subprocess.run([sys.executable, __file__, "--run", name, "--input", str(inp), "--output", str(out),
                            "--workers", str(args.workers)], check=True)
            r = json.loads(out.read_text())
            r.update(score(r.pop("links"), truth, by_id, ngram))
            results[name] = r
            rss = f"{r['rss_mb']:.0f} MB" + (f" (+ workers up to {r['children_rss_mb']:.0f} MB each)"
                                              if r["children_rss_mb"] > 1 else "")
            phases = f"  phases {r['phases']}" if "phases" in r else ""
            print(f"{name:>10}: {r['seconds']:8.1f}s  recall {r['recall']:.4f}  precision {r['precision']:.4f}  "
                  f"pairs {r['pairs_reported']}  peak RSS {rss}{phases}")
    ratio = results["datasketch"]["seconds"] / results["ours"]["seconds"]
    print(f"speed ratio (datasketch / ours, {args.workers} workers): {ratio:.1f}x  (goal >= 10x)")
    phases = results["ours"]["phases"]
    find = sum(v for k, v in phases.items() if k != "apply")
    print(f"finding the duplicates only (stage without writing its outputs, {find:.1f}s): "
          f"{results['datasketch']['seconds'] / find:.1f}x")


if __name__ == "__main__":
    main()
