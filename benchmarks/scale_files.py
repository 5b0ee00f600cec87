"""A CommonCrawl-shaped rehearsal: dumps of many tiny WET files through ingest, dedup and language ID.

    python benchmarks/scale_files.py --files 1000 5000 --work /tmp/scale-files
    python benchmarks/scale_files.py --files 1000 5000 20000 --workers 2
    python benchmarks/scale_files.py --files 1000 --engine ray --workers 2    # a local Ray per stage
    python benchmarks/scale_files.py --files 1000 --engine ray --workers 2 --ray-nodes 2   # two raylets

A snapshot is ~80,000 WET files; what grows with the file count (tasks, manifest entries, done-records,
scratch files, the driver's loop) matters more there than the text. Each dump holds `--files` files of
two short records each (30% near-duplicates of another document). Each stage runs in a child process
(its own peak RSS) on the local engine; the parent counts the files alive under the data folder's
scratch (`tmp/`) while it runs. Prints per stage and size: wall ms per input file, the driver's CPU ms per
file (the child process itself: with --workers 2 the tasks run in pool workers, so this is the
orchestration), the most scratch files alive at once, the manifest size, done-records, peak RSS.
Goals (issue 22): time per file flat within 30%, scratch files a small constant x (tasks + buckets),
run-process RSS flat within 30%. The quality filter needs trained models and is left out.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAGES = ("ingest", "dedup", "langid")
SOURCE = "commoncrawl"
WORDS = ("river market school garden winter people city music paper light table window morning family "
         "station letter summer forest doctor kitchen bridge teacher mountain village island harbor story "
         "number engine silver orange yellow simple narrow gentle ancient modern").split()


def _text(rng: random.Random) -> str:
    lines = []
    for _ in range(3):
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 20))]
        lines.append(" ".join(words).capitalize() + ".")
    return "\n".join(lines)


def generate(dumps: Path, files: int, seed: int = 0) -> Path:
    """`files` WET files of two conversion records each; 30% of documents near-copy an earlier one."""
    out = dumps / SOURCE / f"CC-MAIN-{files:06d}"
    if (out / "_complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng, texts = random.Random(seed), []
    for f in range(files):
        records = []
        for r in range(2):
            if texts and rng.random() < 0.3:
                base = rng.choice(texts).split("\n")
                base[rng.randrange(len(base))] = _text(rng).split("\n")[0]
                text = "\n".join(base)
            else:
                text = _text(rng)
            texts.append(text)
            body = text.encode()
            records.append(b"WARC/1.0\r\nWARC-Type: conversion\r\n"
                           + f"WARC-Target-URI: https://site{f}.example.org/{r}\r\n".encode()
                           + b"WARC-Date: 2024-01-01T00:00:00Z\r\n"
                           + f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-{f:04x}-{r:012x}>\r\n".encode()
                           + b"Content-Type: text/plain\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n\r\n")
        with gzip.open(out / f"seg-{f:06d}.warc.wet.gz", "wb", compresslevel=1) as fh:
            fh.write(b"".join(records))
    (out / "_complete").write_text("")
    return out


def run_stage(stage: str, dumps: Path, data: Path, dump: str, workers: int, engine_name: str = "local") -> dict:
    """Child process: one stage over the dump; wall and own CPU seconds, peak RSS, manifest size."""
    from pipelines import curation
    from pipelines.dedup.minhash import MinHashParams
    from pipelines.engine import LocalEngine, RayEngine

    engine = LocalEngine(workers) if engine_name == "local" else RayEngine(workers)
    t, cpu = time.perf_counter(), time.process_time()
    if stage == "ingest":
        curation.ingest(engine, data, dumps, SOURCE, dump)
        asset = "raw_documents"
    elif stage == "dedup":
        curation.dedup(engine, data, SOURCE, dump, MinHashParams(num_perm=128, bands=25, ngram=5))
        asset = "deduplicated"
    else:
        curation.map_stage(engine, data, "deduplicated", "language_identified", SOURCE, dump, curation.LID)
        asset = "language_identified"
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    if engine_name == "local":
        engine.close()
    out = data / asset / SOURCE / dump
    return {"stage": stage, "seconds": round(wall, 2), "driver_cpu_seconds": round(cpu, 2),
            "manifest_kb": round((out / "_manifest.json").stat().st_size / 1024, 1),
            "done_records": len(list((out / "_done").glob("*.json"))) if (out / "_done").is_dir() else 0,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _count(tmp: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(tmp)) if tmp.is_dir() else 0


def start_cluster(nodes: int, cpus: int, work: Path):
    """A Ray cluster of `nodes` raylets on this machine (as `ray start` on `nodes` hosts), `cpus` CPUs
    each; each node's workers get their own local scratch (LLAMA_TMP_DIR: copies of models and parts
    staged for object storage), while the data folder is shared by all, as a cluster file system is."""
    from ray.cluster_utils import Cluster

    def args(i: int) -> dict:
        return {"num_cpus": cpus, "env_vars": {"LLAMA_TMP_DIR": str(work / f"node-{i}-scratch")}}

    cluster = Cluster(initialize_head=True, head_node_args=args(0))
    for i in range(1, nodes):
        cluster.add_node(**args(i))
    cluster.wait_for_nodes()
    return cluster


def child(stage: str, dumps: Path, data: Path, dump: str, workers: int, engine: str,
          ray_address: str | None = None) -> dict:
    """Run a stage in a child process while counting the scratch files alive under data/tmp."""
    cmd = [sys.executable, __file__, "--child", stage, "--dumps", str(dumps), "--data", str(data),
           "--dump", dump, "--workers", str(workers), "--engine", engine]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **({"RAY_ADDRESS": ray_address} if ray_address else {}))
    most, done = [0], threading.Event()

    def watch():
        while not done.wait(0.2):
            most[0] = max(most[0], _count(data / "tmp"))

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    finally:
        done.set()
        w.join()
    return dict(json.loads(out.strip().splitlines()[-1]), scratch_files_max=most[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--work", type=Path, default=Path("/tmp/llama-scale-files"))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: a local Ray of --workers CPUs started by each stage's process")
    p.add_argument("--ray-nodes", type=int, default=1,
                   help="with --engine ray: a cluster of this many raylets (--workers CPUs split among them) "
                        "started once, each stage's process connecting to it as a driver")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--dumps", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(run_stage(a.child, a.dumps, a.data, a.dump, a.workers, a.engine)))
        return 0
    rows = []
    cluster = None
    if a.engine == "ray" and a.ray_nodes > 1:
        cluster = start_cluster(a.ray_nodes, max(1, a.workers // a.ray_nodes), a.work)
    try:
        for n in a.files:
            t = time.perf_counter()
            dump = generate(a.work / "dumps", n).name
            print(f"{n} files generated in {time.perf_counter() - t:.1f}s", flush=True)
            data = a.work / f"data-{n}-{a.engine}-w{a.workers}-n{a.ray_nodes}"
            shutil.rmtree(data, ignore_errors=True)
            for stage in STAGES:
                r = dict(child(stage, a.work / "dumps", data, dump, a.workers, a.engine,
                               cluster.address if cluster else None), files=n)
                rows.append(r)
                print(json.dumps(r), flush=True)
    finally:
        if cluster is not None:
            cluster.shutdown()
    print("\n| stage | files | wall ms/file | driver CPU ms/file | scratch files max | manifest KB | "
          "done-records | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (STAGES.index(r["stage"]), r["files"])):
        n = r["files"]
        print(f"| {r['stage']} | {n:,} | {r['seconds'] * 1e3 / n:.2f} | {r['driver_cpu_seconds'] * 1e3 / n:.2f} | "
              f"{r['scratch_files_max']:,} | {r['manifest_kb']:,.0f} | {r['done_records']:,} | {r['peak_rss_mb']:.0f} |")
    small, big = min(a.files), max(a.files)
    for stage in STAGES:
        s = next(r for r in rows if r["stage"] == stage and r["files"] == small)
        b = next(r for r in rows if r["stage"] == stage and r["files"] == big)
        print(f"{stage}: time per file x{(b['seconds'] / big) / (s['seconds'] / small):.2f}, "
              f"peak RSS x{b['peak_rss_mb'] / s['peak_rss_mb']:.2f} from {small:,} to {big:,} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
