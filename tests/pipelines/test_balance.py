"""The balance check (pipelines/stage.py balance) over partitions of many files, scanned a few at a time."""
import pyarrow as pa
import pytest

from pipelines import stage
from pipelines.document import DROPPED_SCHEMA
from pipelines.engine import LocalEngine
from pipelines.partition import Entry, PartWriter, Task, run_map
from pipelines.stage import balance

IDS = pa.schema([("id", pa.string())])


def _upstream(task: Task) -> dict:
    i = int(task.key)
    out = PartWriter(task.out_dir, task.key, IDS)
    out.write_table(pa.table({"id": [f"a{i}", f"b{i}"]}, schema=IDS))
    return Entry.written(out.close(), PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA).close(), 2,
                         {"read": 2}).as_dict()


def _stage(task: Task) -> dict:
    """Keeps a<i>, drops b<i>; when the params say so, loses b<lose> without recording it, or keeps
    a<twice> twice."""
    i = int(task.key)
    out, dropped = PartWriter(task.out_dir, task.key, IDS), PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA)
    out.write_table(pa.table({"id": [f"a{i}"] * (2 if task.params.get("twice") == i else 1)}, schema=IDS))
    lose = task.params.get("lose") == i
    if not lose:
        dropped.write({"id": f"b{i}", "source": "s", "stage": "t", "reason": "r", "detail": None, "bytes": 1})
    return Entry.written(out.close(), dropped.close(), 2, {"read": 2}).as_dict()


def _partition(root, asset: str, fn, n: int, params: dict | None = None):
    out, dropped = root / asset / "s" / "d", root / "dropped" / asset / "s" / "d"
    tasks = [Task(key=f"{i}", input=f"in-{i}", digest="x", out_dir=str(out), dropped_dir=str(dropped),
                  params=params or {}) for i in range(n)]
    engine = LocalEngine(1)
    try:
        run_map(engine, fn, tasks, out, dropped, stage=asset, allow_empty=True)
    finally:
        engine.close()
    return out


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_balance_counts_every_file_whatever_the_batch(tmp_path, monkeypatch, batch):
    monkeypatch.setattr(stage, "BALANCE_FILES", batch)
    up = _partition(tmp_path, "up", _upstream, 20)
    good = _partition(tmp_path, "good", _stage, 20)
    assert balance(up, good) == {"passed": True, "input": 40, "kept": 20, "dropped": 20, "missing": 0,
                                 "unexpected": 0, "files": 20, "unbalanced_files": 0}
    bad = _partition(tmp_path, "bad", _stage, 20, {"lose": 7})
    assert balance(up, bad) == {"passed": False, "input": 40, "kept": 20, "dropped": 19, "missing": 1,
                                "unexpected": 0, "files": 20, "unbalanced_files": 1}
    twice = _partition(tmp_path, "twice", _stage, 20, {"twice": 3})
    assert balance(up, twice) == {"passed": False, "input": 40, "kept": 21, "dropped": 20, "missing": 0,
                                  "unexpected": 1, "files": 20, "unbalanced_files": 1}
    assert balance(twice, good) | {"passed": None} == {
        "passed": None, "input": 21, "kept": 20, "dropped": 20, "missing": 1, "unexpected": 20,
        "files": 20, "unbalanced_files": 0}  # a3 once too few, b0..b19 not in the input at all
    assert balance(tmp_path / "nothing", good) == {
        "passed": False, "error": "missing files: input 0, kept 20, dropped 20"}


def test_duplicate_ids_across_batches_and_the_streamed_file_list(tmp_path, monkeypatch):
    from pipelines.readers import idcheck

    monkeypatch.setattr(idcheck, "ID_FILES", 2)
    up = _partition(tmp_path, "up", _upstream, 5)
    files = idcheck.partition_files(up, with_dropped=True)
    assert next(files).parent == up  # a stream: outputs first, then the dropped files
    listed = [up / "x", *files]
    assert len(listed) == 10 and sum(p.parent == up for p in listed) == 5
    assert idcheck.duplicate_ids(idcheck.partition_files(up)) == (
        True, {"files": 5, "rows": 10, "distinct": 10, "repeated_ids": 0, "examples": []})
    good = _partition(tmp_path, "good", _stage, 5)  # a0..a4 again, in other files and batches
    ok, info = idcheck.duplicate_ids([*idcheck.partition_files(up), *idcheck.partition_files(good)])
    assert not ok and info["files"] == 10 and info["repeated_ids"] == 5
    assert info["examples"] == [[f"a{i}", 2] for i in range(5)]
    assert idcheck.duplicate_ids(iter(())) == (True, {"files": 0, "rows": 0, "distinct": 0, "repeated_ids": 0,
                                                      "examples": []})


def test_verified_entries_check_each_file_as_it_is_reached(tmp_path):
    from pipelines.manifest import verified_entries
    from pipelines.partition import TamperedFileError

    up = _partition(tmp_path, "up", _upstream, 4)
    got = list(verified_entries(up, ("rows_in",)))
    assert [e["rows_in"] for e, _, _ in got] == [2] * 4 and all(o.parent == up for _, o, _ in got)
    out = got[2][1]
    out.write_bytes(out.read_bytes()[:-3])
    seen = []
    with pytest.raises(TamperedFileError, match=out.name):
        for e, _, _ in verified_entries(up):
            seen.append(e["key"])
    assert seen == ["0", "1"]  # the files before it came first: checked as reached


def test_a_large_stat_record_is_read_in_step_with_the_manifest(tmp_path, monkeypatch):
    """Above CACHED_STAT_BYTES the record is streamed, not parsed whole: it still spares every hash, and a
    rewritten file is still found."""
    import json

    from pipelines import integrity, manifest
    from pipelines.partition import TamperedFileError

    up = _partition(tmp_path, "up", _upstream, 30)
    record = json.loads((up / integrity.STAT).read_text())
    names = [n for n in record if n != "dropped"]
    stream = integrity.StatStream(up / integrity.STAT)
    assert [stream.get(n) for n in names] == [record[n] for n in names]
    stream = integrity.StatStream(up / integrity.STAT, "dropped")
    dropped = list(record["dropped"])
    # a name without a record, one asked out of order: None (hashed), and no other name lost
    assert stream.get("part-none.parquet") is None and stream.get(dropped[5]) == record["dropped"][dropped[5]]
    assert [stream.get(n) for n in dropped if n != dropped[5]] == [
        record["dropped"][n] for n in dropped if n != dropped[5]]
    assert integrity.StatStream(tmp_path / "none.json").get(names[0]) is None

    monkeypatch.setattr(integrity, "CACHED_STAT_BYTES", 0)
    assert isinstance(integrity.stat_of(up, "dropped"), integrity.StatStream)
    hashed = []
    real = integrity.file_sha256
    monkeypatch.setattr(integrity, "file_sha256", lambda p: hashed.append(p) or real(p))
    assert len(list(manifest.iter_part_files(up))) == len(list(manifest.iter_part_files(up, "dropped"))) == 30
    assert len(list(manifest.verified_entries(up))) == 30 and hashed == []
    p = up / names[11]
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(TamperedFileError, match=p.name):
        list(manifest.iter_part_files(up))
