"""What verifying committed files before reuse costs on a no-op rerun of the demo's curation (goal: < 10%).

    python benchmarks/verify_reuse.py

The demo's curation (every bundled dump: raw_documents -> deduplicated -> language_identified, and
quality_filtered for the sources without a perplexity step, which need no models) is materialized once
in a temporary folder; then nothing has changed and every rerun reuses every file. Three no-op reruns,
in rotating order, best of 7 each, in this process:
- reference: a file is reused when it exists (what the code did before files were verified);
- verified: its size and mtime match the ones recorded when it was hashed last, else its hash decides
  (what the stages do);
- hashed: every file is hashed (no size+mtime record: a fresh copy of the data folder).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llama_model.configs import get_profile  # noqa: E402
from pipelines import curation, integrity, partition, recipes  # noqa: E402
from pipelines.dedup.minhash import MinHashParams  # noqa: E402
from pipelines.engine import LocalEngine  # noqa: E402
from pipelines.fs import as_path  # noqa: E402

SAMPLES = ROOT / "pipelines" / "samples" / "bundled"
D = get_profile("tiny").data
REPEATS = 7
PARAMS = MinHashParams(num_perm=D.minhash_perms, bands=D.minhash_bands, ngram=D.minhash_ngram)


def dumps() -> list[tuple[str, str]]:
    return [(s.name, d.name) for s in sorted(SAMPLES.iterdir()) if s.is_dir()
            for d in sorted(s.iterdir()) if d.is_dir()]


def curate(root: Path) -> int:
    """Every stage of every dump; returns the number of files run (0 on a no-op rerun)."""
    e, ran = LocalEngine(1), 0
    for source, dump in dumps():
        ran += curation.ingest(e, root, SAMPLES, source, dump, allow_empty=True)["files_read"]
        ran += curation.dedup(e, root, source, dump, PARAMS, allow_empty=True)["ran"]
        ran += curation.map_stage(e, root, "deduplicated", "language_identified", source, dump, curation.LID,
                                  allow_empty=True)["ran"]
        if not recipes.step(source, recipes.QUALITY, "perplexity"):
            ran += curation.map_stage(e, root, "language_identified", "quality_filtered", source, dump,
                                      curation.QUALITY, {"models_dir": ""}, allow_empty=True)["ran"]
    return ran


def main() -> None:
    real_same, real_stat = partition._same_bytes, partition.read_stat
    integrity._parsed_stat.cache_clear()

    def exists(path, sha, known=None):
        return as_path(path).is_file()

    variants = {"reference (exists)": (exists, real_stat), "verified (size+mtime, else hash)": (real_same, real_stat),
                "hashed (every file)": (real_same, lambda d: {})}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        t = time.perf_counter()
        first = curate(root)
        print(f"first run: {first} files in {time.perf_counter() - t:.1f} s")
        files = sum(1 for p in root.rglob("part-*.parquet"))
        best = {k: float("inf") for k in variants}
        names = list(variants)
        for r in range(REPEATS):
            for name in names[r % 3:] + names[:r % 3]:  # each variant goes first in turn
                same, stat = variants[name]
                partition._same_bytes, partition.read_stat = same, stat
                try:
                    t = time.perf_counter()
                    assert curate(root) == 0
                    best[name] = min(best[name], time.perf_counter() - t)
                finally:
                    partition._same_bytes, partition.read_stat = real_same, real_stat
    ref = best["reference (exists)"]
    print(f"no-op rerun of {len(dumps())} dumps, {files} committed files (best of {REPEATS}):")
    for name, s in best.items():
        print(f"  {name:36s} {s * 1000:8.1f} ms  ratio {s / ref:.3f}  overhead {100 * (s / ref - 1):+.1f}%")


if __name__ == "__main__":
    main()
