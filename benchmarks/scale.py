"""Curation at growing size: peak memory per stage, throughput per core, speed-up from 1 to 2 workers.

    python benchmarks/scale.py --sizes 0.5 2 --work /tmp/scale        # generated dumps of ~0.5 and ~2 GB of text

Each stage runs in a fresh subprocess over every CommonCrawl, C4 and Wikipedia dump of the generated set
(the bulk of LLaMA's data), so its peak RSS is its own. Prints, per stage: seconds, MB of text per second
per worker, peak RSS at each size and their ratio (goal <= 1.25: memory is bounded by the file, not the
partition), and the speed-up of 2 workers over 1 on the smallest size (goal >= 1.7x on 2 free cores).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("ingest", "dedup", "langid", "models", "quality")
SOURCES = ("commoncrawl", "c4", "wikipedia")  # the bulk of LLaMA, and what quality_models trains on
BYTES_PER_DOC = 1_950  # mean text size of a generated document (measured: 274.9 MB in 141,696 docs)


def _dumps(root: Path) -> list[tuple[str, str]]:
    from pipelines.dumps import dumps_of

    return [(s, d) for s in SOURCES for d in dumps_of(root, s)]


def run_stage(stage: str, dumps: Path, data: Path, workers: int) -> dict:
    """Child process: one stage over every dump; returns seconds, text bytes and peak RSS."""
    from pipelines import curation
    from pipelines.dedup.minhash import MinHashParams
    from pipelines.engine import LocalEngine
    from pipelines.partition import committed_files
    from pipelines.stage import stats_of

    engine = LocalEngine(workers)
    params = MinHashParams(num_perm=128, bands=25, ngram=5)
    models = data / "quality_models"
    t0 = time.perf_counter()
    nbytes = docs = 0
    if stage == "models":
        from llama_model.configs import DataArgs
        from pipelines.quality import train_models

        d = DataArgs()  # the paper profiles' caps on the training samples
        wiki = committed_files(data / "language_identified" / "wikipedia")
        cc = committed_files(data / "language_identified" / "commoncrawl")
        m = train_models(wiki, cc, models, seed=d.quality_seed, max_lm_docs=d.quality_lm_docs,
                         max_classifier_docs=d.quality_classifier_docs)
        docs = m.get("lm_docs", 0) + m.get("cc_pages", 0)
    for source, dump in ([] if stage == "models" else _dumps(dumps)):
        if stage == "ingest":
            s = curation.ingest(engine, data, dumps, source, dump)
            docs, nbytes = docs + s["records_read"], nbytes + s["bytes"] + s["bytes_skipped"]
            continue
        if stage == "dedup":
            m = curation.dedup(engine, data, source, dump, params)
        elif stage == "langid":
            m = curation.map_stage(engine, data, "deduplicated", "language_identified", source, dump, curation.LID)
        else:
            stamp = (models / "models.json").read_text()
            m = curation.map_stage(engine, data, "language_identified", "quality_filtered", source, dump,
                                   curation.QUALITY, {"models_dir": str(models), "models_stamp": stamp})
        st = stats_of(m)
        docs, nbytes = docs + st.read, nbytes + st.bytes_in
    seconds = time.perf_counter() - t0
    engine.close()
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"stage": stage, "workers": workers, "seconds": round(seconds, 2), "docs": docs,
            "mb": round(nbytes / 1e6, 1), "peak_rss_mb": round(rss / 1024, 1)}


def _child(stage: str, dumps: Path, data: Path, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--child", stage, "--dumps", str(dumps), "--data", str(data),
           "--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _generate(size_gb: float, work: Path) -> Path:
    from pipelines.samples.generate import make_samples

    out = work / f"dumps-{size_gb}gb"
    if not (out / "ground_truth.json").exists():
        t = time.perf_counter()
        make_samples(out, int(size_gb * 1e9 / BYTES_PER_DOC))
        print(f"generated {out} in {time.perf_counter() - t:.0f}s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2.0], help="GB of text per generated set")
    p.add_argument("--work", type=Path, default=Path("/tmp/llama-scale"))
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--dumps", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(run_stage(a.child, a.dumps, a.data, a.workers)))
        return 0
    stages = [s for s in a.stages.split(",") if s]
    results: dict = {}
    for size in a.sizes:
        dumps = _generate(size, a.work)
        for workers in ([1, 2] if size == min(a.sizes) else [1]):
            data = a.work / f"data-{size}gb-w{workers}"
            if data.exists():
                import shutil

                shutil.rmtree(data)
            for stage in stages:
                r = _child(stage, dumps, data, workers)
                results[(size, workers, stage)] = r
                print(json.dumps({"size_gb": size, **r}), flush=True)
    small, large = min(a.sizes), max(a.sizes)
    print(f"\n| stage | MB/s per worker ({small} GB, 1 worker) | peak RSS {small} GB | peak RSS {large} GB | "
          f"RSS ratio | speed-up 1 -> 2 workers |")
    print("|---|---|---|---|---|---|")
    for stage in stages:
        one, two, big = results[(small, 1, stage)], results.get((small, 2, stage)), results[(large, 1, stage)]
        rate = one["mb"] / one["seconds"] if one["mb"] else float("nan")
        speed = one["seconds"] / two["seconds"] if two else float("nan")
        print(f"| {stage} | {rate:.2f} | {one['peak_rss_mb']:.0f} MB | {big['peak_rss_mb']:.0f} MB | "
              f"{big['peak_rss_mb'] / one['peak_rss_mb']:.2f} | {speed:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
