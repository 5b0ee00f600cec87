"""Materialize the whole graph in dependency order, every partition, on the persistent instance.

`llama-pipeline demo` (and so `make demo`) calls `run_all()`. Each level of the graph runs as one
in-process run per partition key, all of them tagged as one backfill (assets/backfill.py), so the UI
afterwards shows every asset materialized, every check evaluated, and the demo as one row on the Runs page.
"""
from __future__ import annotations

import time

import dagster as dg

# Time-partitioned assets (weekly preference batches) materialize their *first* 3 keys in the demo, not the
# latest: the weeks (and so the batches' seeds, the RMs and every figure after them) are then the same on
# any date. Later weeks are what the weekly schedule adds; `skipped_partitions()` names them.
DEMO_TIME_PARTITIONS = 3

# Dagster's console logger prints every engine event at DEBUG; the demo shows the assets' own INFO lines.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _partition_keys(pdef: dg.PartitionsDefinition | None, instance: dg.DagsterInstance) -> list[str | None]:
    if pdef is None:
        return [None]
    keys = list(pdef.get_partition_keys(dynamic_partitions_store=instance))
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        keys = keys[:DEMO_TIME_PARTITIONS]
    return keys


def skipped_partitions(defs: dg.Definitions, instance: dg.DagsterInstance,
                       selection: set[str] | None = None) -> dict[str, list[str]]:
    """{asset: [time partition keys the demo leaves to the schedule]} (the weeks after the first 3)."""
    graph = defs.resolve_asset_graph()
    out = {}
    for key in graph.materializable_asset_keys:
        name = key.to_user_string()
        pdef = graph.get(key).partitions_def
        if (selection and name not in selection) or not isinstance(pdef, dg.TimeWindowPartitionsDefinition):
            continue
        later = list(pdef.get_partition_keys(dynamic_partitions_store=instance))[DEMO_TIME_PARTITIONS:]
        if later:
            out[name] = later
    return out


def plan(defs: dg.Definitions, instance: dg.DagsterInstance, selection: set[str] | None = None):
    """[(asset keys, partition key | None)] in an order that respects every dependency.

    A chain of partitioned assets over the same partitions (raw_documents -> deduplicated ->
    language_identified) runs as one run per partition key: fewer runs, same materializations."""
    graph = defs.resolve_asset_graph()
    steps = _level_steps(graph, instance, selection)
    merged: list = []
    for keys, pk in steps:
        prev = next((i for i in range(len(merged) - 1, -1, -1) if merged[i][1] == pk and pk is not None), None)
        if prev is not None and _chain(graph, merged[prev][0], keys, pk, merged[prev + 1:]):
            merged[prev] = (merged[prev][0] + keys, pk)
        else:
            merged.append((keys, pk))
    return merged


def _chain(graph, before: list, keys: list, pk: str, between: list) -> bool:
    """`keys` can join the step holding `before` for partition `pk`: same partitions, and no upstream asset
    of `keys` is materialized for `pk` (or unpartitioned) by a step in between. Partitioned dependencies
    map a key to the same key here, as in this graph."""
    pdef = graph.get(before[0]).partitions_def
    if any(graph.get(k).partitions_def != pdef for k in keys):
        return False
    later = {k for ks, p in between if p is None or p == pk for k in ks}
    return not any(up in later for k in keys for up in graph.get(k).parent_keys)


def _level_steps(graph, instance, selection):
    steps = []
    for level in graph.toposorted_asset_keys_by_level:
        groups: dict[int, list[dg.AssetKey]] = {}
        pdefs = {}
        for key in sorted(level, key=lambda k: k.to_user_string()):
            if not graph.get(key).is_materializable:
                continue
            if selection and key.to_user_string() not in selection:
                continue
            pdef = graph.get(key).partitions_def
            groups.setdefault(id(pdef), []).append(key)
            pdefs[id(pdef)] = pdef
        for gid, keys in groups.items():
            for pk in _partition_keys(pdefs[gid], instance):
                steps.append((keys, pk))
    return steps


