"""`llama-pipeline register-dumps`: register every dump under LLAMA_DUMPS_DIR as a partition key.

    llama-pipeline register-dumps          # prints each key, e.g. commoncrawl/CC-MAIN-2024-22, one per line

Then `llama-pipeline materialize --select raw_documents --partition <key>` (or `dg launch --assets ...`).
"""
from __future__ import annotations

import argparse
import os
import sys


def register_all(instance=None) -> tuple[list[str], list[str]]:
    """(every key found, the keys newly registered) on the instance (default: DAGSTER_HOME's)."""
    import dagster as dg

    from assets.partitions import register
    from resources import build_resources

    instance = instance or dg.DagsterInstance.get()
    keys = build_resources()["dumps"].partition_keys()
    return keys, register(instance, keys)


def _cmd(args: argparse.Namespace) -> int:
    if not os.environ.get("DAGSTER_HOME"):
        print("error: DAGSTER_HOME is not set (make demo sets it up: export DAGSTER_HOME=$PWD/.dagster)",
              file=sys.stderr)
        return 2
    keys, new = register_all()
    for k in keys:
        print(k)
    print(f"{len(keys)} dumps, {len(new)} newly registered", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("register-dumps", help="register every dump under LLAMA_DUMPS_DIR as a partition key")
    p.set_defaults(func=_cmd)
