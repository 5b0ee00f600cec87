"""Partitions of the data stages: one per dump, keyed `<source>/<dump>` (e.g. `commoncrawl/CC-MAIN-2019-30`).

Keys are registered by `llama-pipeline register-dumps`, by the demo before it runs, and by the dump
sensor when a new dump folder appears under LLAMA_DUMPS_DIR (pipelines/dumps.py finds them).
"""
import dagster as dg

from pipelines.dumps import split_key

DUMPS = "dumps"
dump_partitions = dg.DynamicPartitionsDefinition(name=DUMPS)


def key_parts(context) -> tuple[str, str]:
    """(source, dump) of the run's partition key, validated."""
    return split_key(context.partition_key)


def register(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the keys not yet registered; returns the new ones."""
    have = set(instance.get_dynamic_partitions(DUMPS))
    new = [k for k in keys if k not in have]
    if new:
        instance.add_dynamic_partitions(DUMPS, new)
    return new