def run_all(defs: dg.Definitions | None = None, instance: dg.DagsterInstance | None = None,
            selection: set[str] | None = None, log=print) -> dict:
    """Run every step of plan() as one backfill; stop at the first failure with the asset and partition named."""
    if defs is None:
        from assets.definitions import defs
    instance = instance or dg.DagsterInstance.get()
    from assets.dumps_cli import register_all

    found = register_all(instance)  # every dump folder becomes a partition before planning
    log(f"{len(found.keys)} dumps ({len(found.new)} newly registered)")
    for line in found.problems:
        log(f"warning: {line}")
    for k in found.gone:
        log(f"warning: {k} is registered but its dump folder is gone: skipped (`llama-pipeline register-dumps "
            "--prune` removes the key)")
    steps = [s for s in plan(defs, instance, selection) if s[1] not in found.gone]
    what = "every asset" if not selection else ", ".join(sorted(selection))
    summary = run_steps(defs, instance, steps, title="llama-pipeline demo",
                        description=f"llama-pipeline demo: {what}", log=log)
    summary["skipped_partitions"] = skipped_partitions(defs, instance, selection)
    return summary


def _failure(result) -> str:
    """The failed steps' errors, one line each with the innermost frame: what CI logs and a terminal show
    without opening the run."""
    lines = []
    for ev in result.all_events:
        if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
            err = ev.step_failure_data.error
            while err.cause is not None:  # Dagster wraps the asset's exception: report the asset's own
                err = err.cause
            where = err.stack[-1].strip().splitlines()[0] if err.stack else ""
            lines.append(f"{ev.step_key}: {err.message.strip()}" + (f" ({where})" if where else ""))
    return " | ".join(lines) or "no step failure recorded"


def run_steps(defs: dg.Definitions, instance: dg.DagsterInstance, steps, title: str, description: str,
              log=print) -> dict:
    """Execute [(asset keys, partition key | None)] in order, one run each, all under one backfill."""
    from assets.backfill import close_backfill, open_backfill, run_tags, with_origin

    job = defs.resolve_implicit_global_asset_job_def()
    backfill_id = open_backfill(instance, defs, steps, title, description)
    log(f"backfill {backfill_id}: {len(steps)} runs (Runs page, one row; tag llama/demo={backfill_id})")
    t0 = time.perf_counter()
    checks_failed = []
    for i, (keys, pk) in enumerate(steps, 1):
        names = ", ".join(k.to_user_string() for k in keys)
        label = f"{names}" + (f" [{pk}]" if pk else "")
        log(f"[{i}/{len(steps)}] {label} ...")
        t = time.perf_counter()
        try:
            with with_origin(instance, job.name):
                result = job.execute_in_process(asset_selection=keys, partition_key=pk, instance=instance,
                                                raise_on_error=False, run_config=_QUIET, tags=run_tags(backfill_id))
        except BaseException:
            close_backfill(instance, defs, backfill_id, steps[:i - 1], steps[i - 1:])
            raise
        if not result.success:
            close_backfill(instance, defs, backfill_id, steps[:i - 1], steps[i - 1:])
            raise SystemExit(f"materializing {label} failed (run {result.run_id}): {_failure(result)}; "
                             f"see the run's logs in the UI or above")
        for ev in result.get_asset_check_evaluations():
            if not ev.passed:
                checks_failed.append(f"{ev.asset_key.to_user_string()}:{ev.check_name}" + (f" [{pk}]" if pk else ""))
        log(f"      done in {time.perf_counter() - t:.1f}s")
    close_backfill(instance, defs, backfill_id, steps)
    seconds = time.perf_counter() - t0
    return {"steps": len(steps), "seconds": seconds, "checks_failed": checks_failed, "backfill_id": backfill_id}
