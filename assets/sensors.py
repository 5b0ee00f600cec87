"""Sensors: a new dump folder under LLAMA_DUMPS_DIR (e.g. a new CommonCrawl snapshot) starts its ingestion.

`new_dump_folders` lists every source folder (each dump file with its size, each snapshot folder with a
digest of its files), remembers the listing in its cursor, and requests a `raw_documents` run for each
source partition in which something new or changed appeared. The run key is the source plus a digest of its listing, so the same
listing never starts two runs. Starts STOPPED: `dagster sensor start -w workspace.yaml new_dump_folders`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from assets import ingest
from pipelines.document import SOURCES
from resources import DumpsResource

RAW = "raw_documents"


def _fingerprint(p: Path) -> str:
    """A file: its size. A folder (e.g. a CommonCrawl snapshot): a digest of its files' names and sizes."""
    if p.is_file():
        return str(p.stat().st_size)
    children = sorted(f"{c.name}:{c.stat().st_size if c.is_file() else 'dir'}"
                      for c in p.iterdir() if not c.name.startswith("."))
    return hashlib.sha1("\n".join(children).encode()).hexdigest()[:12]


def dump_listing(root: Path) -> dict[str, dict[str, str]]:
    """{source: {entry under <root>/<source>: fingerprint}}: one line per dump file or snapshot folder,
    so the cursor stays small while a new file inside an existing snapshot folder still shows."""
    listing = {}
    for source in SOURCES:
        d = root / source
        if d.is_dir():
            # Names starting with "." are temp files of a copy still in progress.
            listing[source] = {p.name: _fingerprint(p) for p in sorted(d.iterdir()) if not p.name.startswith(".")}
    return listing


def new_entries(previous: dict, current: dict) -> dict[str, list[str]]:
    """Per source, the entries that are new or changed since the previous listing (removals start nothing)."""
    out = {}
    for source, entries in current.items():
        before = previous.get(source, {})
        changed = sorted(e for e, fp in entries.items() if before.get(e) != fp)
        if changed:
            out[source] = changed
    return out


@dg.sensor(name="new_dump_folders", target=dg.AssetSelection.assets(RAW), minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Requests raw_documents runs for the sources whose dump folder gained entries.")
def new_dump_folders(context: dg.SensorEvaluationContext, dumps: DumpsResource):
    previous = json.loads(context.cursor) if context.cursor else {}
    current = dump_listing(dumps.root_path)
    added = new_entries(previous, current)
    requests = []
    for source, entries in added.items():
        digest = hashlib.sha1(json.dumps(current[source], sort_keys=True).encode()).hexdigest()[:12]
        shown = ", ".join(entries[:5]) + (f" (+{len(entries) - 5} more)" if len(entries) > 5 else "")
        context.log.info(f"{source}: new in the dumps: {shown}")
        requests.append(dg.RunRequest(run_key=f"{source}:{digest}", partition_key=source,
                                      tags={"llama/new_dump_entries": str(len(entries))}))
    cursor = json.dumps(current, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason=f"no new dump entries under {dumps.root_path}", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def _defines(module, name: str) -> bool:
    return any(k.to_user_string() == name for a in module.ASSETS for k in (getattr(a, "keys", None) or [a.key]))


# Without raw_documents there is nothing to start; leave the sensor out rather than break the Definitions.
SENSORS: list = [new_dump_folders] if _defines(ingest, RAW) else []
