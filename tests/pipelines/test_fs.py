"""pipelines.fs without a server: which paths are local, which remote, and the errors that stop a URI
from turning into a local folder. (Reads and writes against S3: tests/test_assets/test_object_storage.py.)"""
from pathlib import Path, PurePosixPath

import pytest

from pipelines import io
from pipelines.fs import RemotePath, as_path, is_remote, plain
from pipelines.partition import dropped_dir_of


def test_local_paths_stay_pathlib(tmp_path):
    assert as_path(str(tmp_path)) == tmp_path and isinstance(as_path(tmp_path), Path)
    assert as_path(f"file://{tmp_path}") == tmp_path
    assert plain(tmp_path) == tmp_path and not is_remote(str(tmp_path))


def test_remote_path_names():
    p = as_path("s3://bucket//data/") / "quality_filtered" / "books"
    assert isinstance(p, RemotePath) and str(p) == "s3://bucket/data/quality_filtered/books"
    assert p.key == "bucket/data/quality_filtered/books" and p.name == "books"
    assert str(p.parent) == "s3://bucket/data/quality_filtered" and p.joinpath("a", "b.parquet").suffix == ".parquet"
    assert (p / "part-x.parquet").stem == "part-x" and plain(p) == str(p) and is_remote(p)
    assert p.relative_to(as_path("s3://bucket/data")) == PurePosixPath("quality_filtered/books")
    assert sorted([p / "b", p / "a"]) == [p / "a", p / "b"] and len({p, as_path(str(p))}) == 1
    # A manifest's relative dropped folder resolves by name on a bucket, as a plain join locally.
    m = {"dropped_dir": "../../../dropped/quality_filtered/books/d1"}
    assert str(dropped_dir_of(p / "d1", m)) == "s3://bucket/data/dropped/quality_filtered/books/d1"
    assert dropped_dir_of(Path("/r/q/books/d1"), m) == Path("/r/q/books/d1") / m["dropped_dir"]


def test_uris_never_become_local_folders(tmp_path):
    with pytest.raises(ValueError, match="object-storage URI"):
        as_path(Path("s3://bucket/data"))
    with pytest.raises(ValueError, match="unsupported storage URI"):
        as_path("gs://bucket/data")
    with pytest.raises(ValueError, match="not an s3://bucket"):
        RemotePath("s3://")
    with pytest.raises(TypeError):
        Path(as_path("s3://bucket/x"))          # no __fspath__: local file APIs refuse it
    with pytest.raises(ValueError, match="writes local files only"):
        io.write_text("s3://bucket/x.txt", "no")
    assert not any(tmp_path.iterdir()) and not Path("s3:").exists()


def test_data_dir_uris_are_s3_file_or_plain_folders(tmp_path, monkeypatch):
    from resources import build_resources
    from resources.storage import ArtifactStorage

    monkeypatch.chdir(tmp_path)
    storage = ArtifactStorage(root=f"file://{tmp_path}/abs")             # file:///... is the absolute folder
    assert storage.root_path == tmp_path / "abs"
    storage.write_text("x", "reports", "a.txt")
    assert (tmp_path / "abs" / "reports" / "a.txt").read_text() == "x" and not (tmp_path / "file:").exists()
    assert ArtifactStorage(root="file://localhost/srv/d").root_path == Path("/srv/d")
    for bad, message in (("file://relative/x", "file:///absolute/path"), ("gs://bucket/x", "unsupported storage URI"),
                         ("s3:/bucket/x", "looks like a URI"), ("http://host/x", "unsupported storage URI")):
        with pytest.raises(ValueError, match=message):
            _ = ArtifactStorage(root=bad).root_path
        monkeypatch.setenv("LLAMA_DATA_DIR", bad)
        with pytest.raises(ValueError, match="^LLAMA_DATA_DIR: "):       # when the Definitions load
            build_resources()
    assert not any(p.name.startswith(("file:", "s3:", "gs:")) for p in tmp_path.iterdir())
