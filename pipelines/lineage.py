"""Lineage of curation partitions: from a partition down to its upstream partitions' manifests and the
dump files it was read from, with the version and data version recorded at each step.

    from pipelines.lineage import partition_lineage, render
    print(render(partition_lineage(root, "quality_filtered", "c4", "en", dumps_root)))

Each step is what its manifest committed: the stage's version (pipelines/version.py, recorded when the
partition was committed), its data version (the digest of its files, what Dagster's `dagster/data_version`
holds), and its files (input -> output sha256). raw_documents ends the chain at the dump files, each with
the sha256 of its bytes as they are now in the dumps folder ("missing" when the file is gone).

`max_files` bounds the files listed per step (the rest are counted in `files_omitted`): an asset's
Dagster metadata carries a bounded chain, since a snapshot has ~80,000 files per partition and the
whole list at every step would make each materialization event megabytes; the CLI shows it all.
"""
from __future__ import annotations

from pathlib import Path

from pipelines import recipes
from pipelines.manifest import FILES
from pipelines.partition import MANIFEST, data_version, iter_entries, partition_dirs
from pipelines.version import file_digest

CHAIN = (recipes.RAW, recipes.DEDUP, recipes.LID, recipes.QUALITY)


def upstream_of(asset: str) -> str | None:
    i = CHAIN.index(asset)
    return CHAIN[i - 1] if i else None


def partition_lineage(root, asset: str, source: str, dump: str, dumps_root: str | Path | None = None,
                      max_files: int | None = None) -> dict:
    """{asset, partition, manifest, version, data_version, files, upstream} down to raw_documents; an
    uncommitted partition is reported with `manifest: None` (and the chain stops there). With
    `max_files`, each step lists its first `max_files` files and counts the others in `files_omitted`."""
    if asset not in CHAIN:
        raise ValueError(f"{asset} has no partition manifests; the curation assets are {', '.join(CHAIN)}")
    out, _ = partition_dirs(root, asset, source, dump)
    # The manifest read as a stream (each entry's names and hashes only): the files listed, the count
    # and the data version taken as it goes, nothing of it held while the upstream steps are read.
    header: dict = {}
    files, total = [], [0]

    def entries():
        for e in iter_entries(out, fields=FILES, header=header):
            total[0] += 1
            if max_files is None or len(files) < max_files:
                f = {"key": e["key"], "input": e["input"], "output_sha256": e["output_sha256"]}
                if asset == recipes.RAW and dumps_root is not None:
                    f["dump_file_sha256"] = _dump_digest(Path(dumps_root) / source / dump / e["input"])
                files.append(f)
            yield e
    try:
        version = data_version({"files": entries()})
    except FileNotFoundError:
        return {"asset": asset, "partition": f"{source}/{dump}", "manifest": None}
    node = {"asset": asset, "partition": f"{source}/{dump}", "manifest": str(out / MANIFEST),
            "version": header.get("version"), "data_version": version, "files": files}
    if len(files) < total[0]:
        node["files_omitted"] = total[0] - len(files)
    up = upstream_of(asset)
    if up:
        node["upstream"] = partition_lineage(root, up, source, dump, dumps_root, max_files)
    return node


def _dump_digest(path: Path) -> str:
    """A dump file's sha256, or of every file of a unit folder (a GitHub repository)."""
    return file_digest(path) if path.exists() else "missing"


def render(node: dict, indent: int = 0) -> str:
    """The chain as indented text, one partition per block, one file per line."""
    pad = "  " * indent
    head = f"{pad}{node['asset']}[{node['partition']}]"
    if node.get("manifest") is None:
        return f"{head}: not materialized"
    lines = [f"{head}  version {node['version'] or '-'}  data_version {node['data_version']}",
             f"{pad}  manifest {node['manifest']}"]
    for f in node["files"]:
        dump = f"  dump file sha256 {f['dump_file_sha256'][:16]}" if "dump_file_sha256" in f else ""
        lines.append(f"{pad}  {f['input']} -> {f['output_sha256'][:16]}{dump}")
    if node.get("files_omitted"):
        lines.append(f"{pad}  ... and {node['files_omitted']:,} more files")
    if "upstream" in node:
        lines.append(render(node["upstream"], indent + 1))
    return "\n".join(lines)
