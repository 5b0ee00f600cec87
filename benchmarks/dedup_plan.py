"""Dedup's planning in the driver: task sizes from each file's Parquet footer vs from the upstream manifest.

    python benchmarks/dedup_plan.py --files 20000 --work /tmp/dedup-plan     # files written once, cached

Writes --files tiny Parquet files (a CommonCrawl-shaped dump), then times make_plan both ways in this
process (wall and CPU seconds, the best of --rounds) and prints the ratio; both plans must be the same
tasks. On object storage each footer is a GET, so the footer path costs more there than here.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.dedup import make_plan
    from pipelines.dedup.minhash import MinHashParams
    from pipelines.document import RAW_SCHEMA

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/dedup-plan"))
    a = ap.parse_args()
    rows = [{"id": f"{i:032x}", "source": "commoncrawl", "text": "two words"} for i in range(2)]
    table = pa.Table.from_pylist(rows, schema=RAW_SCHEMA)
    files = []
    a.work.mkdir(parents=True, exist_ok=True)
    for i in range(a.files):
        p = a.work / f"part-{i:06d}.parquet"
        if not p.exists():
            pq.write_table(table, p)
        files.append(p)
    sizes = [(2, len("two words") * 2)] * a.files  # what raw_documents' manifest entries count
    best, tasks = {}, {}
    for label, file_sizes in [("footers", None), ("manifest", sizes)] * a.rounds:
        t0, c0 = time.perf_counter(), time.process_time()
        plan = make_plan("commoncrawl", files, 0, MinHashParams(), a.work / "w", file_sizes=file_sizes)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best[label] = min(best.get(label, (wall, cpu)), (wall, cpu))
        tasks[label] = [plan.task_files(t) for t in range(plan.n_tasks)]
    assert tasks["footers"] == tasks["manifest"], "the two plans differ"
    for label, (wall, cpu) in best.items():
        print(f"{label:9s} {a.files} files: {wall:.3f} s wall, {cpu:.3f} s CPU, "
              f"{wall / a.files * 1e6:.1f} us per file, {len(tasks[label])} tasks")
    print(f"ratio (footers / manifest, wall): {best['footers'][0] / best['manifest'][0]:.0f}x")


if __name__ == "__main__":
    main()
