"""The manifest as a stream: the same bytes as one json.dumps, entries held as text, bulky fields in done-records."""
import json

from pipelines.engine import LocalEngine
from pipelines.manifest import (
    MANIFEST,
    NAMES,
    Entries,
    done_record,
    manifest_chunks,
    manifest_entry,
    read_manifest,
    staged_manifest,
)
from pipelines.partition import PartWriter, Task, data_version, run_map
from pipelines.readers.ingest import _preview as ingest_preview

ENTRY = {"key": "k1", "input": "seg-1.warc.wet.gz", "digest": "d" * 24, "output": "part-k1-aaaa.parquet",
         "output_sha256": "a" * 64, "dropped": "part-k1-bbbb.parquet", "dropped_sha256": "b" * 64, "rows_in": 3,
         "kept": 2, "dropped_rows": 1, "stats": {"read": 3, "kept": 2, "dropped": {"empty_text": 1}},
         "notes": {}, "utf8_repaired": 0, "info": {"languages": {"en": 2}, "steps": [{"step": "langid"}]},
         "preview": [{"id": "x", "text": "Grüße, \"quoted\"\nsecond line"}]}
HEADER = {"stage": "s[src/d]", "dropped_dir": "../../../dropped/s/src/d", "rows_in": 3, "kept": 2,
          "dropped_rows": 1, "info": {"buckets": 2, "nested": {"a": [1, 2.5, None]}}, "version": "v"}


def test_the_streamed_manifest_is_byte_identical_to_one_json_dump():
    entries = [ENTRY, dict(ENTRY, key="k2", notes={"files_without_records": 1})]
    text = "".join(manifest_chunks(HEADER, Entries(entries)))
    assert text == json.dumps(dict(HEADER, files=[manifest_entry(e) for e in entries]), indent=1, sort_keys=True)
    empty = "".join(manifest_chunks(HEADER, Entries()))
    assert empty == json.dumps(dict(HEADER, files=[]), indent=1, sort_keys=True)


def test_entries_hold_the_manifest_fields_only():
    e = Entries([ENTRY, None])
    assert len(e) == 2 and e.missing() == [1] and e[1] is None
    got = e[0]
    assert "preview" not in got and got["info"] == {"languages": {"en": 2}}  # recipe steps: once per asset
    assert got == {k: v for k, v in ENTRY.items() if k not in ("preview", "info")} | {"info": {"languages": {"en": 2}}}
    e[1] = dict(ENTRY, key="k2")
    assert [x["key"] for x in e] == ["k1", "k2"] and e[:1] == [got] and e == [got, e[1]]


def test_an_unchanged_manifest_is_not_rewritten_and_a_changed_one_is(tmp_path):
    entries = Entries([ENTRY])
    with staged_manifest(tmp_path, HEADER, entries) as changed:
        assert changed
    st = (tmp_path / MANIFEST).stat()
    with staged_manifest(tmp_path, HEADER, entries) as changed:
        assert not changed
    assert (tmp_path / MANIFEST).stat().st_mtime_ns == st.st_mtime_ns
    with staged_manifest(tmp_path, dict(HEADER, kept=1), entries) as changed:
        assert changed
    assert read_manifest(tmp_path)["kept"] == 1
    assert read_manifest(tmp_path, fields=NAMES)["files"] == [
        {"key": "k1", "output": ENTRY["output"], "dropped": ENTRY["dropped"]}]
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST]  # no temporary left


def _task(task: Task) -> dict:
    import pyarrow as pa

    from pipelines.document import DROPPED_SCHEMA
    from pipelines.partition import Entry

    schema = pa.schema([("n", pa.int64())])
    out = PartWriter(task.out_dir, task.key, schema)
    out.write({"n": int(task.key)})
    return Entry.written(out.close(), PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA).close(), 1,
                         {"read": 1}, preview=[{"id": task.key}]).as_dict()


def test_run_map_keeps_previews_in_done_records_and_commits_the_same_data_version(tmp_path):
    out, dropped = tmp_path / "a" / "s" / "d", tmp_path / "dropped" / "a" / "s" / "d"
    tasks = [Task(key=f"{i}", input=f"in-{i}", digest="x", out_dir=str(out), dropped_dir=str(dropped))
             for i in range(5)]
    for workers in (1, 2):
        engine = LocalEngine(workers)
        try:
            m = run_map(engine, _task, tasks, out, dropped, stage="s", allow_empty=True)
        finally:
            engine.close()
        committed = read_manifest(out)
        assert committed["kept"] == m["kept"] == 5 and len(m["files"]) == 5
        assert list(m["files"]) == committed["files"] and data_version(m) == data_version(committed)
        assert all("preview" not in e for e in committed["files"])
        assert done_record(out, "3")["preview"] == [{"id": "3"}]
        assert ingest_preview(out, m["files"]) == [{"id": "0"}, {"id": "1"}, {"id": "2"}]  # the summary's
        assert (out / MANIFEST).read_text() == json.dumps(
            {k: v for k, v in m.items() if k not in ("ran", "skipped", "stale_temporaries_removed")} |
            {"files": committed["files"]}, indent=1, sort_keys=True)
    assert m["ran"] == 0 and m["skipped"] == 5  # the second engine found every task done
