"""Writers remove their temporaries on every failure path: locally, and against object storage (a run
against a missing S3 bucket left the dropped-rows writer's .part-*.tmp-* in the temp folder)."""

import pytest

from pipelines.engine import LocalEngine
from pipelines.readers.ingest import ingest_dump
from pipelines.samples import bundled_dumps_dir

pytest.importorskip("moto.server")
from s3_server import local_s3  # noqa: E402


@pytest.fixture(scope="module")
def s3_endpoint():
    with local_s3() as (env, _):
        yield env["AWS_ENDPOINT_URL"]


def test_a_run_against_a_missing_bucket_leaves_no_temporary(s3_endpoint, tmp_path, monkeypatch):
    for k, v in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_REGION": "us-east-1", "LLAMA_TMP_DIR": str(tmp_path / "scratch")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    dump = bundled_dumps_dir() / "books" / "gutenberg"
    with pytest.raises(Exception):    # noqa: B017 - whatever pyarrow raises for the bucket; the point is what stays
        ingest_dump(LocalEngine(1), "books", dump, "s3://no-such-bucket/raw/books/gutenberg",
                    "s3://no-such-bucket/dropped/raw/books/gutenberg")
    assert sorted(p.name for p in (tmp_path / "scratch").rglob("*")) == []


def test_a_reader_failing_midway_leaves_no_temporary(tmp_path):
    d = tmp_path / "dumps" / "c4" / "en"
    d.mkdir(parents=True)
    (d / "c4-train.00000-of-01024.json.gz").write_bytes(b"\x1f\x8b\x08\x00not gzip at all")
    out, dropped = tmp_path / "raw", tmp_path / "dropped"
    with pytest.raises(Exception):    # noqa: B017
        ingest_dump(LocalEngine(1), "c4", d, out, dropped)
    assert [p.name for p in tmp_path.rglob("*.tmp-*")] == []
