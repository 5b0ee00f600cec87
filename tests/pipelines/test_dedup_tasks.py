"""Dedup tasks are groups of input files: the same kept and dropped bytes and manifest entries whatever
the grouping (one file per task, several, one task for all), the worker count, the engine or the bucket
count; scratch files are per task; the grouping itself is cheap and follows the sizes in the upstream manifest (or the footers)."""
from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.dedup import TASK_BYTES, TASK_ROWS, dedup_files, make_plan
from pipelines.dedup.minhash import MinHashParams
from pipelines.dedup.plan import group_files
from pipelines.document import RAW_SCHEMA
from pipelines.engine import LocalEngine

PARAMS = MinHashParams(bands=25, ngram=5)
VOCAB = [f"w{i}" for i in range(2000)]
ONE_FILE = (TASK_ROWS, TASK_BYTES, 1)      # every file a task
THREE_FILES = (TASK_ROWS, TASK_BYTES, 3)   # tasks of three files (the last one shorter)
ONE_TASK = (10**9, 10**12, 10**6)          # every input file in one task


def _sentence(rng) -> str:
    return " ".join(rng.choices(VOCAB, k=rng.randint(8, 14))).capitalize() + "."


def _docs(rng, n: int = 160) -> list[tuple[str, str | None]]:
    """Exact copies, near copies (some across files), shared boilerplate lines, null and blank texts."""
    base = ["\n".join(_sentence(rng) for _ in range(8)) for _ in range(n)]
    docs = [(f"{i:032x}", t) for i, t in enumerate(base)]
    docs += [(f"e{i:031x}", base[i]) for i in range(0, 40, 7)]                              # exact
    docs += [(f"d{i:031x}", base[i].replace(base[i].split("\n")[2], _sentence(rng)))        # near
             for i in range(3, 60, 5)]
    docs += [(f"b{i:031x}", f"Home | About\nCookie policy\n{base[i]}") for i in range(90, 99)]  # lines
    docs += [("a" * 31 + "1", None), ("a" * 31 + "2", "  \n ")]
    rng.shuffle(docs)
    return docs


def _write(tmp, name: str, docs, cuts: list[int]) -> list:
    """Parquet files holding docs[cuts[k]:cuts[k + 1]] (an empty file where two cuts are equal)."""
    paths = []
    for k, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        p = tmp / name / f"{name}-{k:02d}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"id": i, "source": "commoncrawl", "text": t} for i, t in docs[lo:hi]]
        pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), p)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    docs = _docs(random.Random(3))
    n = len(docs)
    # Ten files of uneven sizes, one of them empty.
    return _write(tmp_path_factory.mktemp("dedup-tasks"), "in", docs,
                  [0, 5, 40, 41, 41, 90, 120, 121, 150, 170, n])


def _run(tmp, inputs, tag: str, engine=None, refs=(), **kw) -> tuple[dict, list[tuple[bytes, bytes]]]:
    out, dropped = tmp / tag / "out", tmp / tag / "dropped"
    r = dedup_files(engine or LocalEngine(1), inputs, [f"k{i:02d}" for i in range(len(inputs))], out, dropped,
                    "commoncrawl", PARAMS, tmp / tag / "work", reference_inputs=refs, **kw)
    files = [((out / e["output"]).read_bytes(), (dropped / e["dropped"]).read_bytes()) for e in r["files"]]
    return r, files


def _core(info: dict) -> dict:
    """What goes into the manifest beside the files, less what varies by run or by grouping."""
    return {k: v for k, v in info.items() if "seconds" not in k and k != "tasks"}


