"""The `deduplicated` stage: exact, MinHash near-duplicate, book containment and CCNet line dedup,
as a global stage by bucket that never holds a partition (neither its texts nor its rows) in memory.

    dedup_files(engine, inputs, keys, out_dir, dropped_dir, source, params, workdir)

Tasks are not files: consecutive input files are grouped into tasks of at most TASK_ROWS documents,
TASK_BYTES of text and TASK_FILES files (sizes from the upstream manifest, or the Parquet footers when
none is given; a bigger file is a task alone), so a dump of many tiny files (CommonCrawl: ~80,000 WET
files) is a few hundred tasks, and the scratch files, written per task, grow with the tasks, not with
the files.

1. Map, one task per group of files (scatter.py): keys per document (content hash, MinHash band keys
   and signature, CCNet line hashes, sampled book shingles), one scratch file per task and kind (a row
   group per key bucket), never the text.
2. Per bucket (gather.py, DuckDB with a memory limit, spilling to the work dir): exact groups;
   MinHash candidate pairs among exact survivors; book pairs; then (near.py, one task per range of
   document indices) candidates verified (estimate, or exact shingles fetched per task), clusters
   over integer document indices (local components merged in DuckDB), the best copy survives
   (survivor.py: rank columns fetched for the candidates only); book containment (books.py, one task
   per range of document indices: candidates and exact containment by the pair's smaller index, each
   dropped book's best partner by its own index); last, CCNet line dedup by line-hash bucket among the
   survivors.
3. Map, one task per group (apply.py): its files and their decisions -> per input file, a kept file
   and a dropped file (the manifest entries of pipelines/partition.py stay per file).

Order matters: exact duplicates go first (reason `exact_duplicate`); MinHash then sees whole documents;
line dedup runs last on the survivors, so it strips shared boilerplate lines without erasing
near-duplicate pairs first (nor the lines of a survivor whose dropped copy came earlier).

Every key lives in one bucket and every decision is a function of sets of keys, so the outputs are
byte-identical whatever the engine, the worker count, the number of buckets or the grouping of files
into tasks (tests check it).

Drop reasons: null_text, empty_text, exact_duplicate, near_duplicate (detail: the survivor's id),
contained_book (detail: the containing book's id), line_dedup_empty (every line was a repeat).
"""
from __future__ import annotations

import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import recipes
from pipelines.base import Stats
from pipelines.dedup.apply import apply_all
from pipelines.dedup.books import contained_books
from pipelines.dedup.gather import BandGather, BookGather, ExactGather, LineGather
from pipelines.dedup.minhash import MinHashParams
from pipelines.dedup.near import near_duplicates
from pipelines.dedup.plan import BookParams, Plan, group_files
from pipelines.dedup.scatter import Scatter
from pipelines.document import DEDUP_COLUMNS, DEDUP_SCHEMA
from pipelines.fs import parquet_file, plain
from pipelines.stage import StageResult

STAGE = recipes.DEDUP
ADDED_COLUMNS = DEDUP_COLUMNS
SCHEMA = DEDUP_SCHEMA
# Documents per key bucket: a bucket task holds ~25 band keys and ~30 line hashes per document in
# DuckDB, so its memory is set by this number, not by the partition (buckets grow with the partition).
DOCS_PER_BUCKET = 20_000
# Step 1 writes one file per task and kind (a row group per bucket), but every bucket task (and every
# near-duplicate range task, as many as buckets) reads the footers of all those files: past this many
# buckets that work grows as files x buckets, so buckets grow instead and DuckDB spills beyond its limit.
MAX_BUCKETS = 512
# Files per task (scatter, fetch, apply). A scatter task holds its documents' keys until it writes them
# (~1.5 KB a document: band keys, line hashes, signature), so TASK_ROWS as DOCS_PER_BUCKET (~30 MB);
# keys grow with the text too (line hashes, book samples: under 1 byte per byte of text), so
# TASK_BYTES (text bytes, as the upstream manifest counts them) bounds a task of long documents: a
# CommonCrawl WET file (~150 MB of text) or a file of books stays a task alone. Apply writes two Parquet
# files per input file (~10 ms each for a tiny file), so TASK_FILES keeps a task of tiny files to a few
# seconds and 80,000 of them to ~300 tasks for a cluster to share, instead of a handful of long ones.
TASK_ROWS = 20_000
TASK_BYTES = 64 << 20
TASK_FILES = 256


