"""CLI commands of the sample dumps.

    llama-pipeline make-samples --docs 100000 --out /tmp/dumps [--seed 0]
    LLAMA_DUMPS_DIR=/tmp/dumps make demo      # then ingest them instead of the bundled samples
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cmd_make_samples(args: argparse.Namespace) -> int:
    from pipelines.samples.generate import make_samples

    out = Path(args.out)
    t = time.perf_counter()
    gt = make_samples(out, args.docs, seed=args.seed, force=args.force)
    planted = {k: len(v) for k, v in gt.items()}
    print(f"wrote {_du(out) / 1e6:.1f} MB of dumps for about {args.docs} documents to {out} "
          f"in {time.perf_counter() - t:.1f}s")
    print(f"ground truth {out / 'ground_truth.json'}: {planted}")
    print(f"ingest them with: LLAMA_DUMPS_DIR={out.resolve()} llama-pipeline demo --select raw_documents")
    return 0


def register(sub) -> None:
    p = sub.add_parser("make-samples", help="generate larger sample dumps (native formats) with ground truth")
    p.add_argument("--docs", type=int, required=True, help="about how many documents (most in CommonCrawl and C4)")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per source): new, empty, or an "
                                                 "earlier make-samples output")
    p.add_argument("--seed", type=int, default=0, help="same seed and --docs give byte-identical files")
    p.add_argument("--force", action="store_true", help="also write into a folder holding other files (they are "
                                                        "kept; none is replaced); an earlier make-samples output "
                                                        "needs no --force")
    p.set_defaults(func=_cmd_make_samples)
