"""CCNet buckets over every CommonCrawl partition of a data folder: retrain the quality models from its
`language_identified` files with this code and report the tail share per dump and overall.

    python benchmarks/cc_tail_share.py $LLAMA_DATA_DIR /tmp/quality_models

Prints the cut-offs, where they come from, and per dump: pages, tail pages, tail share (CCNet: ~40%
of the scored CC pages are tail). Writes the models only into the second folder.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.partition import committed_files
from pipelines.quality import filter_file, train_models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("out")
    a = ap.parse_args()
    lid = Path(a.data) / "language_identified"
    wiki = [f for d in sorted((lid / "wikipedia").iterdir()) for f in committed_files(d)]
    cc_dirs = sorted((lid / "commoncrawl").iterdir())
    m = train_models(wiki, [f for d in cc_dirs for f in committed_files(d)], a.out, seed=0)
    print(json.dumps({k: m.get(k) for k in ("lm_backend", "cutoffs", "cutoff_docs", "cutoff_source", "fallbacks")}))
    total = tail = 0
    for d in cc_dirs:
        n = t = 0
        for f in committed_files(d):
            res = filter_file(pq.read_table(f), "commoncrawl", str(a.out))
            n += pq.ParquetFile(f).metadata.num_rows
            t += res.dropped.column("reason").to_pylist().count("perplexity_tail")
        print(f"{d.name}: {n} pages, {t} tail ({t / max(n, 1):.3f})")
        total, tail = total + n, tail + t
    print(f"all: {total} pages, {tail} tail ({tail / max(total, 1):.3f})")


if __name__ == "__main__":
    main()
