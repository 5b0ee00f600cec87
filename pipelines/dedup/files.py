"""Interim file-level entry point of the dedup stage over the whole-partition `deduplicate`.

Reads every input file into one table (with its file index), deduplicates, and writes one kept and one
dropped file per input file. Superseded by the bucketed implementation (same signature).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.dedup import SCHEMA, deduplicate
from pipelines.document import DROPPED_SCHEMA
from pipelines.partition import PartWriter
from pipelines.stage import read_file


def dedup_files(engine, inputs, keys, out_dir, dropped_dir, source, params, workdir, log=None,
                reference_inputs=()) -> dict:
    tables, owner = [], {}
    for i, f in enumerate(inputs):
        t, _ = read_file(f)
        for doc_id in t.column("id").to_pylist():
            owner[doc_id] = i
        tables.append(t.append_column("_file", pa.array([i] * t.num_rows, pa.int64())))
    table = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
    file_col = table.column("_file")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        r = deduplicate(table.drop_columns(["_file"]), source, params, workdir=tmp, workers=engine.workers)
    kept_files = pc.take(file_col, pc.index_in(r.kept.column("id"), table.column("id")))
    entries = []
    for i, key in enumerate(keys):
        kept = r.kept.filter(pc.equal(kept_files, i))
        dmask = pa.array([owner.get(d) == i for d in r.dropped.column("id").to_pylist()], pa.bool_())
        dropped = r.dropped.filter(dmask)
        w = PartWriter(out_dir, key, SCHEMA)
        w.write_table(kept)
        dw = PartWriter(dropped_dir, key, DROPPED_SCHEMA)
        dw.write_table(dropped)
        name, sha, rows = w.close()
        dname, dsha, drows = dw.close()
        reasons: dict[str, int] = {}
        dbytes: dict[str, int] = {}
        for reason, b in zip(dropped.column("reason").to_pylist(), dropped.column("bytes").to_pylist()):
            reasons[reason] = reasons.get(reason, 0) + 1
            dbytes[reason] = dbytes.get(reason, 0) + b
        kb = int(pc.sum(pc.binary_length(kept.column("text"))).as_py() or 0) if rows else 0
        entries.append({"key": key, "input": Path(inputs[i]).name, "output": name, "output_sha256": sha,
                        "dropped": dname, "dropped_sha256": dsha, "rows_in": rows + drows, "kept": rows,
                        "dropped_rows": drows,
                        "stats": {"read": rows + drows, "kept": rows, "dropped": dict(sorted(reasons.items())),
                                  "bytes_in": kb + sum(dbytes.values()), "bytes_kept": kb,
                                  "bytes_dropped": dict(sorted(dbytes.items()))}})
    return {"files": entries, "info": r.info}
