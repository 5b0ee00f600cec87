"""raw_documents on the bundled samples (three partitions) and on broken or changed dumps, with dg.materialize."""
import gzip
import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.ingest import raw_documents, raw_documents_accounting, raw_documents_unique_ids
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.io import read_dropped, read_parquet_dir
from pipelines.partition import MANIFEST, read_manifest
from resources import ArtifactStorage, DumpsResource, ProfileResource


def run(partition, data_dir, dumps_root="", instance=None, profile=None):
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dumps", [partition])
    return dg.materialize([raw_documents, raw_documents_accounting, raw_documents_unique_ids],
                          partition_key=partition,
                          resources={"storage": ArtifactStorage(root=str(data_dir)),
                                     "dumps": DumpsResource(root=dumps_root),
                                     "profile": profile or ProfileResource(name="tiny")},
                          instance=instance, raise_on_error=False)


def metadata(result):
    mat = result.asset_materializations_for_node("raw_documents")[0]
    return {k: v.value for k, v in mat.metadata.items()}


def error_text(result) -> str:
    error, err = result.get_step_failure_events()[0].event_specific_data.error, ""
    while error is not None:
        err, error = err + error.message, error.cause
    return err


@pytest.mark.parametrize("partition,documents,skipped,files", [
    ("books/gutenberg", 7, {}, 7),
    ("stackexchange/2024-04", 677, {"orphan_answer": 1, "post_type": 120}, 2),
    # the licence filter runs at ingest: the GPL and unlicensed repositories' 34 files are skipped unread
    ("github/2023-03", 57, {"binary": 3, "empty_file": 3, "hidden_file": 11, "license_not_permissive": 27}, 7),
])
def test_raw_documents_on_bundled_samples(data_dir, partition, documents, skipped, files):
    result = run(partition, data_dir)
    assert result.success
    meta = metadata(result)
    assert meta["documents"] == documents and meta["skipped_by_reason"] == skipped
    assert meta["records_read"] == documents + sum(skipped.values()) and meta["dagster/row_count"] == documents
    assert meta["files"] == files and meta["files_read"] == files
    assert meta["bytes"] > 0 and meta["seconds"] >= 0 and "| id |" in meta["preview"]
    table = read_parquet_dir(data_dir / "raw_documents" / partition)
    source, dump = partition.split("/")
    assert table.schema == RAW_SCHEMA and table.num_rows == documents
    assert set(table["source"].to_pylist()) == {source} and set(table["dump"].to_pylist()) == {dump}
    assert len(set(table["id"].to_pylist())) == documents and all(len(i) == 32 for i in table["id"].to_pylist())
    dropped = read_dropped(data_dir / "raw_documents" / partition)
    assert dropped.schema == DROPPED_SCHEMA and dropped.num_rows == sum(skipped.values())
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["raw_documents_accounting"].passed
    assert checks["raw_documents_accounting"].metadata["records_read"].value == meta["records_read"]
    unique = checks["raw_documents_unique_ids"]
    assert unique.passed and unique.metadata["rows"].value == meta["records_read"]


def test_ids_and_bytes_are_stable_across_runs(tmp_path):
    ids, manifests = [], []
    for i in range(2):
        assert run("books/gutenberg", tmp_path / str(i)).success
        out = tmp_path / str(i) / "raw_documents" / "books" / "gutenberg"
        ids.append(read_parquet_dir(out)["id"].to_pylist())
        manifests.append((out / MANIFEST).read_bytes())
    assert ids[0] == ids[1] and manifests[0] == manifests[1]


def _c4(dumps, name="c4-train.00000-of-00002.json.gz", n=3, text="hello"):
    d = dumps / "c4" / "en"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(gzip.compress(b"".join(json.dumps({"text": f"{text} {i}"}).encode() + b"\n"
                                                  for i in range(n)), mtime=0))
    return d / name


def test_corrupt_dump_fails_and_leaves_previous_output(tmp_path, data_dir):
    dumps = tmp_path / "dumps"
    f = _c4(dumps)
    assert run("c4/en", data_dir, str(dumps)).success
    out = data_dir / "raw_documents" / "c4" / "en"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    data = gzip.compress(b"".join(json.dumps({"text": f"doc {i} " * 40}).encode() + b"\n" for i in range(500)))
    f.write_bytes(data[: len(data) // 2])
    result = run("c4/en", data_dir, str(dumps))
    assert not result.success
    err = error_text(result)
    assert "c4-train.00000-of-00002.json.gz" in err and "truncated gzip" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert read_parquet_dir(out).num_rows == 3
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_adding_a_file_reads_only_that_file(tmp_path, data_dir):
    dumps = tmp_path / "dumps"
    _c4(dumps)
    assert run("c4/en", data_dir, str(dumps)).success
    out = data_dir / "raw_documents" / "c4" / "en"
    first = read_manifest(out)["files"]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    _c4(dumps, "c4-train.00001-of-00002.json.gz", n=2, text="world")
    result = run("c4/en", data_dir, str(dumps))
    meta = metadata(result)
    assert meta["files"] == 2 and meta["files_read"] == 1 and meta["files_unchanged"] == 1 and meta["documents"] == 5
    second = read_manifest(out)["files"]
    assert second[0] == first[0]  # the unchanged file's entry, output and bytes are untouched
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in stamps} == stamps


def test_an_empty_dump_never_replaces_good_data(tmp_path, data_dir, monkeypatch):
    dumps = tmp_path / "dumps"
    f = _c4(dumps)
    assert run("c4/en", data_dir, str(dumps)).success
    f.write_bytes(b"")  # a zero-byte .json.gz
    result = run("c4/en", data_dir, str(dumps))
    assert not result.success and "would replace 3 documents" in error_text(result)
    assert read_parquet_dir(data_dir / "raw_documents" / "c4" / "en").num_rows == 3
    monkeypatch.setenv("LLAMA_ALLOW_EMPTY", "1")
    result = run("c4/en", data_dir, str(dumps))
    assert result.success and metadata(result)["documents"] == 0
    assert metadata(result)["files_without_records"] == ["c4-train.00000-of-00002.json.gz"]


def test_check_fails_when_a_file_is_lost(data_dir):
    assert run("books/gutenberg", data_dir).success
    from pipelines.readers.ingest import check_accounting

    out = data_dir / "raw_documents" / "books" / "gutenberg"
    assert check_accounting(out)[0]
    victim = read_manifest(out)["files"][0]["output"]
    pq.write_table(pq.read_table(out / victim).slice(0, 0), out / victim)
    ok, info = check_accounting(out)
    assert not ok and victim in info["error"]  # named: its bytes no longer match the manifest


def test_profile_caps_reach_the_readers(tmp_path, data_dir):
    import dataclasses

    from llama_model.configs import get_profile

    class Capped(ProfileResource):
        def get(self):
            p = get_profile("tiny")
            return dataclasses.replace(p, data=dataclasses.replace(p.data, reader_limits={"record_bytes": 100}))

    dumps = tmp_path / "dumps"
    _c4(dumps, n=3, text="x" * 200)  # every line is over the 100-byte cap
    result = run("c4/en", data_dir, str(dumps), profile=Capped())
    assert metadata(result)["skipped_by_reason"] == {"too_large": 3}
