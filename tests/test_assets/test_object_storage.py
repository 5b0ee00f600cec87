"""LLAMA_DATA_DIR=s3://bucket/data against a local S3 server (moto, on 127.0.0.1, started here).

The curation chain on three bundled dumps writes the same files, bytes and manifests as a local run; a
run that fails mid-stage leaves the previous manifest; a rerun redoes only the files it had not
finished, and then nothing.
"""
import dataclasses
import hashlib
import json
from collections import Counter

import dagster as dg
import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

from s3_server import local_s3

from assets.curate import (
    curation_report,
    deduplicated,
    language_identified,
    quality_filtered,
)
from assets.ingest import raw_documents
from pipelines import curation, shards
from pipelines import mixture as mix
from pipelines import tokenizer_training as tt
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.fs import RemotePath, as_path, local_copy
from pipelines.partition import MANIFEST, dropped_dir_of, read_manifest
from resources import ArtifactStorage, DumpsResource, ProfileResource
from resources.storage import LocalOnlyArtifactError

PARTITIONS = ["books/gutenberg", "github/2023-03", "stackexchange/2024-04"]
STAGES = ["raw_documents", "deduplicated", "language_identified", "quality_filtered"]
BUCKET = "bucket"
def lid_v2(table, source, schema_note: str = ""):
    """The language ID stage with one more parameter: a new digest for every file, the same outputs."""
    from pipelines.langid import identify_partition

    return identify_partition(table, source)


LID = dataclasses.replace(curation.LID, run=lid_v2)  # the stage, given as an object


@pytest.fixture(scope="module")
def s3_server():
    with local_s3(BUCKET) as (env, _):
        yield env


def materialize_chain(root: str) -> dict:
    """The four stages on every partition; returns {(stage, partition): manifest}. Every check passes."""
    res = {"storage": ArtifactStorage(root=root), "dumps": DumpsResource(root=""),
           "profile": ProfileResource(name="tiny")}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dumps", PARTITIONS)
    for asset in (raw_documents, deduplicated, language_identified, quality_filtered):
        for key in PARTITIONS:
            out = dg.materialize([asset], partition_key=key, resources=res, instance=instance)
            assert out.success and all(e.passed for e in out.get_asset_check_evaluations()), (asset, key)
    # The report reads every partition through DuckDB: read_parquet locally, pyarrow datasets on S3.
    out = dg.materialize([curation_report], resources=res, instance=instance)
    meta = out.asset_materializations_for_node("curation_report")[0].metadata
    root_path = as_path(root)
    manifests = {(s, k): read_manifest(root_path / s / k) for s in STAGES for k in PARTITIONS}
    return manifests, {k: meta[k].value for k in ("drops", "curated", "planted_truth", "documents_dropped")}


def without_digests(m: dict) -> dict:
    return dict(m, files=[{k: v for k, v in e.items() if k != "digest"} for e in m["files"]])


