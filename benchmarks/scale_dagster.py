"""What Dagster itself costs per input file: the curation assets materialized at snapshot shape.

    python benchmarks/scale_dagster.py --files 1000 5000 --work /tmp/llama-scale-dagster
    python benchmarks/scale_dagster.py --files 1000 5000 --stages ingest --ingest-checks   # with its checks

The dumps are benchmarks/scale_files.py's (many tiny CommonCrawl WET files). For each size, ingest,
dedup and language ID run as `dg.materialize` of `raw_documents`, `deduplicated` and
`language_identified` on one persistent SQLite instance, each in its own process (its own peak RSS).
The pipeline functions the assets call are timed from inside, so a stage's wall time splits into the
pipeline's and Dagster's own (resources, the asset body's metadata, checks, event writes). Printed per
stage and size: wall ms per file, Dagster's own ms per file, events written by the run, their
serialized size, the materialization's metadata size, peak RSS. Goal (issue 22): all flat per file.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_child(stage: str, work: Path, n: int, checks: bool = False) -> dict:
    """Child process: one asset materialized through Dagster, the pipeline call timed inside it; with
    `checks`, raw_documents' asset checks too (the curate assets' checks always run: their own specs)."""
    import dagster as dg

    from assets import curate, ingest
    from pipelines import curation
    from resources import ArtifactStorage, DumpsResource, ProfileResource

    inside = [0.0]
    for name in ("ingest", "dedup", "map_stage"):
        real = getattr(curation, name)

        def timed(*args, _real=real, **kwargs):
            t = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                inside[0] += time.perf_counter() - t
        setattr(curation, name, timed)

    asset = {"ingest": ingest.raw_documents, "dedup": curate.deduplicated,
             "langid": curate.language_identified}[stage]
    dump = f"CC-MAIN-{n:06d}"
    key = f"commoncrawl/{dump}"
    home = work / f"dagster-{n}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.local_temp(str(home))
    if not instance.has_dynamic_partition("dumps", key):
        instance.add_dynamic_partitions("dumps", [key])
    res = {"storage": ArtifactStorage(root=str(work / f"data-{n}")), "dumps": DumpsResource(root=str(work / "dumps")),
           "profile": ProfileResource(name="tiny")}
    t = time.perf_counter()
    extra = ingest.CHECKS if checks and stage == "ingest" else []
    out = dg.materialize([asset, *extra], partition_key=key, resources=res, instance=instance)
    wall = time.perf_counter() - t
    events = instance.all_logs(out.run_id)
    meta = out.asset_materializations_for_node(asset.op.name)[0].metadata
    return {"stage": stage, "files": n, "success": out.success, "seconds": round(wall, 2),
            "pipeline_seconds": round(inside[0], 2), "events": len(events),
            "event_log_kb": round(sum(len(dg.serialize_value(e)) for e in events) / 1024, 1),
            "metadata_kb": round(len(dg.serialize_value(meta)) / 1024, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--work", type=Path, default=Path("/tmp/llama-scale-dagster"))
    p.add_argument("--stages", nargs="+", choices=("ingest", "dedup", "langid"), help="a prefix of the stages "
                   "(default all three; each needs the ones before it)")
    p.add_argument("--ingest-checks", action="store_true",
                   help="run raw_documents' asset checks (accounting, unique ids) in the ingest run too")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(run_child(a.child, a.work, a.n, a.ingest_checks)))
        return 0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_files import STAGES, generate

    env = dict(os.environ, PYTHONPATH=str(ROOT), LLAMA_ENGINE="local", LLAMA_WORKERS="1")
    rows = []
    for n in a.files:
        generate(a.work / "dumps", n)
        for d in (a.work / f"data-{n}", a.work / f"dagster-{n}"):
            shutil.rmtree(d, ignore_errors=True)
        for stage in a.stages or STAGES:
            cmd = [sys.executable, __file__, "--child", stage, "--work", str(a.work), "--n", str(n),
                   *(["--ingest-checks"] if a.ingest_checks else [])]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| stage | files | wall ms/file | Dagster's own ms/file | events | event log KB | metadata KB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (STAGES.index(r["stage"]), r["files"])):
        n = r["files"]
        print(f"| {r['stage']} | {n:,} | {r['seconds'] * 1e3 / n:.2f} | "
              f"{(r['seconds'] - r['pipeline_seconds']) * 1e3 / n:.2f} | {r['events']} | {r['event_log_kb']:,.1f} | "
              f"{r['metadata_kb']:,.1f} | {r['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
