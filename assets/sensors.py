"""Sensors: a new dump folder under LLAMA_DUMPS_DIR (e.g. a new CommonCrawl snapshot) starts its ingestion.

`new_dump_folders` fingerprints every dump folder `<source>/<dump>` (a digest of its files' names and
sizes), remembers them in its cursor, registers the dumps it has not seen as partition keys and requests
a `raw_documents` run for each new or changed key only (ingestion then reads only the files that are
new or changed). The run key is the partition key plus its fingerprint, so the same state never
starts two runs. Starts STOPPED: `dagster sensor start -w workspace.yaml new_dump_folders`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from assets import ingest
from assets.partitions import DUMPS
from pipelines.dumps import DumpLayoutError, find_dumps
from resources import DumpsResource

RAW = "raw_documents"


def _fingerprint(d: Path) -> str:
    """A digest of the names and sizes of the files under a dump folder (links and hidden names skipped)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue  # a copy still in progress
            p = Path(dirpath) / name
            entries.append(f"{p.relative_to(d).as_posix()}:{p.lstat().st_size}")
    return hashlib.sha1("\n".join(entries).encode()).hexdigest()[:12]


def dump_listing(root: Path) -> dict[str, str]:
    """{partition key: fingerprint} of every dump under the root."""
    return {key: _fingerprint(root / key) for key in find_dumps(root)}


def new_entries(previous: dict, current: dict) -> list[str]:
    """Keys that are new or whose files changed since the previous listing (removals start nothing)."""
    return sorted(k for k, fp in current.items() if previous.get(k) != fp)


@dg.sensor(name="new_dump_folders", target=dg.AssetSelection.assets(RAW), minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Registers new dump folders as partitions and requests raw_documents for new or changed ones.")
def new_dump_folders(context: dg.SensorEvaluationContext, dumps: DumpsResource):
    root = dumps.root_path
    if not root.is_dir():
        context.log.error(f"LLAMA_DUMPS_DIR {root} does not exist: nothing to watch")
        return dg.SensorResult(skip_reason=f"dumps folder {root} does not exist", cursor=context.cursor)
    try:
        current = dump_listing(root)
    except DumpLayoutError as e:
        context.log.error(str(e))
        return dg.SensorResult(skip_reason=str(e), cursor=context.cursor)
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = new_entries(previous, current)
    known = set(context.instance.get_dynamic_partitions(DUMPS))
    added = [k for k in changed if k not in known]
    for k in changed:
        context.log.info(f"{k}: {'new dump' if k in added else 'files changed'}")
    requests = [dg.RunRequest(run_key=f"{k}:{current[k]}", partition_key=k) for k in changed]
    cursor = json.dumps(current, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=f"no new or changed dumps under {root}", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor,
                           dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(DUMPS, added)] if added else [])


def _defines(module, name: str) -> bool:
    return any(k.to_user_string() == name for a in module.ASSETS for k in (getattr(a, "keys", None) or [a.key]))


# Without raw_documents there is nothing to start; leave the sensor out rather than break the Definitions.
SENSORS: list = [new_dump_folders] if _defines(ingest, RAW) else []
