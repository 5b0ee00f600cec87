"""Sensors: a new dump folder under LLAMA_DUMPS_DIR (e.g. a new CommonCrawl snapshot) starts its ingestion.

`new_dump_folders` lists every source folder two levels deep (snapshot folders and the files in them),
remembers the listing in its cursor, and requests a `raw_documents` run for each source partition in
which something new appeared. The run key is the source plus a digest of its listing, so the same
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


def dump_listing(root: Path, depth: int = 2) -> dict[str, list[str]]:
    """{source: sorted relative paths of the entries up to `depth` levels under <root>/<source>}."""
    listing = {}
    for source in SOURCES:
        d = root / source
        if not d.is_dir():
            continue
        entries, frontier = [], [d]
        for _ in range(depth):
            nxt = []
            for folder in frontier:
                for p in folder.iterdir():
                    if p.name.startswith("."):  # temp files of a copy still in progress
                        continue
                    entries.append(p.relative_to(d).as_posix())
                    if p.is_dir():
                        nxt.append(p)
            frontier = nxt
        listing[source] = sorted(entries)
    return listing


def new_entries(previous: dict[str, list[str]], current: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per source, the entries present now that were not in the previous listing (removals start nothing)."""
    out = {}
    for source, entries in current.items():
        added = sorted(set(entries) - set(previous.get(source, [])))
        if added:
            out[source] = added
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
        digest = hashlib.sha1("\n".join(current[source]).encode()).hexdigest()[:12]
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