def make_plan(source: str, files: Sequence[Path], n_ref_files: int, params: MinHashParams, work: Path,
              buckets: int | None = None, memory_limit: str = "1GB", steps: Sequence[str] | None = None,
              task_size: tuple[int, int, int] = (TASK_ROWS, TASK_BYTES, TASK_FILES),
              file_sizes: Sequence[tuple[int, int]] | None = None) -> Plan:
    """The run's description from the source's recipe (or only `steps`, for benchmarks). `task_size`:
    (documents, bytes, files) at most per task, a file over a limit being a task alone. `file_sizes`:
    (documents, text bytes) of each file as its manifest counts them; None reads each file's footer
    (documents, uncompressed Parquet bytes): a read per file in the driver, a GET on object storage."""
    def step(name: str):
        s = recipes.step(source, STAGE, name)
        return s if steps is None or name in steps else None

    if file_sizes is not None:
        if len(file_sizes) != len(files):
            raise ValueError(f"{len(files)} files but {len(file_sizes)} sizes")
        sizes, nbytes = [int(r) for r, _ in file_sizes], [int(b) for _, b in file_sizes]
    else:
        sizes, nbytes = [], []
        for f in files:  # one footer at a time: a footer object is KBs, 80,000 of them would be 100s of MB
            m = parquet_file(f).metadata
            sizes.append(m.num_rows)
            nbytes.append(sum(m.row_group(g).total_byte_size for g in range(m.num_row_groups)))
    offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]))
    exact, near, line, books = step("exact"), step("minhash"), step("line"), step("containment")
    if buckets is None:
        buckets = min(MAX_BUCKETS, max(2, -(-offsets[-1] // DOCS_PER_BUCKET)))
    return Plan(work=str(work), source=source, files=tuple(str(f) for f in files), offsets=offsets,
                n_ref_files=n_ref_files, buckets=buckets, exact=exact is not None,
                clean_code=bool(exact and exact.params.get("strip_header")),
                minhash=replace(params, threshold=near.params["threshold"], measure="jaccard") if near else None,
                line=line is not None,
                books=BookParams(ngram=params.ngram, threshold=books.params["threshold"]) if books else None,
                memory_limit=memory_limit, tasks=group_files(sizes, nbytes, n_ref_files, *task_size))


def dedup_files(engine, inputs: list[Path], keys: list[str], out_dir: Path, dropped_dir: Path, source: str,
                params: MinHashParams, workdir: Path, log: Callable[[str], None] | None = None,
                reference_inputs: Sequence[Path] = (), *, buckets: int | None = None,
                memory_limit: str = "1GB", steps: Sequence[str] | None = None, keep_work: bool = False,
                task_size: tuple[int, int, int] = (TASK_ROWS, TASK_BYTES, TASK_FILES),
                sizes: Sequence[tuple[int, int]] | None = None) -> dict:
    """Deduplicate one partition given as its upstream Parquet files (in document order).

    Writes, per input i, one kept file (SCHEMA) to out_dir and one dropped file (DROPPED_SCHEMA) to
    dropped_dir named by keys[i] (the same bytes whatever `task_size`, see make_plan). `reference_inputs`
    (earlier dumps, scope "source") take part in every match and always win; nothing is written for them.
    `workdir` must be visible to every worker. `sizes`: (documents, text bytes) per file of
    reference_inputs then inputs, from their manifests (else make_plan reads the Parquet footers).
    Returns {"files": manifest entries in input order, "info": counts, timings, parameters}.
    """
    if len(keys) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(keys)} keys")
    t0 = time.perf_counter()
    work = Path(workdir) / f"dedup-{uuid.uuid4().hex[:12]}"
    # Inputs stay as given: local paths, or object-store URIs read through pipelines.fs.
    files = [plain(p) for p in reference_inputs] + [plain(p) for p in inputs]
    plan = make_plan(source, files, len(reference_inputs), params, work, buckets, memory_limit, steps, task_size,
                     file_sizes=sizes)
    timings: dict[str, float] = {}
    info: dict = {"steps": recipes.as_dict(source, STAGE), "scope": recipes.dedup_scope(source),
                  "reference_files": len(reference_inputs), "reference_documents": plan.n_ref,
                  "buckets": plan.buckets, "tasks": plan.n_tasks}

    peak: dict[str, float] = {}

    def lap(name: str, t: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - t, 3)
        peak[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return now

    try:
        work.mkdir(parents=True)
        t = time.perf_counter()
        groups = [plan.task_files(t) for t in range(plan.n_tasks)]
        scattered, exact = engine.bucket_join(Scatter(plan), ExactGather(plan), groups, plan.buckets, work,
                                              desc="dedup keys", log=log)
        scattered = [scattered[t] for t in plan.input_tasks()]  # the counts below are of the inputs
        dirs = [str(d) for d in plan.bucket_dirs()]
        info["exact_duplicates"] = sum(r.get("exact_duplicates", 0) for r in exact)
        t = lap("keys_and_exact", t)
        if plan.minhash is not None:
            engine.map(BandGather(plan), dirs, desc="dedup minhash pairs", log=log)
            info.update(near_duplicates(engine, plan, log))
            p = plan.minhash
            info["minhash"] = {"num_perm": p.num_perm, "bands": p.bands, "rows": p.rows, "ngram": p.ngram,
                               "threshold": p.threshold, "measure": p.measure}
            t = lap("minhash", t)
        if plan.books is not None:
            engine.map(BookGather(plan), dirs, desc="dedup book index", log=log)
            info.update(contained_books(engine, plan, log))
            info["books"] = vars(plan.books).copy()
            t = lap("books", t)
        if plan.line:
            removed = engine.map(LineGather(plan), dirs, desc="dedup lines", log=log)
            info["lines_removed"] = sum(r["lines_removed"] for r in removed)
            t = lap("lines", t)
        entries = apply_all(engine, plan, list(keys), plain(out_dir), plain(dropped_dir), SCHEMA, STAGE, log)
        lap("apply", t)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    stats = Stats()
    for e in entries:
        s = e["stats"]
        stats.merge(Stats.from_dict(s))
    info.update(rows_in=stats.read, kept=stats.kept, dropped=dict(sorted(stats.dropped.items())),
                documents_with_text=sum(r["with_text"] for r in scattered),
                utf8_repaired_texts=sum(r["utf8_repaired_texts"] for r in scattered),
                seconds=timings, total_seconds=round(time.perf_counter() - t0, 3),
                # What varies from run to run sits under keys holding "seconds" (a manifest drops them).
                run_seconds_context={"engine": engine.name, "workers": engine.workers, "peak_rss_mb_after": peak})
    return {"files": entries, "info": info}


def deduplicate(table: pa.Table, source: str, params: MinHashParams, workdir=None, workers: int = 1,
                shard_rows: int = 20_000) -> StageResult:
    """One in-memory table through dedup_files (local engine): for small inputs and tests."""
    from pipelines.document import DROPPED_SCHEMA
    from pipelines.engine import LocalEngine

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        inputs = []
        for s in range(max(1, -(-table.num_rows // shard_rows))):
            p = tmp / "in" / f"in-{s:05d}.parquet"
            p.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(s * shard_rows, shard_rows), p)
            inputs.append(p)
        r = dedup_files(LocalEngine(workers), inputs, [f"{s:05d}" for s in range(len(inputs))], tmp / "out",
                        tmp / "dropped", source, params, tmp / "work")
        kept = pa.concat_tables([pq.read_table(tmp / "out" / e["output"], schema=SCHEMA) for e in r["files"]])
        dropped = pa.concat_tables([pq.read_table(tmp / "dropped" / e["dropped"], schema=DROPPED_SCHEMA)
                                    for e in r["files"]])
    stats = Stats()
    for e in r["files"]:
        s = e["stats"]
        stats.merge(Stats.from_dict(s))
    return StageResult(kept=kept, dropped=dropped, stats=stats, info=r["info"])
