"""Reading a manifest as a stream: the entries json.loads would give, one at a time, never the whole file."""
import json

import pytest

from pipelines import manifest as manifest_mod
from pipelines.manifest import FILES, MANIFEST, Entries, iter_entries, manifest_chunks, read_manifest
from pipelines.partition import CorruptManifestError, committed_data_version, data_version, digest_of

HEADER = {"stage": "s[src/d]", "dropped_dir": "../../../dropped/s/src/d", "rows_in": 30, "kept": 20,
          "dropped_rows": 10, "info": {"buckets": 2, "nested": {"a": [1, 2.5, None, "x" * 300]}}, "version": "v1"}


def _entry(i: int) -> dict:
    return {"key": f"k{i}", "input": f"seg-{i}.warc.wet.gz", "digest": "d" * 24, "output": f"part-k{i}-a.parquet",
            "output_sha256": f"{i:064x}", "dropped": f"part-k{i}-b.parquet", "dropped_sha256": f"{i + 7:064x}",
            "rows_in": 3, "kept": 2, "dropped_rows": 1, "utf8_repaired": i % 2,
            "stats": {"read": 3, "kept": 2, "dropped": {"empty_text": 1}}, "notes": {},
            "info": {"languages": {"en": 2, "ü": 123456789}, "score": -1.5e-07, "ok": True, "none": None}}


def _write(tmp_path, header: dict, entries: list[dict]):
    text = "".join(manifest_chunks(header, Entries(entries)))
    (tmp_path / MANIFEST).write_text(text)
    return text


@pytest.mark.parametrize("read_bytes", [1, 7, 64, 1 << 16])
@pytest.mark.parametrize("n", [0, 1, 50])
def test_streamed_entries_and_header_are_what_json_loads_gives(tmp_path, monkeypatch, read_bytes, n):
    # Reads that end anywhere: inside a name, a number ("123456789"), an escape, a multi-byte character.
    monkeypatch.setattr(manifest_mod, "READ_BYTES", read_bytes)
    text = _write(tmp_path, HEADER, [_entry(i) for i in range(n)])
    whole = json.loads(text)
    header: dict = {}
    assert list(iter_entries(tmp_path, header=header)) == whole["files"]
    assert header == {k: v for k, v in whole.items() if k != "files"}
    assert list(iter_entries(tmp_path, fields=FILES)) == read_manifest(tmp_path, fields=FILES)["files"]


def test_entries_come_before_the_rest_of_the_file_is_read(tmp_path):
    """A manifest cut short yields its first entries, then fails naming the file: the reader parsed them
    as it went, it did not read (or hold) the whole file first."""
    text = _write(tmp_path, HEADER, [_entry(i) for i in range(2000)])
    cut = text[: len(text) // 2]
    (tmp_path / MANIFEST).write_text(cut)
    got = []
    with pytest.raises(CorruptManifestError, match="_manifest.json is corrupt"):
        for e in iter_entries(tmp_path, fields=("key",)):
            got.append(e["key"])
    complete = cut.count("\n  }")  # the entries that end before the cut (nested objects are deeper)
    assert 900 < complete < 1100 and got == [f"k{i}" for i in range(complete)]
    with pytest.raises(CorruptManifestError):
        read_manifest(tmp_path)


def test_the_first_entry_is_read_without_reading_the_file_to_its_end(tmp_path, monkeypatch):
    _write(tmp_path, HEADER, [_entry(i) for i in range(2000)])
    size = (tmp_path / MANIFEST).stat().st_size
    read = []
    real_open = type(tmp_path).open

    def counting_open(self, *args, **kwargs):
        fh = real_open(self, *args, **kwargs)
        real_read = fh.read

        def counted(n=-1):
            data = real_read(n)
            read.append(len(data))
            return data
        fh.read = counted
        return fh
    monkeypatch.setattr(type(tmp_path), "open", counting_open)
    entries = iter_entries(tmp_path)
    assert next(entries)["key"] == "k0"
    assert sum(read) <= manifest_mod.READ_BYTES < size // 10  # one read of 64 KB of a ~1.2 MB file
    entries.close()


@pytest.mark.parametrize("bad, message", [
    (lambda m: dict(m, dropped_dir="/abs/dropped"), "leaves the dropped tree"),
    (lambda m: {k: v for k, v in m.items() if k != "dropped_dir"}, "leaves the dropped tree"),
    (lambda m: {k: v for k, v in m.items() if k != "files"}, "no list of files"),
    (lambda m: dict(m, files={"a": 1}), "no list of files"),
    (lambda m: dict(m, files=[dict(_entry(0), output="../x.parquet")]), "is not a file of this partition"),
    (lambda m: dict(m, files=[{k: v for k, v in _entry(0).items() if k != "dropped"}]), "KeyError"),
])
def test_what_read_manifest_rejects_the_stream_rejects(tmp_path, bad, message):
    m = bad(dict(HEADER, files=[_entry(0)]))
    (tmp_path / MANIFEST).write_text(json.dumps(m, indent=1, sort_keys=True))
    for read in (lambda: read_manifest(tmp_path), lambda: list(iter_entries(tmp_path))):
        with pytest.raises(CorruptManifestError, match=message):
            read()
    (tmp_path / MANIFEST).write_text(json.dumps(dict(HEADER, files=[_entry(0)])) + " {}")
    with pytest.raises(CorruptManifestError, match="Extra data|extra data"):
        list(iter_entries(tmp_path))


def test_no_manifest_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        next(iter_entries(tmp_path / "nothing"))


def test_data_version_streams_the_same_digest(tmp_path):
    entries = [_entry(i) for i in range(30)]
    m = dict(HEADER, files=entries)
    assert data_version(m) == data_version({"files": iter(entries)}) == data_version(dict(HEADER, files=[]) | {
        "files": entries})
    assert data_version(m) == digest_of([[e["output_sha256"], e["dropped_sha256"]] for e in entries])[:16]
    assert data_version({"files": []}) == data_version({"files": iter([])}) == digest_of([])[:16]
    _write(tmp_path, HEADER, entries)
    assert committed_data_version(tmp_path) == data_version(m)
