"""The curation stages of one dump, as plain functions over an artifact root: what the assets call.

    from pipelines import curation
    from pipelines.engine import get_engine
    engine = get_engine()
    curation.ingest(engine, root, dumps_root, "books", "gutenberg")
    curation.dedup(engine, root, "books", "gutenberg", params)
    curation.map_stage(engine, root, "deduplicated", "language_identified", "books", "gutenberg", LID)
    curation.map_stage(engine, root, "language_identified", "quality_filtered", "books", "gutenberg", QUALITY,
                       {"models_dir": ..., "models_stamp": ...})

Layout: `<root>/<asset>/<source>/<dump>/` (kept rows and the manifest) and
`<root>/dropped/<asset>/<source>/<dump>/` (dropped rows). Every function returns the committed manifest
(plus `ran`, the number of files it ran); a stage whose inputs and code are unchanged runs nothing.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Callable, Iterator

from pipelines import recipes
from pipelines.dedup.minhash import MinHashParams
from pipelines.fs import RemotePath, as_path, plain, scratch_dir
from pipelines.lease import run_scratch
from pipelines.partition import commit, committed_files, digest_of, locked, read_manifest, run_map
from pipelines.readers.ingest import ingest_dump
from pipelines.stage import code_version, map_tasks, run_table_task, without_timings

LID = "pipelines.langid:identify_partition"
QUALITY = "pipelines.quality:filter_file"
DEDUP_CODE = "pipelines.dedup:deduplicate"


def out_dirs(root: str | Path, asset: str, source: str, dump: str) -> tuple[Path, Path]:
    """Kept and dropped folders of one partition; `root` may be an s3:// URI (then RemotePaths)."""
    root = as_path(root)
    return root / asset / source / dump, root / "dropped" / asset / source / dump


def ingest(engine, root, dumps_root, source: str, dump: str, log: Callable | None = None,
           allow_empty: bool = False, limits: dict | None = None) -> dict:
    """`limits`: overrides of the readers' size caps (pipelines/readers/base.py Limits)."""
    out, dropped = out_dirs(root, "raw_documents", source, dump)
    return ingest_dump(engine, source, Path(dumps_root) / source / dump, out, dropped, log=log,
                       allow_empty=allow_empty, limits=limits)


def earlier_dumps(root, asset: str, source: str, dump: str) -> list[Path]:
    """Committed files of the source's dumps that sort before `dump` (dedup scope "source")."""
    d = as_path(root) / asset / source
    dumps = sorted(p.name for p in d.iterdir() if p.is_dir() and p.name < dump) if d.is_dir() else []
    return [f for x in dumps for f in committed_files(d / x)]


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

    up, _ = out_dirs(root, "raw_documents", source, dump)
    upm = read_manifest(up)
    if upm is None:
        raise FileNotFoundError(f"raw_documents[{source}/{dump}] is not materialized (no manifest under {up})")
    out, dropped = out_dirs(root, "deduplicated", source, dump)
    scope = recipes.dedup_scope(source)
    refs = earlier_dumps(root, "raw_documents", source, dump) if scope == "source" else []
    digest = digest_of([e["output_sha256"] for e in upm["files"]], [f.name for f in refs], params,
                       code_version(DEDUP_CODE), scope)
    with locked(out):
        old = read_manifest(out)
        if old and old.get("input_digest") == digest:
            if log:
                log(f"deduplicated[{source}/{dump}]: inputs unchanged, nothing to do")
            return dict(old, ran=0)
        with run_workdir(workdir or local_workdir(root)) as wd:
            r = dedup_files(engine, [plain(up / e["output"]) for e in upm["files"]], [e["key"] for e in upm["files"]],
                            plain(out), plain(dropped), source, params, wd, log=log,
                            reference_inputs=[plain(f) for f in refs])
        info = json.loads(json.dumps(without_timings(r["info"]), default=str))
        m = commit(out, dropped, r["files"], stage=f"deduplicated[{source}/{dump}]", allow_empty=allow_empty,
                   extra={"source": source, "dump": dump, "input_digest": digest, "scope": scope, "info": info})
    return dict(m, ran=len(r["files"]), timings={k: v for k, v in r["info"].items() if "seconds" in k})


def local_workdir(root) -> Path:
    """Scratch space of the global stages (bucket files): `<root>/tmp`, or a local temp folder when the
    root is on object storage (scratch files are written, listed and deleted many times)."""
    root = as_path(root)
    if isinstance(root, RemotePath):
        return scratch_dir() / "llama-pipeline-work"
    return root / "tmp"


def map_stage(engine, root, upstream: str, asset: str, source: str, dump: str, func: str,
              params: dict | None = None, log: Callable | None = None, allow_empty: bool = False) -> dict:
    """A per-document stage: one task per upstream file (unchanged files are not run again)."""
    up, _ = out_dirs(root, upstream, source, dump)
    out, dropped = out_dirs(root, asset, source, dump)
    tasks = map_tasks(up, out, dropped, func, source, params)
    return run_map(engine, run_table_task, tasks, out, dropped, stage=f"{asset}[{source}/{dump}]",
                   allow_empty=allow_empty, log=log, extra={"source": source, "dump": dump})
