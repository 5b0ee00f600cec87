"""Dumps and their partition keys: `LLAMA_DUMPS_DIR/<source>/<dump>/…` is the partition `<source>/<dump>`.

A dump is one snapshot of a source as its publisher ships it: a CommonCrawl crawl (`CC-MAIN-2019-30`),
a Wikipedia dump date (`20230401`), a GitHub snapshot, a StackExchange archive date. Each is ingested and
curated on its own, so a new snapshot adds a partition and touches no other.

    from pipelines.dumps import find_dumps
    find_dumps(root)   # ["arxiv/2023-01", "books/gutenberg", ..., "commoncrawl/CC-MAIN-2024-22", ...]
"""
from __future__ import annotations

import os
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


def escaped_name(name: str | os.PathLike) -> str:
    """A file name as printable UTF-8: bytes that were not UTF-8 (surrogate escapes) as `\\xNN`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _bad_name(p: Path) -> str:
    name = escaped_name(p.name)
    why = ("longer than 100 characters" if len(p.name) > 100 else
           "holds characters other than letters, digits, '.', '_', '-'")
    return f"{escaped_name(p)}: the dump folder name {name!r} {why}: rename it (it becomes a partition key)"


def dumps_of(root: str | Path, source: str, problems: list[str] | None = None) -> list[str]:
    """The dump names of one source, sorted. A folder with a bad name, or files placed directly in the
    source folder, raise DumpLayoutError; given a `problems` list they are appended to it instead, and
    the good dumps are still returned (register-dumps, the sensor)."""
    d = Path(root) / source
    if not d.is_dir():
        return []
    names, stray, bad = [], [], []
    for p in sorted(d.iterdir()):
        if p.name.startswith("."):
            continue  # a copy still in progress, or editor files (the readers skip them too)
        if p.is_dir() and not p.is_symlink():
            if DUMP_NAME.match(p.name):
                names.append(p.name)
            else:
                bad.append(_bad_name(p))
        else:
            stray.append(escaped_name(p.name))
    if stray:
        bad.append(f"{escaped_name(d)} holds {', '.join(stray[:3])}{' …' if len(stray) > 3 else ''} directly: put "
                   f"each dump in its own folder, e.g. {escaped_name(d)}/<dump name>/{stray[0]} (docs/data.md)")
    if bad and problems is None:
        raise DumpLayoutError(bad[0])
    if problems is not None:
        problems.extend(bad)
    return names


def find_dumps(root: str | Path, problems: list[str] | None = None) -> list[str]:
    """Every partition key `<source>/<dump>` under the dumps root, in source then dump order (problems:
    see dumps_of)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dumps folder {root} does not exist (LLAMA_DUMPS_DIR)")
    return [f"{s}/{d}" for s in SOURCES for d in dumps_of(root, s, problems)]


def gone_keys(registered: list[str], found: list[str]) -> list[str]:
    """Registered dump keys whose folder is no longer there (register-dumps --prune removes them)."""
    have = set(found)
    return sorted(k for k in registered if k not in have)
