"""The engine (local pool, Ray) and per-file partitions: order, same bytes everywhere, resume, incremental runs."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine, get_engine
from pipelines.partition import MANIFEST, PartWriter, Task, read_manifest, run_map
from pipelines.samples import bundled_dumps_dir

PARAMS = MinHashParams(num_perm=128, bands=25, ngram=5)
DUMPS = ["commoncrawl/CC-MAIN-2023-50", "c4/en", "github/2023-03", "books/gutenberg", "stackexchange/2024-04"]


def square(x: int) -> int:
    return x * x


def fail_on(item):
    if item == 3:
        raise ValueError("task 3 failed")
    return item


def test_local_engine_keeps_item_order_with_any_worker_count():
    items = list(range(25))
    assert LocalEngine(1).map(square, items) == LocalEngine(2).map(square, items) == [i * i for i in items]
    with pytest.raises(ValueError, match="task 3 failed"):
        LocalEngine(2).map(fail_on, range(6))


def test_engine_configuration_is_validated(monkeypatch):
    monkeypatch.setenv("LLAMA_ENGINE", "spark")
    with pytest.raises(ValueError, match="LLAMA_ENGINE must be one of local, ray"):
        get_engine()
    monkeypatch.setenv("LLAMA_ENGINE", "local")
    monkeypatch.setenv("LLAMA_WORKERS", "two")
    with pytest.raises(ValueError, match="LLAMA_WORKERS must be a whole number"):
        get_engine()
    monkeypatch.setenv("LLAMA_WORKERS", "2")
    assert get_engine().workers == 2


def scatter_by_parity(item, index, dirs):
    for b, d in enumerate(dirs):
        Path(d, f"{index:05d}.txt").write_text("".join(f"{x}\n" for x in item if x % len(dirs) == b))
    return len(item)


def gather_sum(bucket_dir):
    return sum(int(x) for f in sorted(Path(bucket_dir).iterdir()) for x in f.read_text().split())


def test_bucket_join_scatters_then_gathers_in_order(tmp_path):
    items = [[1, 2, 3], [4, 5], [6]]
    scattered, gathered = LocalEngine(2).bucket_join(scatter_by_parity, gather_sum, items, 2, tmp_path)
    assert scattered == [3, 2, 1] and gathered == [2 + 4 + 6, 1 + 3 + 5]


def write_rows(task: Task) -> dict:
    """A toy map task: the input's rows, failing once for the key named in the `fail` file."""
    flag = Path(task.params["fail"])
    if flag.exists() and flag.read_text() == task.key:
        flag.unlink()
        raise RuntimeError(f"killed at {task.key}")
    schema = pa.schema([("id", pa.string())])
    w = PartWriter(task.out_dir, task.key, schema)
    for i in range(int(task.input)):
        w.write({"id": f"{task.key}-{i}"})
    name, sha, rows = w.close()
    from pipelines.document import DROPPED_SCHEMA

    dname, dsha, _ = PartWriter(task.dropped_dir, task.key, DROPPED_SCHEMA).close()
    Path(task.params["log"]).open("a").write(task.key + "\n")
    return {"output": name, "output_sha256": sha, "dropped": dname, "dropped_sha256": dsha, "rows_in": rows,
            "kept": rows, "dropped_rows": 0, "stats": {}}


def test_a_killed_run_resumes_with_the_missing_files_only(tmp_path):
    out, dropped, log, fail = tmp_path / "out", tmp_path / "dropped", tmp_path / "ran.log", tmp_path / "fail"
    tasks = [Task(key=f"k{i}", input=str(i + 1), digest=f"d{i}", out_dir=str(out), dropped_dir=str(dropped),
                  params={"fail": str(fail), "log": str(log)}) for i in range(4)]
    fail.write_text("k2")
    with pytest.raises(RuntimeError, match="killed at k2"):
        run_map(LocalEngine(1), write_rows, tasks, out, dropped, stage="toy")
    assert not (out / MANIFEST).exists() and log.read_text().split() == ["k0", "k1"]
    m = run_map(LocalEngine(1), write_rows, tasks, out, dropped, stage="toy")
    assert log.read_text().split() == ["k0", "k1", "k2", "k3"] and m["ran"] == 2 and m["kept"] == 1 + 2 + 3 + 4
    clean = tmp_path / "clean"
    run_map(LocalEngine(1), write_rows, [Task(**{**t.__dict__, "out_dir": str(clean), "dropped_dir": str(clean / "d")})
                                         for t in tasks], clean, clean / "d", stage="toy")
    assert sorted(p.name for p in out.glob("part-*")) == sorted(p.name for p in clean.glob("part-*"))
    # A changed input digest reruns that file only and removes its old output.
    tasks[1] = Task(**{**tasks[1].__dict__, "input": "7", "digest": "changed"})
    m = run_map(LocalEngine(1), write_rows, tasks, out, dropped, stage="toy")
    assert m["ran"] == 1 and m["kept"] == 1 + 7 + 3 + 4 and len(list(out.glob("part-k1-*"))) == 1


def curate_all(engine, dumps: Path, root: Path) -> None:
    for key in DUMPS:
        source, dump = key.split("/")
        curation.ingest(engine, root, dumps, source, dump)
        curation.dedup(engine, root, source, dump, PARAMS, workdir=root / "tmp")
        curation.map_stage(engine, root, "deduplicated", "language_identified", source, dump, curation.LID)


