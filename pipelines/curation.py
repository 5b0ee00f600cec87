"""The curation stages of one dump, as plain functions over an artifact root: what the assets call.

    from pipelines import curation
    from pipelines.engine import get_engine
    engine = get_engine()
    curation.ingest(engine, root, dumps_root, "books", "gutenberg")
    curation.dedup(engine, root, "books", "gutenberg", params)
    curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg", LID)
    curation.map_stage(engine, root, "language_identified", "quality_filtered", "books", "gutenberg", QUALITY,
                       {"models_dir": ..., "models_stamp": ...})

The stages are declared here (`INGEST`, `DEDUP`, `LID`, `QUALITY`: pipelines.stage.Stage): their code,
recipe steps and models make their versions (pipelines/version.py), which decide what reruns.

Layout: `<root>/<asset>/<source>/<dump>/` (kept rows and the manifest) and
`<root>/dropped/<asset>/<source>/<dump>/` (dropped rows). Every function returns the committed manifest
(plus `ran`, the number of files it ran); a stage whose inputs and code are unchanged runs nothing.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

from pipelines import langid, quality, recipes
from pipelines.dedup.minhash import MinHashParams
from pipelines.document import DEDUP_SCHEMA, LID_SCHEMA, QUALITY_SCHEMA
from pipelines.fs import RemotePath, as_path, is_remote, plain, scratch_dir
from pipelines.lease import run_scratch
from pipelines.manifest import FILES, MANIFEST, SIZES, entry_sizes, sized_part_files
from pipelines.partition import Task, digest_of, partition_dirs, run_map, verify_partition
from pipelines.quality.heuristics import BAD_WORDS_FILE
from pipelines.readers.ingest import INGEST as ingest_stage
from pipelines.readers.ingest import ingest_dump
from pipelines.stage import Stage, map_tasks, run_table_task, without_timings
from pipelines.version import digest_of as version_digest
from pipelines.version import file_digest


def _lid_models(source: str | None, params: dict) -> dict:
    return {"lid.176": file_digest(langid.MODEL_PATH)}


def _quality_models(source: str | None, params: dict) -> dict:
    """The quality models a source's files are filtered with: the bad-words list for sources with C4's
    rules, the models folder for sources with a perplexity step (new models rerun no c4 or github file),
    and none for the asset as a whole (the models are its upstream asset, whose data version Dagster
    follows)."""
    used = {}
    if source is not None and recipes.step(source, recipes.QUALITY, "c4_heuristics"):
        used["c4_bad_words"] = file_digest(BAD_WORDS_FILE)
    if source is None or not recipes.step(source, recipes.QUALITY, "perplexity"):
        return used
    models_dir = params.get("models_dir") or ""
    if not models_dir:
        return used | {"quality_models": "missing"}  # never "" as a path: that would be the working directory
    if is_remote(models_dir):
        return used | {"models.json": version_digest(params.get("models_stamp", ""))}
    return used | {"quality_models": file_digest(models_dir)}


INGEST = ingest_stage
DEDUP = Stage(asset=recipes.DEDUP, upstream=recipes.RAW, modules=("pipelines.dedup",), schema=DEDUP_SCHEMA)
LID = Stage(asset=recipes.LID, upstream=recipes.DEDUP, modules=("pipelines.langid",), schema=LID_SCHEMA,
            run=langid.identify_partition, models=_lid_models)
QUALITY = Stage(asset=recipes.QUALITY, upstream=recipes.LID, modules=("pipelines.quality",),
                schema=QUALITY_SCHEMA, run=quality.filter_file, models=_quality_models,
                located=("models_dir", "models_stamp"))
STAGES = (INGEST, DEDUP, LID, QUALITY)


def ingest(engine, root, dumps_root, source: str, dump: str, log: Callable | None = None,
           allow_empty: bool = False, limits: dict | None = None) -> dict:
    """`limits`: overrides of the readers' size caps (pipelines/readers/base.py Limits)."""
    out, dropped = partition_dirs(root, "raw_documents", source, dump)
    return ingest_dump(engine, source, Path(dumps_root) / source / dump, out, dropped, log=log,
                       allow_empty=allow_empty, limits=limits)


def earlier_dumps(root, asset: str, source: str, dump: str) -> list[tuple[Path, int, int]]:
    """Committed files of the source's dumps that sort before `dump` (dedup scope "source"), each with
    its (documents, text bytes) from its manifest."""
    d = as_path(root) / asset / source
    dumps = sorted(p.name for p in d.iterdir() if p.is_dir() and p.name < dump) if d.is_dir() else []
    return [f for x in dumps if (d / x / MANIFEST).is_file() for f in sized_part_files(d / x)]