def listed_files(root: str, stage: str, key: str) -> dict[str, str]:
    """name -> sha256 of the bytes actually stored, for every file a manifest lists (kept and dropped)."""
    d = as_path(root) / stage / key
    m = read_manifest(d)
    out = {}
    for e in m["files"]:
        for base, name in ((d, e["output"]), (dropped_dir_of(d, m), e["dropped"])):
            p = base / name
            out[f"{'kept' if base is d else 'dropped'}/{name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_curation_on_s3_matches_local(s3_server, tmp_path, monkeypatch):
    monkeypatch.delenv("LLAMA_ENGINE", raising=False)
    monkeypatch.delenv("LLAMA_WORKERS", raising=False)
    local, remote = str(tmp_path / "local"), f"s3://{BUCKET}/data"
    local_m, local_report = materialize_chain(local)
    remote_m, remote_report = materialize_chain(remote)
    assert remote_report == local_report and local_report["documents_dropped"] > 0
    assert "| github | 57 |" in local_report["curated"]
    assert (RemotePath(remote) / "curation_report" / "drops.md").read_text().startswith("| source | stage |")
    # Manifests: same files, counts, stats. Task digests too, except quality_filtered's: the location of
    # the models (a parameter of its tasks) is part of them.
    assert {k: without_digests(m) for k, m in remote_m.items()} == {k: without_digests(m) for k, m in local_m.items()}
    assert {k: m for k, m in remote_m.items() if k[0] != "quality_filtered"} == \
        {k: m for k, m in local_m.items() if k[0] != "quality_filtered"}
    for stage in STAGES:
        for key in PARTITIONS:
            here, there = listed_files(local, stage, key), listed_files(remote, stage, key)
            assert there == here and here                         # same names, same bytes
            m = local_m[(stage, key)]
            assert {f"kept/{e['output']}": e["output_sha256"] for e in m["files"]}.items() <= here.items()
    assert sum(m["kept"] for (s, _), m in local_m.items() if s == "quality_filtered") > 0
    assert sum(m["dropped_rows"] for m in local_m.values()) > 0
    # The token stages read the curated text from either root alike (the tokenizer sample, the split).
    dirs = {r: {s: as_path(r) / "quality_filtered" / s for s in ("books", "github", "stackexchange")}
            for r in (local, remote)}
    sample = {r: tt.sample_texts(d, 200_000, 0.1) for r, d in dirs.items()}
    assert sample[remote].texts == sample[local].texts and sample[local].documents["github"] > 0
    files = {r: mix.source_files(d["github"]) for r, d in dirs.items()}
    assert [f.name for f in files[remote]] == [f.name for f in files[local]]
    chunks = {r: [(t.texts, t.is_val.tolist()) for t in shards._source_tasks("github", d["github"], 0.1, 0, Counter())]
              for r, d in dirs.items()}
    assert chunks[remote] == chunks[local] and chunks[local]
    # Nothing of the curation chain was written under a local folder named after the URI.
    assert not (tmp_path / "s3:").exists()

    # Rerun: every file is unchanged, nothing runs, the manifest is the same.
    before = (RemotePath(remote) / "language_identified/books/gutenberg" / MANIFEST).read_bytes()
    m = curation.map_stage(LocalEngine(1), remote, "deduplicated", "language_identified", "books", "gutenberg",
                           curation.LID)
    assert m["ran"] == 0 and m["skipped"] == len(m["files"]) == 7
    assert (RemotePath(remote) / "language_identified/books/gutenberg" / MANIFEST).read_bytes() == before


def test_failed_run_keeps_manifest_and_resume(s3_server, monkeypatch):
    root = f"s3://{BUCKET}/resume"
    engine = LocalEngine(1)
    curation.ingest(engine, root, _bundled(), "books", "gutenberg")
    curation.dedup(engine, root, "books", "gutenberg", MinHashParams())
    curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg", LID)
    out = RemotePath(root) / "language_identified/books/gutenberg"
    before = (out / MANIFEST).read_bytes()
    files_before = json.loads(before)["files"]

    # A new code version (a changed parameter) reruns every file; the third task dies.
    calls = []
    real = curation.run_table_task

    def dies_on_third(task):
        calls.append(task.key)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(task)

    monkeypatch.setattr(curation, "run_table_task", dies_on_third)
    with pytest.raises(RuntimeError, match="killed"):
        curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg",
                           LID, {"schema_note": "v2"})
    assert (out / MANIFEST).read_bytes() == before               # the previous partition is still the partition
    for e in files_before:
        assert (out / e["output"]).is_file()
    monkeypatch.setattr(curation, "run_table_task", real)

    m = curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg",
                           LID, {"schema_note": "v2"})
    assert m["ran"] == 5 and m["skipped"] == 2                   # the two finished files are not redone
    m2 = curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg",
                            LID, {"schema_note": "v2"})
    assert m2["ran"] == 0
    # Only listed files remain (the old partition's outputs were removed after the switch).
    listed = {e["output"] for e in m2["files"]}
    assert {p.name for p in out.glob("part-*.parquet")} == listed


def test_local_only_artifacts_and_remote_models(s3_server, tmp_path, monkeypatch):
    storage = ArtifactStorage(root=f"s3://{BUCKET}/data2")
    monkeypatch.delenv("LLAMA_LOCAL_DIR", raising=False)
    with pytest.raises(LocalOnlyArtifactError, match="LLAMA_LOCAL_DIR"):
        storage.path("tokenizer", "tokenizer.model")
    monkeypatch.setenv("LLAMA_LOCAL_DIR", str(tmp_path / "local"))
    assert storage.path("token_shards") == tmp_path / "local" / "token_shards"
    assert str(storage.path("quality_filtered", "books")) == f"s3://{BUCKET}/data2/quality_filtered/books"

    # A folder artifact (quality_models) is built locally, then uploaded; workers load a local copy.
    with storage.atomic("quality_models") as tmp:
        tmp.mkdir()
        (tmp / "models.json").write_text('{"lm": null}')
        (tmp / "sub").mkdir()
        (tmp / "sub" / "w.bin").write_bytes(b"\x00\x01")
    remote = storage.path("quality_models")
    assert (remote / "models.json").read_text() == '{"lm": null}'
    copy = local_copy(remote, tag="t1")
    assert (copy / "sub" / "w.bin").read_bytes() == b"\x00\x01"
    with storage.atomic("quality_models") as tmp:                # a new version drops stale files
        tmp.mkdir()
        (tmp / "models.json").write_text("{}")
    assert sorted(p.name for p in remote.iterdir() if p.is_file()) == ["models.json"]
    storage.write_text("# report\n", "curation_report", "drops.md")
    assert storage.path("curation_report", "drops.md").read_text() == "# report\n"


def _bundled():
    from pipelines.samples import bundled_dumps_dir

    return bundled_dumps_dir()
