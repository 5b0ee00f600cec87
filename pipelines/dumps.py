"""Dumps and their partition keys: `LLAMA_DUMPS_DIR/<source>/<dump>/…` is the partition `<source>/<dump>`.

A dump is one snapshot of a source as its publisher ships it: a CommonCrawl crawl (`CC-MAIN-2019-30`),
a Wikipedia dump date (`20230401`), a GitHub snapshot, a StackExchange archive date. Each is ingested and
curated on its own, so a new snapshot adds a partition and touches no other.

    from pipelines.dumps import find_dumps
    find_dumps(root)   # ["arxiv/2023-01", "books/gutenberg", ..., "commoncrawl/CC-MAIN-2024-22", ...]
"""
from __future__ import annotations

import re
from pathlib import Path

from pipelines.document import SOURCES

# A dump name becomes part of a partition key, a path and an id: keep it to plain characters.
DUMP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class DumpLayoutError(ValueError):
    """The dumps folder is not laid out as <source>/<dump>/…"""


def split_key(key: str) -> tuple[str, str]:
    """'commoncrawl/CC-MAIN-2019-30' -> ('commoncrawl', 'CC-MAIN-2019-30'), validated."""
    source, sep, dump = key.partition("/")
    if not sep or source not in SOURCES or not DUMP_NAME.match(dump):
        raise ValueError(f"partition key {key!r} is not '<source>/<dump>' with a source among "
                         f"{', '.join(SOURCES)} and a plain dump name")
    return source, dump


def dumps_of(root: str | Path, source: str) -> list[str]:
    """The dump names of one source, sorted; files placed directly in the source folder are an error."""
    d = Path(root) / source
    if not d.is_dir():
        return []
    names, stray = [], []
    for p in sorted(d.iterdir()):
        if p.name.startswith("."):
            continue  # a copy still in progress, or editor files
        if p.is_dir() and not p.is_symlink():
            if not DUMP_NAME.match(p.name):
                raise DumpLayoutError(f"{p}: a dump folder name may hold only letters, digits, '.', '_', '-'")
            names.append(p.name)
        else:
            stray.append(p.name)
    if stray:
        raise DumpLayoutError(
            f"{d} holds {', '.join(stray[:3])}{' …' if len(stray) > 3 else ''} directly: put each dump in its own "
            f"folder, e.g. {d}/<dump name>/{stray[0]} (docs/data.md)")
    return names


def find_dumps(root: str | Path) -> list[str]:
    """Every partition key `<source>/<dump>` under the dumps root, in source then dump order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dumps folder {root} does not exist (LLAMA_DUMPS_DIR)")
    return [f"{s}/{d}" for s in SOURCES for d in dumps_of(root, s)]