@contextlib.contextmanager
def run_workdir(tmp_root: str | Path) -> Iterator[Path]:
    """A scratch folder for one run (`run-<host>-<id>`, owned by a lease renewed while the run lives),
    removed at the end; folders of runs whose lease expired are removed first. Runs on other hosts or
    in other PID namespaces sharing `tmp_root` never touch each other's folders (pipelines/lease.py)."""
    with run_scratch(tmp_root) as wd:
        yield wd


def dedup(engine, root, source: str, dump: str, params: MinHashParams, log: Callable | None = None,
          allow_empty: bool = False, workdir: str | Path | None = None) -> dict:
    """The global dedup stage of one dump (scope per recipe); skipped when its inputs are unchanged."""
    from pipelines.dedup import dedup_files

    up, _ = partition_dirs(root, "raw_documents", source, dump)
    # files still hold their bytes; their sizes plan dedup's tasks (no Parquet footer read per file)
    upm = verify_partition(up, f"raw_documents[{source}/{dump}]", fields=FILES + SIZES)
    out, dropped = partition_dirs(root, "deduplicated", source, dump)
    scope = recipes.dedup_scope(source)
    refs = earlier_dumps(root, "raw_documents", source, dump) if scope == "source" else []
    # One digest for every file: each output depends on every input (and on the earlier dumps).
    version = DEDUP.version(source, minhash_params(source, params))
    digest = digest_of([e["output_sha256"] for e in upm["files"]], [f.name for f, _, _ in refs], version)
    sizes = [(rows, nbytes) for _, rows, nbytes in refs] + [entry_sizes(e) for e in upm["files"]]
    for e in upm["files"]:
        del e["stats"]  # read for the sizes only: the driver holds the entries for the whole stage
    tasks = [Task(key=e["key"], input=e["input"], digest=digest, out_dir=str(out), dropped_dir=str(dropped))
             for e in upm["files"]]
    timings: dict = {}

    def together(tasks: list[Task]) -> tuple[list[dict], dict]:
        with run_workdir(workdir or local_workdir(root)) as wd:
            r = dedup_files(engine, [plain(up / e["output"]) for e in upm["files"]], [t.key for t in tasks],
                            plain(out), plain(dropped), source, params, wd, log=log,
                            reference_inputs=[plain(f) for f, _, _ in refs], sizes=sizes)
        timings.update({k: v for k, v in r["info"].items() if "seconds" in k})
        return r["files"], {"info": json.loads(json.dumps(without_timings(r["info"]), default=str))}

    m = run_map(engine, None, tasks, out, dropped, stage=f"deduplicated[{source}/{dump}]", allow_empty=allow_empty,
                log=log, extra={"source": source, "dump": dump, "input_digest": digest, "scope": scope,
                               "version": version},
                together=together)
    return dict(m, timings=timings) if timings else m


def minhash_params(source: str, params: MinHashParams) -> dict:
    """The MinHash parameters (profile fields) when the source's recipe uses them, else none: a source
    deduplicated by exact hashes only is not rerun when they change."""
    uses = any(recipes.step(source, recipes.DEDUP, s) for s in ("minhash", "containment"))
    return {"minhash": asdict(params)} if uses else {}


def local_workdir(root) -> Path:
    """Scratch space of the global stages (bucket files): `<root>/tmp`, or a local temp folder when the
    root is on object storage (scratch files are written, listed and deleted many times)."""
    root = as_path(root)
    if isinstance(root, RemotePath):
        return scratch_dir() / "llama-pipeline-work"
    return root / "tmp"


def map_stage(engine, root, upstream: str, asset: str, source: str, dump: str, stage: Stage,
              params: dict | None = None, log: Callable | None = None, allow_empty: bool = False) -> dict:
    """A per-document stage: one task per upstream file (unchanged files are not run again)."""
    up, _ = partition_dirs(root, upstream, source, dump)
    out, dropped = partition_dirs(root, asset, source, dump)
    tasks = map_tasks(up, out, dropped, stage, source, params)
    return run_map(engine, run_table_task, tasks, out, dropped, stage=f"{asset}[{source}/{dump}]",
                   allow_empty=allow_empty, log=log,
                   extra={"source": source, "dump": dump, "version": stage.version(source, params)})
