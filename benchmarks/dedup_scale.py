"""Peak RSS of the `deduplicated` stage at two sizes: memory must be bounded by the file, not the partition.

    python benchmarks/dedup_scale.py --docs 100000 400000 --source commoncrawl

For each size: generate dumps with `make_samples`, read the source with its reader into RAW Parquet
files of at most `--rows` documents each (one per dump file, as raw_documents writes them), then run
`pipelines.dedup.dedup_files` in a child process (LocalEngine, `--workers`) and print its peak RSS
(the child's own and its workers'), documents, seconds and drops. Goal: ratio of peaks <= 1.25.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare(out: Path, docs: int, source: str, rows: int) -> list[Path]:
    """RAW Parquet files of `source` from a generated set of about `docs` documents (cached in `out`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.document import RAW_SCHEMA
    from pipelines.readers import read_source
    from pipelines.samples.generate import make_samples

    raw = out / f"raw-{source}"
    done = raw / "_files.json"
    if done.is_file():
        return [raw / f for f in json.loads(done.read_text())]
    if not (out / "ground_truth.json").is_file():
        make_samples(out / "dumps", docs)
        (out / "ground_truth.json").write_text((out / "dumps" / "ground_truth.json").read_text())
    raw.mkdir(parents=True, exist_ok=True)
    files, buf, current = [], [], None

    def flush():
        if buf:
            p = raw / f"part-{len(files):05d}.parquet"
            pq.write_table(pa.Table.from_pylist(buf, schema=RAW_SCHEMA), p)
            files.append(p.name)
            buf.clear()

    for doc in read_source(source, out / "dumps" / source):
        f = doc.origin.split("#")[0]
        if buf and (f != current or len(buf) >= rows):
            flush()
        current = f
        buf.append(doc.row())
    flush()
    done.write_text(json.dumps(files))
    return [raw / f for f in files]


def child(args) -> None:
    from pipelines.dedup import dedup_files
    from pipelines.dedup.minhash import MinHashParams
    from pipelines.engine import LocalEngine

    inputs = [Path(p) for p in json.loads(Path(args.input).read_text())]
    work = Path(args.output).parent / "work"
    t0 = time.perf_counter()
    r = dedup_files(LocalEngine(args.workers), inputs, [f"k{i:05d}" for i in range(len(inputs))],
                    work / "out", work / "dropped", args.source, MinHashParams(bands=25, ngram=5),
                    work / "tmp")
    out = {"seconds": round(time.perf_counter() - t0, 1),
           "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "workers_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
           "rows_in": sum(e["rows_in"] for e in r["files"]), "kept": sum(e["kept"] for e in r["files"]),
           "dropped": r["info"]["dropped"], "phases_s": r["info"]["seconds"],
           "rss_after_phase_mb": r["info"]["run_seconds_context"]["peak_rss_mb_after"], "buckets": r["info"]["buckets"]}
    Path(args.output).write_text(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 400_000])
    ap.add_argument("--source", default="commoncrawl")
    ap.add_argument("--rows", type=int, default=5_000, help="documents per RAW file at most")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/dedup-scale"))
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        return child(args)
    peaks = []
    for n in args.docs:
        d = args.cache / f"n{n}"
        t0 = time.perf_counter()
        files = prepare(d, n, args.source, args.rows)
        print(f"{n}: {len(files)} RAW files of {args.source} ready in {time.perf_counter() - t0:.0f}s", flush=True)
        if args.prepare_only:
            continue
        lst, res = d / "inputs.json", d / "result.json"
        lst.write_text(json.dumps([str(f) for f in files]))
        subprocess.run(["rm", "-rf", str(d / "work")], check=True)
        subprocess.run([sys.executable, __file__, "--run", "--input", str(lst), "--output", str(res),
                        "--source", args.source, "--workers", str(args.workers)], check=True)
        r = json.loads(res.read_text())
        peak = max(r["rss_mb"], r["workers_rss_mb"])
        peaks.append(peak)
        print(f"{n}: {r['rows_in']} documents in, {r['kept']} kept, {r['seconds']}s, peak RSS {r['rss_mb']:.0f} MB "
              f"(workers {r['workers_rss_mb']:.0f} MB), dropped {r['dropped']}\n  {r['buckets']} buckets, "
              f"phases {r['phases_s']}, peak RSS after each phase {r['rss_after_phase_mb']}", flush=True)
    if len(peaks) >= 2:
        print(f"peak RSS ratio largest/smallest: {peaks[-1] / peaks[0]:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
