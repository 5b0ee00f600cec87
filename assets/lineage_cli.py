"""`llama-pipeline lineage ASSET[/PARTITION]`: what an artifact was made from, with every version.

    llama-pipeline lineage quality_filtered/c4/en    # its manifest, then deduplicated, ... down to dump files
    llama-pipeline lineage token_shards              # every upstream asset's code version, then every
                                                     # curation partition it read, down to dump files

For a curation partition the chain comes from the manifests (pipelines/lineage.py): each step's stage
version, data version (`dagster/data_version` in the UI) and files; raw_documents ends at the dump files
with their sha256. For any other asset the Dagster asset graph gives its upstream assets, each with its
derived code version (pipelines/version.py), down to the curation partitions committed in the data folder.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("lineage", help="the versions chain of an asset or partition, down to the dump files")
    p.add_argument("target", metavar="ASSET[/PARTITION]",
                   help="e.g. quality_filtered/c4/en, language_identified, token_shards, rlhf_v5")
    p.add_argument("--data-dir", default=None, help="the data folder (default $LLAMA_DATA_DIR, else ./data)")
    p.add_argument("--dumps-dir", default=None, help="the dumps folder (default $LLAMA_DUMPS_DIR, else the bundled samples)")
    p.add_argument("--json", action="store_true", help="print the chain as JSON")
    p.set_defaults(func=_cmd_lineage)


def _partitions(root: Path, asset: str) -> list[tuple[str, str]]:
    d = root / asset
    return [(s.name, x.name) for s in sorted(d.iterdir()) if s.is_dir() and not s.name.startswith((".", "_"))
            for x in sorted(s.iterdir()) if x.is_dir() and not x.name.startswith((".", "_"))] if d.is_dir() else []


def lineage(target: str, root: Path, dumps_root: Path) -> dict:
    """{asset, code_version, partitions: [partition lineage], upstream: [...]} for `target`."""
    from pipelines.lineage import CHAIN, partition_lineage

    asset, _, partition = target.partition("/")
    if partition:
        source, _, dump = partition.partition("/")
        if not dump:
            raise ValueError(f"partition {partition!r}: expected SOURCE/DUMP, e.g. c4/en")
        return partition_lineage(root, asset, source, dump, dumps_root)
    import dagster as dg

    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(asset)
    if key not in graph.get_all_asset_keys():
        names = sorted(k.to_user_string() for k in graph.materializable_asset_keys)
        raise ValueError(f"no asset {asset!r}; assets are {', '.join(names)}")
    seen: dict[str, dict] = {}

    def node(k) -> dict:
        name = k.to_user_string()
        if name in seen:
            return {"asset": name, "see": "above"}
        a = graph.get(k)
        out: dict = {"asset": name, "code_version": a.code_version}
        seen[name] = out
        if name in CHAIN:  # the partitions' own chains reach the dump files
            out["partitions"] = [partition_lineage(root, name, s, d, dumps_root) for s, d in _partitions(root, name)]
            return out
        out["upstream"] = [node(p) for p in sorted(a.parent_keys, key=lambda x: x.to_user_string())]
        return out

    return node(key)


def render(tree: dict, indent: int = 0) -> str:
    from pipelines.lineage import render as render_partition

    pad = "  " * indent
    if "partition" in tree:
        return render_partition(tree, indent)
    if "see" in tree:
        return f"{pad}{tree['asset']} (see above)"
    lines = [f"{pad}{tree['asset']}  code_version {tree['code_version'] or '-'}"]
    for p in tree.get("partitions", []):
        lines.append(render_partition(p, indent + 1))
    if "partitions" in tree and not tree["partitions"]:
        lines.append(f"{pad}  (no partition materialized)")
    for u in tree.get("upstream", []):
        lines.append(render(u, indent + 1))
    return "\n".join(lines)


def _cmd_lineage(args: argparse.Namespace) -> int:
    from pipelines.samples import bundled_dumps_dir

    root = Path(args.data_dir or os.environ.get("LLAMA_DATA_DIR") or "data").expanduser().resolve()
    dumps = args.dumps_dir or os.environ.get("LLAMA_DUMPS_DIR")
    tree = lineage(args.target, root, Path(dumps).expanduser().resolve() if dumps else bundled_dumps_dir())
    print(json.dumps(tree, indent=1) if args.json else render(tree))
    return 0