def test_same_bytes_and_entries_whatever_the_grouping(tmp_path, inputs):
    r1, b1 = _run(tmp_path, inputs, "one-file", task_size=ONE_FILE)
    r3, b3 = _run(tmp_path, inputs, "three-files", task_size=THREE_FILES, buckets=7)
    ra, ba = _run(tmp_path, inputs, "one-task", task_size=ONE_TASK)
    assert (r1["info"]["tasks"], r3["info"]["tasks"], ra["info"]["tasks"]) == (10, 4, 1)
    assert b1 == b3 == ba
    assert r1["files"] == r3["files"] == ra["files"] and len(r1["files"]) == 10
    assert _core(r1["info"]) == _core(ra["info"]) == {**_core(r3["info"]), "buckets": r1["info"]["buckets"]}
    # Real values, not only equal ones: every exact copy, the near copies above the threshold (9 of the
    # 12 planted ones: one line of 8 replaced is Jaccard ~0.8), the repeated lines, null and blank texts.
    info = r1["info"]
    assert (info["exact_duplicates"], info["near_duplicates"], info["lines_removed"]) == (6, 9, 130)
    assert info["dropped"] == {"empty_text": 1, "exact_duplicate": 6, "line_dedup_empty": 1, "near_duplicate": 9,
                               "null_text": 1}
    assert [e["rows_in"] for e in r1["files"]] == [5, 35, 1, 0, 49, 30, 1, 29, 20, 19]
    assert [e["kept"] for e in r1["files"]] == [5, 32, 1, 0, 45, 26, 0, 27, 19, 16]


@pytest.mark.slow  # a process pool: worker start-up
def test_same_bytes_with_tasks_of_several_files_on_2_workers(tmp_path, inputs):
    r1, b1 = _run(tmp_path, inputs, "one", task_size=ONE_FILE)
    engine = LocalEngine(2)
    try:
        r2, b2 = _run(tmp_path, inputs, "two", engine=engine, task_size=THREE_FILES)
        r3, b3 = _run(tmp_path, inputs, "two-one", engine=engine, task_size=ONE_TASK)
    finally:
        engine.close()
    assert b1 == b2 == b3 and r1["files"] == r2["files"] == r3["files"]
    assert _core(r1["info"]) == _core(r2["info"]) == _core(r3["info"])


@pytest.mark.slow
def test_same_bytes_with_tasks_of_several_files_on_ray(tmp_path, inputs):
    pytest.importorskip("ray")
    import ray

    from pipelines.engine import RayEngine

    r1, b1 = _run(tmp_path, inputs, "local", task_size=ONE_FILE)
    try:
        r2, b2 = _run(tmp_path, inputs, "ray", engine=RayEngine(workers=2), task_size=THREE_FILES)
    finally:
        ray.shutdown()
    assert b1 == b2 and r1["files"] == r2["files"]


def test_references_never_share_a_task_with_inputs_and_still_win(tmp_path, inputs):
    docs = _docs(random.Random(3))
    refs = _write(tmp_path, "ref", docs[:30], [0, 10, 20, 30])  # an earlier dump holding copies of inputs
    r1, b1 = _run(tmp_path, inputs, "one-file", refs=refs, task_size=ONE_FILE)
    ra, ba = _run(tmp_path, inputs, "one-task", refs=refs, task_size=ONE_TASK)
    assert ra["info"]["tasks"] == 2 and r1["info"]["tasks"] == 13  # references, then inputs
    assert b1 == ba and r1["files"] == ra["files"]
    assert r1["info"]["reference_documents"] == 30
    # The inputs' copies of the reference documents went (minus null/blank texts, never matched).
    ref_ids = {i for i, t in docs[:30] if t and t.strip()}
    out = tmp_path / "one-file" / "out"
    kept = {i for e in r1["files"] for i in pq.read_table(out / e["output"]).column("id").to_pylist()}
    assert ref_ids and not (kept & ref_ids)


def test_scratch_is_per_task(tmp_path, inputs):
    _run(tmp_path, inputs, "kept", task_size=THREE_FILES, keep_work=True)
    (run,) = (tmp_path / "kept" / "work").iterdir()
    assert sorted(p.name for p in (run / "scatter").iterdir()) == \
        sorted(f"{k}-{t:05d}.parquet" for k in ("exact", "bands", "lines") for t in range(4))
    assert sorted(p.name for p in (run / "docs").iterdir()) == [f"docs-{t:05d}.parquet" for t in range(4)]
    assert {p.name for p in (run / "decisions").iterdir()} <= {f"t-{t:05d}" for t in range(4)}


