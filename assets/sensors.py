"""Sensors: a new dump folder under LLAMA_DUMPS_DIR (e.g. a new CommonCrawl snapshot) starts its ingestion.

`new_dump_folders` fingerprints every dump folder `<source>/<dump>` (a digest of its files' names and
sizes, hidden names skipped as the readers skip them), remembers them in its cursor, registers the dumps
it has not seen as partition keys and requests a `raw_documents` run for each new or changed key only
(ingestion then reads only the files that are new or changed). The run key is the partition key, its
fingerprint and the cursor's observation number, which grows with every change seen: the same state never
starts two runs, yet a dump that returns to an earlier state (A -> B -> A) is ingested again. A dump folder
with a bad name is logged and the others are still watched; registered keys whose folder is gone are logged
(`llama-pipeline register-dumps --prune` removes them). Starts STOPPED:
`dagster sensor start -w workspace.yaml new_dump_folders`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from assets import ingest
from assets.partitions import DUMPS
from pipelines.dumps import find_dumps, gone_keys
from pipelines.readers.base import is_hidden
from resources import DumpsResource

RAW = "raw_documents"


def _fingerprint(d: Path) -> str:
    """A digest of the names and sizes of the files under a dump folder (hidden names skipped: the
    readers never read them, so they change nothing ingested)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames[:] = sorted(x for x in dirnames if not is_hidden(x))
        for name in sorted(filenames):
            if is_hidden(name):     # the readers' rule: never read, so never a reason to ingest again
                continue
            p = Path(dirpath) / name
            entries.append(f"{p.relative_to(d).as_posix()}:{p.lstat().st_size}")
    # surrogateescape: a file name that is not UTF-8 is still fingerprinted (the readers skip and count it)
    return hashlib.sha1("\n".join(entries).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def dump_listing(root: Path, problems: list[str] | None = None) -> dict[str, str]:
    """{partition key: fingerprint} of every dump under the root (problems: see pipelines.dumps)."""
    return {key: _fingerprint(root / key) for key in find_dumps(root, problems)}


def new_entries(previous: dict, current: dict) -> list[str]:
    """Keys that are new or whose files changed since the previous listing (removals start nothing)."""
    return sorted(k for k, fp in current.items() if previous.get(k) != fp)


def read_cursor(text: str | None) -> tuple[int, dict, list]:
    """(observation number, {key: fingerprint}, gone keys) of a cursor; older cursors held the listing only."""
    data = json.loads(text) if text else {}
    if "dumps" in data and isinstance(data.get("observation"), int):
        return data["observation"], data["dumps"], data.get("gone", [])
    return 0, data, []


@dg.sensor(name="new_dump_folders", target=dg.AssetSelection.assets(RAW), minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Registers new dump folders as partitions and requests raw_documents for new or changed ones.")
def new_dump_folders(context: dg.SensorEvaluationContext, dumps: DumpsResource):
    root = dumps.root_path
    if not root.is_dir():
        context.log.error(f"LLAMA_DUMPS_DIR {root} does not exist: nothing to watch")
        return dg.SensorResult(skip_reason=f"dumps folder {root} does not exist", cursor=context.cursor)
    problems: list[str] = []
    current = dump_listing(root, problems)
    for line in problems:
        context.log.error(line)
    observation, previous, was_gone = read_cursor(context.cursor)
    changed = new_entries(previous, current)
    known = set(context.instance.get_dynamic_partitions(DUMPS))
    gone = gone_keys(sorted(known), list(current))
    if gone != was_gone:
        for k in gone:
            context.log.warning(f"{k}: registered but its dump folder is gone: skipped (`llama-pipeline "
                                "register-dumps --prune` removes the key)")
    added = [k for k in changed if k not in known]
    for k in changed:
        context.log.info(f"{k}: {'new dump' if k in added else 'files changed'}")
    if changed:
        observation += 1
    requests = [dg.RunRequest(run_key=f"{k}:{current[k]}:{observation}", partition_key=k) for k in changed]
    cursor = json.dumps({"observation": observation, "dumps": current, "gone": gone}, sort_keys=True)
    if not requests:
        reason = f"no new or changed dumps under {root}" + (f"; {len(problems)} problem(s) logged" if problems else "")
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor,
                           dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(DUMPS, added)] if added else [])


def _defines(module, name: str) -> bool:
    return any(k.to_user_string() == name for a in module.ASSETS for k in (getattr(a, "keys", None) or [a.key]))


# Without raw_documents there is nothing to start; leave the sensor out rather than break the Definitions.
SENSORS: list = [new_dump_folders] if _defines(ingest, RAW) else []
