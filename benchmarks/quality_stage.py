"""The whole quality filter, per core: this checkout against an earlier commit, on the same data.

    python benchmarks/scale.py --sizes 0.5 --work /tmp/llama-scale       # once: dumps, stages, models
    python benchmarks/quality_stage.py --data /tmp/llama-scale/data-0.5gb-w1 --base a87668f

Every `language_identified` file of the data folder (CommonCrawl, C4, Wikipedia as scale.py makes them)
goes through `quality.filter_file` with the folder's `quality_models`, in a child process per code
version (the base commit checked out in a git worktree under --work), alternating base and this
checkout `--rounds` times. Prints each run's MB of text per CPU second (one process, one core), the
speed-up of the medians, and whether both versions kept and dropped the same documents with the same
texts, perplexities and classifier scores (a digest of every output table).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(code: Path, data: Path) -> dict:
    sys.path.insert(0, str(code))
    from pipelines.quality import filter_file
    from pipelines.stage import read_file

    models = str(data / "quality_models")
    digest, mb, cpu, per_source = hashlib.sha256(), 0.0, 0.0, {}
    for f in sorted((data / "language_identified").glob("*/*/part-*.parquet")):
        source = f.parent.parent.name
        table, _ = read_file(f)
        size = sum(len(t.encode()) for t in table.column("text").to_pylist() if t) / 1e6
        t = time.process_time()
        r = filter_file(table, source, models)
        spent = time.process_time() - t
        mb, cpu = mb + size, cpu + spent
        s = per_source.setdefault(source, [0.0, 0.0])
        s[0], s[1] = s[0] + size, s[1] + spent
        for col in ("id", "text", "perplexity", "wiki_score"):
            digest.update(repr(r.kept.column(col).to_pylist()).encode())
        digest.update(repr(sorted(zip(r.dropped.column("id").to_pylist(), r.dropped.column("reason").to_pylist()))).encode())
    return {"mb": round(mb, 1), "cpu_s": round(cpu, 2), "mb_per_s": round(mb / cpu, 2), "digest": digest.hexdigest(),
            "per_source_mb_per_s": {k: round(m / c, 2) for k, (m, c) in sorted(per_source.items()) if c}}


def checkout(rev: str, work: Path) -> Path:
    path = work / f"base-{rev}"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev], check=True,
                       capture_output=True)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="a data folder made by benchmarks/scale.py")
    p.add_argument("--base", default="a87668f", help="the commit to compare with (default: before the speed-up)")
    p.add_argument("--work", type=Path, default=Path("/tmp/llama-quality-stage"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.data)))
        return 0
    codes = {"base": checkout(a.base, a.work), "this": ROOT}
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    for _ in range(a.rounds):
        for name, code in codes.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(code), "--data", str(a.data)],
                                 check=True, capture_output=True, text=True, cwd=code).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
            print(name, json.dumps(runs[name][-1]), flush=True)
    base = statistics.median(r["mb_per_s"] for r in runs["base"])
    this = statistics.median(r["mb_per_s"] for r in runs["this"])
    same = len({r["digest"] for r in runs["base"] + runs["this"]}) == 1
    print(f"{runs['this'][0]['mb']} MB of text; base {a.base}: {base:.2f} MB/s per core, this checkout: "
          f"{this:.2f} MB/s per core, speed-up x{this / base:.2f} (goal >= 2); same outputs: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
