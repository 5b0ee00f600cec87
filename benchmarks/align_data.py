"""Loading user preference data: rows/s of align_data.load_preferences from JSONL, Parquet and a
save_to_disk folder holding the same rows (every row parsed and type-checked).

    python benchmarks/align_data.py [--rows 100000] [--out /tmp/align-bench]

The rows are the bundled comparisons written as trl conversational preference rows (what preference_data
writes). Parquet and the datasets folder are written with pyarrow directly, so `datasets` is not needed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from llama_model import align_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/align-bench"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    pairs = align_data.preference_pairs(2000, seed=1)
    rows = [align_data.preference_row(pairs[i % len(pairs)]) for i in range(a.rows)]
    (a.out / "p.jsonl").write_text(align_data.to_jsonl(rows), encoding="utf-8")
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, a.out / "p.parquet")
    saved = a.out / "p_saved"                    # the layout Dataset.save_to_disk writes: Arrow stream + state.json
    saved.mkdir(exist_ok=True)
    with pa.OSFile(str(saved / "data-00000-of-00001.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    (saved / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    for path in (a.out / "p.jsonl", a.out / "p.parquet", saved):
        t = time.perf_counter()
        n = len(align_data.load_preferences(path))
        dt = time.perf_counter() - t
        print(f"{path.name:10s} {n:,} rows in {dt:.2f} s: {n / dt:,.0f} rows/s")


if __name__ == "__main__":
    main()
