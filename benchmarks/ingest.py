"""Ingest throughput and memory: per-source docs/s, MB/s and peak RSS on generated dumps of two sizes.

    .venv/bin/python benchmarks/ingest.py                      # ~50 MB and ~200 MB of dumps (a few minutes)
    .venv/bin/python benchmarks/ingest.py --sizes 5 20         # quick

For each size it writes dumps with the sample generator (`llama-pipeline make-samples`), then ingests each
source in a fresh child process (the full raw_documents path: reader + Parquet shards + dropped side
output) and reads the child's peak RSS from getrusage. The reference run, in the same child, only
decompresses the same files: "ratio" = reader MB/s / decompress MB/s says how far the reader is from the
I/O + decompression bound. "RSS large/small" close to 1 shows memory does not grow with dump size.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import argparse
import bz2
import gzip
import json
import resource
import shutil
import subprocess
import tempfile
import time

DOCS_PER_MB = 1000  # the generator writes about 1 MB of compressed dumps per 1000 documents


def _decompress_all(folder: Path) -> int:
    """Reference: read and decompress every file of a dump folder; returns decompressed bytes."""
    n = 0
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        opener = gzip.open if p.name.endswith((".gz", ".tgz")) else bz2.open if p.name.endswith(".bz2") else open
        with opener(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += len(chunk)
    return n


def child(source: str, dump_dir: str, out_dir: str) -> None:
    from pipelines import curation
    from pipelines.dumps import dumps_of
    from pipelines.engine import LocalEngine

    t = time.perf_counter()
    raw = _decompress_all(Path(dump_dir))
    ref_s = time.perf_counter() - t
    t = time.perf_counter()
    totals = {"documents": 0, "skipped": 0, "bytes": 0, "bytes_skipped": 0}
    for dump in dumps_of(Path(dump_dir).parent, source):
        r = curation.ingest(LocalEngine(1), out_dir, Path(dump_dir).parent, source, dump)
        totals = {k: totals[k] + r[k] for k in totals}
    s = dict(totals, seconds=time.perf_counter() - t)
    print(json.dumps({"documents": s["documents"], "skipped": s["skipped"], "seconds": s["seconds"],
                      "text_mb": (s["bytes"] + s["bytes_skipped"]) / 1e6, "raw_mb": raw / 1e6, "ref_s": ref_s,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def run_size(size_mb: float, work: Path, seed: int) -> dict:
    from pipelines.document import SOURCES
    from pipelines.samples.generate import make_samples

    dumps = work / f"dumps-{size_mb:g}mb"
    t = time.perf_counter()
    make_samples(dumps, int(size_mb * DOCS_PER_MB), seed=seed)
    print(f"\n== {du_mb(dumps):.0f} MB of dumps (target {size_mb:g} MB) generated in {time.perf_counter() - t:.0f}s "
          f"in {dumps}", flush=True)
    print(f"{'source':14s} {'disk MB':>8s} {'docs':>8s} {'docs/s':>9s} {'MB/s':>7s} {'ratio':>6s} {'RSS MB':>7s}")
    rows = {}
    for source in SOURCES:
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        res = subprocess.run([sys.executable, __file__, "--child", source, str(dumps / source), str(out)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r["disk_mb"] = du_mb(dumps / source)
        r["docs_s"] = r["documents"] / r["seconds"]
        r["mb_s"] = r["raw_mb"] / r["seconds"]           # decompressed input bytes per second
        r["ratio"] = r["mb_s"] / (r["raw_mb"] / r["ref_s"]) if r["ref_s"] > 0 else float("nan")
        rows[source] = r
        print(f"{source:14s} {r['disk_mb']:8.1f} {r['documents']:8d} {r['docs_s']:9.0f} {r['mb_s']:7.1f} "
              f"{r['ratio']:6.3f} {r['rss_mb']:7.0f}", flush=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    return {"disk_mb": du_mb(dumps), "sources": rows, "dumps": dumps}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=float, nargs=2, default=[50, 200], metavar=("SMALL_MB", "LARGE_MB"))
    p.add_argument("--work", help="folder for dumps and outputs (default: a temporary folder, removed after)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(*a.child)
        return 0
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="llama-bench-ingest-"))
    try:
        small, large = (run_size(s, work, a.seed) for s in a.sizes)
        print(f"\n== peak RSS, {small['disk_mb']:.0f} MB vs {large['disk_mb']:.0f} MB of dumps "
              f"({large['disk_mb'] / small['disk_mb']:.1f}x the data)")
        for source, r in large["sources"].items():
            s = small["sources"][source]
            print(f"{source:14s} {s['rss_mb']:6.0f} MB -> {r['rss_mb']:6.0f} MB   RSS large/small = "
                  f"{r['rss_mb'] / s['rss_mb']:.2f}   docs {s['documents']} -> {r['documents']}")
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
