"""Dedup scratch at snapshot shape: step 1 writes one file per task and kind, not per kind and bucket
(and a task is a group of input files: tests/pipelines/test_dedup_tasks.py)."""
from __future__ import annotations

from pipelines import curation
from pipelines.dedup import dedup_files
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.partition import read_manifest
from pipelines.samples import bundled_dumps_dir


def test_scatter_files_grow_with_tasks_not_buckets(tmp_path):
    curation.ingest(LocalEngine(1), tmp_path / "data", bundled_dumps_dir(), "commoncrawl", "CC-MAIN-2023-50")
    up = tmp_path / "data" / "raw_documents" / "commoncrawl" / "CC-MAIN-2023-50"
    entries = read_manifest(up)["files"]
    kept = {}
    for buckets in (2, 64):
        work = tmp_path / f"work-{buckets}"
        r = dedup_files(LocalEngine(1), [up / e["output"] for e in entries], [e["key"] for e in entries],
                        tmp_path / f"out-{buckets}", tmp_path / f"dropped-{buckets}", "commoncrawl",
                        MinHashParams(num_perm=128, bands=25, ngram=5), work, buckets=buckets, keep_work=True)
        (run,) = work.iterdir()
        scatter = sorted(p.name for p in (run / "scatter").iterdir())
        # exact, bands and lines per task (CommonCrawl's recipe has no book containment step): the
        # bundled dump's few small files make one task.
        assert r["info"]["tasks"] == 1
        assert scatter == ["bands-00000.parquet", "exact-00000.parquet", "lines-00000.parquet"]
        in_buckets = [p.name for p in run.glob("bucket-*/*")]
        assert set(in_buckets) <= {"pairs.parquet"} and len(in_buckets) <= buckets
        kept[buckets] = [(e["output_sha256"], e["dropped_sha256"]) for e in r["files"]]
    assert kept[2] == kept[64] and len(entries) > 1
