"""Deterministic generator of sample dumps in native formats, with planted cases and their ground truth.

    python -m pipelines.samples.generate                 # rewrite the generated part of the bundled samples
    llama-pipeline make-samples --docs 100000 --out DIR  # a larger set for benchmarks (generated only)

It writes, per source, the same formats the real dumps use (WARC/WET gzip, C4 json.gz, repository trees,
MediaWiki XML .bz2, Gutenberg .txt, arXiv .tar.gz, StackExchange Posts.xml) and plants known cases:
exact duplicates, near duplicates at a measured Jaccard similarity (sets of word 5-grams of the
lowercased, whitespace-split text), documents in other languages, low-quality pages, GitHub files that
fail the SPEC §1 heuristics, repositories without a permissive licence, books overlapping >90%,
Wikipedia dumps in languages outside the 20, and CommonCrawl pages at URLs that Wikipedia cites
(reference-style pages: at URLs the bundled real enwiki sample cites, and at generated URLs the
generated articles cite, spelled differently so that the URL normalization is exercised). `<out>/ground_truth.json` lists them by document id
(`pipelines.document.doc_id(source, origin)`, the origins the readers produce); docs/data.md gives the
schema. Only the standard library and numpy are used; same seed and plan => byte-identical files
(gzip mtime 0, fixed tar metadata, no dict/set order dependence).

The writers live in one module per kind of source (`web`: CommonCrawl and C4, `wikipedia`, `offline`:
GitHub, books, arXiv, StackExchange) over `common` (plan, ground truth, similarity); this module runs them.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from pipelines.samples.common import DUMPS, Plan, Truth, jaccard, near_copy, overlap, shingles
from pipelines.samples.offline import write_arxiv, write_books, write_github, write_stackexchange
from pipelines.samples.web import write_c4, write_commoncrawl
from pipelines.samples.wikipedia import write_wikipedia

__all__ = ["DUMPS", "GENERATED", "Plan", "Truth", "WRITERS", "clean", "generate", "generate_bundled", "jaccard",
           "main", "make_samples", "write_samples", "near_copy", "overlap", "shingles"]  # what other code imports from here

# ----------------------------------------------------------------------------------------- main
WRITERS = [write_commoncrawl, write_c4, write_wikipedia, write_github, write_books, write_arxiv,
           write_stackexchange]


# What the generator writes into the bundled samples (and so removes there before writing again); the
# bundled real files never match these. Other folders are written through common.destination instead,
# which removes only what its marker says an earlier make-samples wrote.
GENERATED = ["commoncrawl/*/gen-*.warc*", "c4/*/c4-train.*.json.gz", "github/*/sample-*",
             "wikipedia/*/*wiki-20220701-*", "books/*/generated-*.txt", "arxiv/*/2301.*.tar.gz",
             "stackexchange/*/synthetic.stackexchange.com", "ground_truth.json"]


def clean(out: Path) -> None:
    """Remove earlier generated files of the bundled samples, so a changed plan leaves no stale ones."""
    import shutil

    for pattern in GENERATED:
        for p in sorted(out.glob(pattern)):
            if p.name == "c4-train.00000-of-01024.json.gz" and out / "c4" / DUMPS["c4"] / p.name == p:
                continue  # the real C4 sample
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def generate(out: str | Path, plan: Plan, seed: int = 0) -> dict:
    """Write every generated dump under `out` and `out/ground_truth.json`; return the ground truth.
    Files already in `out` are not removed (see generate_bundled and write_samples)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    for i, writer in enumerate(WRITERS):
        writer(out, plan, random.Random(seed * 1000 + i), truth)  # one stream per source: independent
    gt = truth.as_dict()
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=1, sort_keys=True) + "\n")
    return gt


def generate_bundled(out: str | Path | None = None) -> dict:
    """The generated part of the bundled samples (seed 0); real files already there are left alone."""
    from pipelines.samples import bundled_dumps_dir

    out = Path(out or bundled_dumps_dir())
    if out.is_dir():
        clean(out)
    return generate(out, Plan.bundled(), seed=0)


def write_samples(out: str | Path, plan: Plan, seed: int = 0, force: bool = False) -> dict:
    """generate() into `out` by common.destination's rules: `out` is new, empty or an earlier make-samples
    output (whose files alone are replaced or removed); with force, other files may lie there and are kept."""
    from common.destination import output_folder

    with output_folder(out, "make-samples", force=force) as tmp:
        gt = generate(tmp, plan, seed=seed)
    return gt


def make_samples(out: str | Path, docs: int, seed: int = 0, force: bool = False) -> dict:
    return write_samples(out, Plan.scaled(docs), seed=seed, force=force)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="output folder (default: the bundled samples)")
    p.add_argument("--docs", type=int, help="scaled set of about this many documents (default: bundled plan)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t = time.perf_counter()
    if a.docs:
        if not a.out:
            p.error("--docs needs --out (the bundled samples keep their fixed plan)")
        make_samples(a.out, a.docs, a.seed)
    else:
        write_samples(a.out, Plan.bundled(), a.seed) if a.out else generate_bundled()
    print(f"written in {time.perf_counter() - t:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