def test_group_files_cuts_by_rows_bytes_and_files():
    # rows, bytes: a file over a limit is a task alone; a task ends before it would exceed one.
    assert group_files([5, 5, 5, 5], [1, 1, 1, 1], 0, 10, 100, 100) == (0, 2, 4)
    assert group_files([5, 50, 5, 5], [1, 1, 1, 1], 0, 10, 100, 100) == (0, 1, 2, 4)
    assert group_files([1, 1, 1, 1], [60, 60, 10, 10], 0, 100, 100, 100) == (0, 1, 4)
    assert group_files([0] * 7, [0] * 7, 0, 10, 100, 3) == (0, 3, 6, 7)
    # The reference files (the first two) never share a task with the inputs.
    assert group_files([1] * 5, [1] * 5, 2, 10, 100, 100) == (0, 2, 5)
    assert group_files([], [], 0, 10, 100, 100) == (0,)


def test_plan_groups_twenty_thousand_tiny_files_into_a_few_tasks(tmp_path):
    """A CommonCrawl-shaped dump (tiny files): tasks are ~files / TASK_FILES, in order, covering all."""
    import pipelines.dedup as d

    p = tmp_path / "tiny.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "x", "source": "commoncrawl", "text": "two words"}] * 2,
                                        schema=RAW_SCHEMA), p)
    plan = make_plan("commoncrawl", [p] * 20_000, 0, PARAMS, tmp_path / "w")
    assert plan.n_tasks == -(-20_000 // d.TASK_FILES) == 79
    assert [len(plan.task_files(t)) for t in range(plan.n_tasks)][:2] == [d.TASK_FILES] * 2
    assert sum(len(plan.task_files(t)) for t in range(plan.n_tasks)) == 20_000


def _sizes(paths) -> list[tuple[int, int]]:
    """(documents, text bytes) per file, as a manifest entry counts them."""
    out = []
    for p in paths:
        texts = pq.read_table(p, columns=["text"]).column("text").to_pylist()
        out.append((len(texts), sum(len(t.encode()) for t in texts if t)))
    return out


def test_sizes_from_the_manifest_plan_without_opening_the_files(tmp_path, inputs, monkeypatch):
    """The curation stage passes each file's documents and text bytes from the upstream manifest: no
    footer is read in the driver, and the outputs are those of the footer-planned run."""
    import pipelines.dedup as d

    r1, b1 = _run(tmp_path, inputs, "footers", task_size=THREE_FILES)

    def no_footer(path):
        raise AssertionError(f"the driver opened {path}")

    monkeypatch.setattr(d, "parquet_file", no_footer)
    r2, b2 = _run(tmp_path, inputs, "sizes", task_size=THREE_FILES, sizes=_sizes(inputs))
    assert b1 == b2 and r1["files"] == r2["files"] and _core(r1["info"]) == _core(r2["info"])
    plan = make_plan("commoncrawl", inputs, 0, PARAMS, tmp_path / "w", file_sizes=_sizes(inputs),
                     task_size=(TASK_ROWS, 2_000, 100))  # bytes of text cut the tasks
    assert plan.n_tasks > 1 and plan.offsets[-1] == sum(n for n, _ in _sizes(inputs))
    with pytest.raises(ValueError, match="10 files but 9 sizes"):
        make_plan("commoncrawl", inputs, 0, PARAMS, tmp_path / "w", file_sizes=_sizes(inputs)[1:])


def test_a_file_whose_rows_differ_from_its_manifest_count_fails_the_run(tmp_path, inputs):
    sizes = _sizes(inputs)
    sizes[1] = (sizes[1][0] - 1, sizes[1][1])  # its entry says one document fewer than the file holds
    with pytest.raises(ValueError, match=f"{inputs[1].name} holds {sizes[1][0] + 1} documents, its manifest"):
        _run(tmp_path, inputs, "wrong", task_size=ONE_FILE, sizes=sizes)
