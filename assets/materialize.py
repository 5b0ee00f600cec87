"""`llama-pipeline materialize --select SEL [--partition KEYS]`: one run per key, checked before any starts.

KEYS is one key, several (`c4/en,books/gutenberg`) or a range in the partitioning's order
(`2026-10-25...2026-11-08`, both ends included): a backfill of those partitions, recorded as one.

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
    """The steps [(asset keys, partition key)] that materialize `names` for the keys of `partition`."""
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
    chosen: list[str] = []
    for part in (p.strip() for p in partition.split(",")):
        ends = part.split("...")
        for end in ends:
            if end not in valid:
                close = difflib.get_close_matches(end, valid, n=3, cutoff=0.5)
                hint = f"did you mean {' or '.join(close)}? " if close else ""
                raise PartitionError(f"--partition {end!r} is not a partition of {asset}; {hint}"
                                     f"valid keys: {_listing(valid)}")
        if len(ends) > 2 or valid.index(ends[0]) > valid.index(ends[-1]):
            raise PartitionError(f"--partition {part!r}: a range is FIRST...LAST in this order: {_listing(valid)}")
        chosen += [k for k in valid[valid.index(ends[0]):valid.index(ends[-1]) + 1] if k not in chosen]
    return [(keys, k) for k in chosen]


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
