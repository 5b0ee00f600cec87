"""`llama-pipeline register-dumps`: register every dump under LLAMA_DUMPS_DIR as a partition key.

    llama-pipeline register-dumps          # prints each key, e.g. commoncrawl/CC-MAIN-2024-22, one per line
    llama-pipeline register-dumps --prune  # also removes the keys whose dump folder is gone

Then `llama-pipeline materialize --select raw_documents --partition <key>` (or `dg launch --assets ...`).
A dump folder with a bad name is reported (exit status 1) and every other dump is still registered.
Keys whose folder is gone are reported; `--prune` removes them (their materializations stay in the
instance's history); the demo and the sensor skip them with a warning.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field


@dataclass
class Registration:
    keys: list[str]                                      # every dump found
    new: list[str]                                       # ... of which newly registered
    gone: list[str] = field(default_factory=list)        # registered keys whose folder is gone
    pruned: list[str] = field(default_factory=list)      # ... of which removed (prune=True)
    problems: list[str] = field(default_factory=list)    # bad folder names, stray files (one line each)


def register_all(instance=None, prune: bool = False) -> Registration:
    """Register every dump found on the instance (default: DAGSTER_HOME's); report the keys whose folder
    is gone and, with prune, remove them."""
    import dagster as dg

    from assets.partitions import DUMPS, register
    from pipelines.dumps import gone_keys
    from resources import build_resources

    instance = instance or dg.DagsterInstance.get()
    problems: list[str] = []
    keys = build_resources()["dumps"].partition_keys(problems)
    new = register(instance, keys)
    gone = gone_keys(instance.get_dynamic_partitions(DUMPS), keys)
    pruned = []
    if prune:
        for k in gone:
            instance.delete_dynamic_partition(DUMPS, k)
            pruned.append(k)
    return Registration(keys, new, gone, pruned, problems)


def _cmd(args: argparse.Namespace) -> int:
    if not os.environ.get("DAGSTER_HOME"):
        print("error: DAGSTER_HOME is not set (make demo sets it up: export DAGSTER_HOME=$PWD/.dagster)",
              file=sys.stderr)
        return 2
    r = register_all(prune=args.prune)
    for k in r.keys:
        print(k)
    for k in r.gone:
        print(f"{'removed' if k in r.pruned else 'warning'}: {k} is registered but its dump folder is gone"
              + ("" if k in r.pruned else " (--prune removes the key)"), file=sys.stderr)
    for p in r.problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"{len(r.keys)} dumps, {len(r.new)} newly registered"
          + (f", {len(r.gone)} gone ({len(r.pruned)} removed)" if r.gone else "")
          + (f", {len(r.problems)} problem(s) above" if r.problems else ""), file=sys.stderr)
    return 1 if r.problems else 0


def register(sub) -> None:
    p = sub.add_parser("register-dumps", help="register every dump under LLAMA_DUMPS_DIR as a partition key")
    p.add_argument("--prune", action="store_true", help="remove the keys whose dump folder is gone")
    p.set_defaults(func=_cmd)
