"""raw_documents on the bundled samples (two partitions) and on a broken dump, with dg.materialize."""
import gzip
import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.ingest import raw_documents, raw_documents_accounting
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.io import read_parquet_dir
from resources import ArtifactStorage, DumpsResource


def run(partition, data_dir, dumps_root=""):
    return dg.materialize([raw_documents, raw_documents_accounting], partition_key=partition,
                          resources={"storage": ArtifactStorage(root=str(data_dir)),
                                     "dumps": DumpsResource(root=dumps_root)},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def metadata(result):
    mat = result.asset_materializations_for_node("raw_documents")[0]
    return {k: v.value for k, v in mat.metadata.items()}


@pytest.mark.parametrize("partition,documents,skipped", [
    ("books", 7, {}),
    ("stackexchange", 677, {"orphan_answer": 1, "post_type": 120}),
    ("github", 99, {"binary": 4, "empty_file": 4}),
])
def test_raw_documents_on_bundled_samples(data_dir, partition, documents, skipped):
    result = run(partition, data_dir)
    assert result.success
    meta = metadata(result)
    assert meta["documents"] == documents and meta["skipped_by_reason"] == skipped
    assert meta["records_read"] == documents + sum(skipped.values())
    assert meta["bytes"] > 0 and meta["seconds"] >= 0 and "| id |" in meta["preview"]
    table = read_parquet_dir(data_dir / "raw_documents" / partition)
    assert table.schema == RAW_SCHEMA and table.num_rows == documents
    assert set(table["source"].to_pylist()) == {partition} and len(set(table["id"].to_pylist())) == documents
    dropped = read_parquet_dir(data_dir / "dropped" / "raw_documents" / partition)
    assert dropped.schema == DROPPED_SCHEMA and dropped.num_rows == sum(skipped.values())
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["records_read"].value == meta["records_read"]


def test_ids_are_stable_across_runs(tmp_path):
    ids = []
    for i in range(2):
        assert run("books", tmp_path / str(i)).success
        ids.append(read_parquet_dir(tmp_path / str(i) / "raw_documents" / "books")["id"].to_pylist())
    assert ids[0] == ids[1]


def test_corrupt_dump_fails_and_leaves_previous_output(tmp_path, data_dir):
    c4 = tmp_path / "dumps" / "c4"
    c4.mkdir(parents=True)
    (c4 / "c4-train.00000-of-00001.json.gz").write_bytes(gzip.compress(b'{"text": "hello"}\n' * 3))
    assert run("c4", data_dir, str(tmp_path / "dumps")).success
    before = sorted(p.name for p in (data_dir / "raw_documents" / "c4").iterdir())
    data = gzip.compress(b"".join(json.dumps({"text": f"doc {i} " * 40}).encode() + b"\n" for i in range(500)))
    (c4 / "c4-train.00000-of-00001.json.gz").write_bytes(data[: len(data) // 2])
    result = run("c4", data_dir, str(tmp_path / "dumps"))
    assert not result.success
    error, err = result.get_step_failure_events()[0].event_specific_data.error, ""
    while error is not None:
        err, error = err + error.message, error.cause
    assert "c4-train.00000-of-00001.json.gz" in err and "truncated gzip" in err
    assert sorted(p.name for p in (data_dir / "raw_documents" / "c4").iterdir()) == before
    assert pq.read_table(data_dir / "raw_documents" / "c4" / "part-00000.parquet").num_rows == 3
    assert not [p for p in (data_dir / "raw_documents").iterdir() if ".tmp-" in p.name]


def test_check_fails_when_a_shard_is_lost(data_dir):
    assert run("books", data_dir).success
    from pipelines.readers.ingest import check_accounting

    out, dropped = data_dir / "raw_documents" / "books", data_dir / "dropped" / "raw_documents" / "books"
    assert check_accounting(out, dropped)[0]
    (out / "part-00000.parquet").unlink()
    ok, info = check_accounting(out, dropped)
    assert not ok and info["written"] == 0 and info["records_read"] == 7
