"""`llama-pipeline materialize --select SEL [--partition KEY]`: one run, checked before it starts.

`dg launch --assets X --partition K` answers a typo'd key with a long traceback; here a wrong key is one
line naming the close matches and every valid key of the selected assets' partitioning.
"""
from __future__ import annotations

import difflib

import dagster as dg

# A weekly partitioning grows by a key a week: the error line names at most this many keys.
MAX_LISTED_KEYS = 40


class PartitionError(ValueError):
    """The partition key (or its absence) does not fit the selection; one line for the user."""


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return shown + (f", ... ({more} more)" if more > 0 else "")


def check_partition(defs: dg.Definitions, instance: dg.DagsterInstance, names: set[str],
                    partition: str | None) -> list[tuple[list[dg.AssetKey], str | None]]:
    """The one step [(asset keys, partition key)] that materializes `names` for `partition`."""
    graph = defs.resolve_asset_graph()
    keys = sorted((dg.AssetKey.from_user_string(n) for n in names), key=lambda k: k.to_user_string())
    partitioned = {k.to_user_string(): graph.get(k).partitions_def for k in keys if graph.get(k).partitions_def}
    pdefs = {id(p): p for p in partitioned.values()}
    if len(pdefs) > 1:
        raise PartitionError(f"{', '.join(sorted(partitioned))} are partitioned differently; one run takes "
                             f"assets of one partitioning (llama-pipeline demo --select orders several)")
    if not partitioned:
        if partition is not None:
            raise PartitionError(f"--partition {partition!r} given, but {', '.join(names)} "
                                 f"{'is' if len(names) == 1 else 'are'} not partitioned")
        return [(keys, None)]
    pdef = next(iter(pdefs.values()))
    valid = list(pdef.get_partition_keys(dynamic_partitions_store=instance))
    asset = sorted(partitioned)[0]
    if not valid:
        raise PartitionError(f"{asset} has no partition keys yet (run `llama-pipeline register-dumps`)")
    if partition is None:
        raise PartitionError(f"{asset} is partitioned: add --partition KEY; valid keys: {_listing(valid)}")
    if partition not in valid:
        close = difflib.get_close_matches(partition, valid, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise PartitionError(f"--partition {partition!r} is not a partition of {asset}; {hint}"
                             f"valid keys: {_listing(valid)}")
    return [(keys, partition)]


def materialize(names: set[str], partition: str | None, defs: dg.Definitions | None = None,
                instance: dg.DagsterInstance | None = None, log=print) -> dict:
    if defs is None:
        from assets.definitions import defs
    instance = instance or dg.DagsterInstance.get()
    from assets.demo import run_steps

    steps = check_partition(defs, instance, names, partition)
    what = ", ".join(sorted(names)) + (f" [{partition}]" if partition else "")
    return run_steps(defs, instance, steps, title="llama-pipeline materialize",
                     description=f"llama-pipeline materialize: {what}", log=log)
