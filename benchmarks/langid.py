"""Our language-ID stage vs raw fastText `model.predict` over the same texts (goal: <= 10% overhead).

    python benchmarks/langid.py --data /tmp/big_data        # raw_documents of generated dumps
    python benchmarks/langid.py                              # the bundled samples, read by the readers

Reference: `model.predict([t.replace("\\n", " ") for t in texts], k=1)` (fastText needs one line per
text). Ours: `pipelines.langid.identify_partition` on the partition's Arrow table, i.e. the whole stage
minus file I/O: predict, label/score columns, per-recipe keep/drop with reasons, the output table.
Best of 3 runs each, alternating, in this process.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipelines.dedup import SCHEMA as DEDUP_SCHEMA  # noqa: E402
from pipelines.document import RAW_SCHEMA  # noqa: E402
from pipelines.langid import identify_partition, load_model  # noqa: E402
from pipelines.partition import committed_files  # noqa: E402

SOURCES = ("commoncrawl", "c4", "wikipedia")


def load(data: Path | None) -> pa.Table:
    if data:
        files = committed_files(data / "raw_documents")
        t = pa.concat_tables([pq.read_table(f) for f in files]).select(RAW_SCHEMA.names)
    else:
        from pipelines.readers import read_dumps
        from pipelines.samples import bundled_dumps_dir

        rows = [d.row() for s in SOURCES for d in read_dumps(s, bundled_dumps_dir() / s)]
        t = pa.Table.from_pylist(rows, schema=RAW_SCHEMA)
    n = t.num_rows
    extra = {"cluster_id": t.column("id"), "duplicates": pa.array([0] * n, pa.int64()),
             "lines_removed": pa.array([0] * n, pa.int64())}
    for k, v in extra.items():
        t = t.append_column(k, v)
    return t.cast(DEDUP_SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    table = load(args.data)
    texts = table.column("text").to_pylist()
    model = load_model()
    print(f"{len(texts)} documents, {sum(len(t or '') for t in texts) / 1e6:.1f} M characters")

    def raw():
        return model.predict([t.replace("\n", " ") if t else "" for t in texts], k=1)

    def ours():
        return identify_partition(table, "commoncrawl")

    best = {"raw": float("inf"), "ours": float("inf")}
    for _ in range(args.repeat):
        for name, fn in (("raw", raw), ("ours", ours)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    overhead = best["ours"] / best["raw"] - 1
    print(f"raw model.predict: {best['raw']:.3f}s   our stage: {best['ours']:.3f}s   "
          f"overhead {100 * overhead:+.1f}%  (goal <= 10%)")


if __name__ == "__main__":
    main()