def digests(root: Path) -> dict[str, str]:
    """sha256 of every committed file and manifest, by path relative to the root."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and (p.name.startswith("part-") or p.name == MANIFEST):
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dumps")
    for key in DUMPS:
        shutil.copytree(bundled_dumps_dir() / key, d / key)
    return d


@pytest.fixture(scope="module")
def reference(dumps, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("one-worker")
    curate_all(LocalEngine(1), dumps, root)
    return digests(root)


def test_two_workers_write_the_same_bytes(dumps, reference, tmp_path):
    curate_all(LocalEngine(2), dumps, tmp_path)
    assert digests(tmp_path) == reference and len(reference) > 30


@pytest.mark.slow
def test_ray_writes_the_same_bytes(dumps, reference, tmp_path):
    ray = pytest.importorskip("ray")
    from pipelines.engine import RayEngine

    try:
        engine = RayEngine(workers=2)
        curate_all(engine, dumps, tmp_path)
    finally:
        ray.shutdown()
    assert engine.workers == 2 and digests(tmp_path) == reference


def test_rerun_runs_nothing_and_a_new_file_runs_only_itself(dumps, reference, tmp_path):
    root = tmp_path / "data"
    engine = LocalEngine(1)
    curate_all(engine, dumps, root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("part-*")}
    assert curation.ingest(engine, root, dumps, "books", "gutenberg")["files_read"] == 0
    assert curation.dedup(engine, root, "books", "gutenberg", PARAMS)["ran"] == 0
    assert curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg",
                              curation.LID)["ran"] == 0
    assert {p: p.stat().st_mtime_ns for p in root.rglob("part-*")} == mtimes
    # One new book: ingestion reads it alone; dedup reruns the (global) partition but rewrites no
    # unchanged output; language ID then runs the new file only.
    new = tmp_path / "more" / "books" / "gutenberg"
    shutil.copytree(dumps / "books" / "gutenberg", new)
    (new / "pg99999.txt").write_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n" + "A new book. " * 300)
    assert curation.ingest(engine, root, new.parents[1], "books", "gutenberg")["files_read"] == 1
    curation.dedup(engine, root, "books", "gutenberg", PARAMS)
    assert curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg",
                              curation.LID)["ran"] == 1
    after = {p: p.stat().st_mtime_ns for p in root.rglob("part-*")}
    assert {p: t for p, t in after.items() if p in mtimes} == {p: t for p, t in mtimes.items() if p in after}
    assert len(read_manifest(root / "language_identified" / "books" / "gutenberg")["files"]) == 8
    # Other partitions are untouched.
    assert digests(root / "language_identified" / "c4") == {
        k.removeprefix("language_identified/c4/"): v for k, v in reference.items() if k.startswith("language_identified/c4/")}


def test_concurrent_runs_of_one_partition_neither_fail_nor_corrupt(dumps, reference, tmp_path):
    import threading

    errors = []

    def work():
        try:
            curate_all(LocalEngine(1), dumps, tmp_path)
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and digests(tmp_path) == reference


def test_scratch_of_expired_runs_is_removed_and_live_runs_are_kept_whatever_their_pid(tmp_path):
    import json
    import time

    expired, live = tmp_path / "run-otherhost-aaa", tmp_path / "run-otherhost-bbb"
    for d, expires in ((expired, time.time() - 3600), (live, time.time() + 3600)):
        d.mkdir()
        (d / "bands.parquet").write_bytes(b"x")
        # pid 999999999 is alive on no host: a pid test would have removed the live run's folder.
        Path(f"{d}.lease").write_text(json.dumps({"owner": d.name[4:], "pid": 999999999, "expires": expires}))
    with curation.run_workdir(tmp_path) as wd:
        assert wd.is_dir() and Path(f"{wd}.lease").is_file()
        assert not expired.exists() and not Path(f"{expired}.lease").exists()
        assert (live / "bands.parquet").exists()
    assert not wd.exists() and not Path(f"{wd}.lease").exists()


def test_an_unreachable_ray_address_fails_fast_with_one_line(monkeypatch):
    ray = pytest.importorskip("ray")
    from pipelines.engine import RayEngine

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(ConnectionError, match=r"^no Ray cluster at RAY_ADDRESS=127\.0\.0\.1:1 \(nothing answered"):
        RayEngine(connect_timeout=5)
    assert not ray.is_initialized()


def write_or_die(task: Task) -> dict:
    """write_rows, but the first attempt at key k1 writes its pid, then waits to be killed mid-task."""
    import time

    marker = Path(task.params["pid"])
    if task.key == "k1" and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    return write_rows(task)


@pytest.mark.slow
def test_a_killed_ray_worker_is_retried_and_the_stage_writes_the_same_bytes(tmp_path):
    ray = pytest.importorskip("ray")
    import signal
    import threading
    import time

    from pipelines.engine import RayEngine

    def tasks(root: Path) -> list[Task]:
        return [Task(key=f"k{i}", input=str(i + 3), digest=f"d{i}", out_dir=str(root / "out"),
                     dropped_dir=str(root / "dropped"),
                     params={"fail": str(root / "no-fail"), "log": str(root / "ran.log"), "pid": str(root / "pid")})
                for i in range(4)]

    alone = tmp_path / "alone"
    run_map(LocalEngine(1), write_rows, tasks(alone), alone / "out", alone / "dropped", stage="toy")
    killed = []

    def killer():
        pid_file = tmp_path / "ray" / "pid"
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text():
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    root = tmp_path / "ray"
    root.mkdir()
    # Ray's workers cannot import this test module: its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        engine = RayEngine(workers=2)
        thread = threading.Thread(target=killer)
        thread.start()
        run_map(engine, write_or_die, tasks(root), root / "out", root / "dropped", stage="toy")
        thread.join()
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()
    assert len(killed) == 1 and sorted((root / "ran.log").read_text().split()) == ["k0", "k1", "k2", "k3"]
    assert digests(root) == {k.replace("alone/", "ray/"): v for k, v in digests(alone).items()} != {}
