"""What makes committed files trustworthy: a manifest is checked before use, a file before reuse.

- `check_manifest`: a manifest's files are plain `part-*` names inside its partition (no `..`, no
  absolute path, no folder); a manifest that is not one raises CorruptManifestError (pipelines.partition
  names its path and how to recover).
- `same_bytes`: a file is the one its manifest names only if its bytes hash to the manifest's sha256.
  Size and mtime recorded when it was hashed last (`_stat.json` beside the manifest, local only, not part
  of the data) short-cut the hash; on any mismatch the hash decides. On object storage a part is written
  once, by one PUT, under a name carrying its hash: existence is checked there.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path

from common.io import tmp_name
from pipelines.fs import RemotePath, as_path, file_sha256
from pipelines.jsonstream import JsonStream

STAT = "_stat.json"
CACHED_STAT_BYTES = 1 << 20  # larger records (partitions of thousands of files) are parsed, not kept


class CorruptManifestError(ValueError):
    """A `_manifest.json` that is not a manifest (truncated, edited, or naming files outside its partition)."""


def check_manifest(m: dict) -> None:
    """ValueError unless `m` has a list of files whose names are plain part files of this partition
    and a dropped_dir that goes up to the root and down the dropped tree only."""
    if not isinstance(m, dict) or not isinstance(m.get("files"), list):
        raise ValueError("no list of files")
    check_dropped_dir(m.get("dropped_dir", ""))
    for e in m["files"]:
        check_entry(e)


def check_dropped_dir(rel) -> None:
    """ValueError unless `rel` is "../../../dropped/<asset>/<source>/<dump>": up to the root, then down
    the dropped tree only."""
    parts = rel.split("/")
    if os.path.isabs(rel) or ".." in parts[parts.count(".."):] or "dropped" not in parts:
        raise ValueError(f"dropped_dir {rel!r} leaves the dropped tree")


def check_entry(e: dict) -> None:
    """ValueError (or KeyError, TypeError) unless the entry's files are plain part files of its partition."""
    for k in ("output", "dropped"):
        name = e[k]
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name \
                or not name.startswith("part-"):
            raise ValueError(f"entry {e.get('key')!r}: {k} {name!r} is not a file of this partition")


class TamperedFileError(RuntimeError):
    """A committed file whose bytes no longer hash to its manifest's sha256."""


def same_bytes(path, sha: str, known: dict | None = None) -> bool:
    """Whether `path` holds the bytes of `sha`. Size and mtime recorded when it was verified last
    (`known`: the partition's STAT record) short-cut the hash; on any mismatch the hash decides.
    On object storage a file is written once under its hash's name by one PUT: existence suffices."""
    path = as_path(path)
    if isinstance(path, RemotePath):
        return path.is_file()
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if known is not None and known.get(path.name) == [st.st_size, st.st_mtime_ns, sha]:
        return True
    return file_sha256(path) == sha


def read_stat(directory) -> dict:
    """{file name: [size, mtime_ns, sha256]} of the partition's files as last verified (local only)."""
    directory = as_path(directory)
    if isinstance(directory, RemotePath):
        return {}
    try:
        st = os.stat(directory / STAT)
        if st.st_size > CACHED_STAT_BYTES:
            return json.loads((directory / STAT).read_text())
        return _parsed_stat(str(directory / STAT), st.st_size, st.st_mtime_ns)
    except (FileNotFoundError, ValueError):
        return {}  # a lost or damaged record only costs hashing


@functools.lru_cache(maxsize=64)
def _parsed_stat(path: str, size: int, mtime_ns: int) -> dict:
    # Read-only for callers; parsed again whenever the file changes (size or mtime). Small records
    # only: a parsed record holds every file of its partition (~400 bytes each), for the process's life.
    return json.loads(Path(path).read_text())


def stat_of(directory, which: str = "output"):
    """What `same_bytes` takes as `known` for the partition's outputs or dropped files: the parsed STAT
    record when it is small, else a StatStream (a partition of 80,000 files: a 20 MB record)."""
    directory = as_path(directory)
    if isinstance(directory, RemotePath):
        return {}
    try:
        size = os.stat(directory / STAT).st_size
    except FileNotFoundError:
        return {}
    if size <= CACHED_STAT_BYTES:
        known = read_stat(directory)
        return known if which == "output" else known.get("dropped")
    return StatStream(directory / STAT, which)


class StatStream:
    """A STAT record read in step with its partition's manifest (record_stat writes the files in manifest
    order): `get(name)` gives what the parsed record holds for the names asked in that order. It reads at
    most AHEAD names past the last one found; a name not met by then gives None (the file is hashed),
    and the names read on the way wait for their turn (an entry without a record costs no others)."""

    AHEAD = 64

    def __init__(self, path, which: str = "output"):
        self._members = _stat_members(path, which)
        self._ahead: dict = {}

    def get(self, name: str):
        if name in self._ahead:
            return self._ahead.pop(name)
        for _ in range(self.AHEAD):
            try:
                key, value = next(self._members)
            except (StopIteration, ValueError):  # the end, or a damaged record: hashing decides
                return None
            if key == name:
                return value
            self._ahead[key] = value
            if len(self._ahead) > 4 * self.AHEAD:
                del self._ahead[next(iter(self._ahead))]
        return None


def _stat_members(path, which: str):
    """(file name, [size, mtime_ns, sha256]) of the record's outputs, or of its "dropped" object."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        s = JsonStream(fh)
        s.take("{")
        while s.peek() not in ("}", ""):
            key = s.value()
            s.take(":")
            if key == "dropped":
                if which == "dropped":
                    s.take("{")
                    while s.peek() not in ("}", ""):
                        inner = s.value()
                        s.take(":")
                        yield inner, s.value()
                        s.take(",}")
                return
            value = s.value()
            if which == "output":
                yield key, value
            s.take(",}")


def record_stat(out_dir, dropped_dir, entries: Iterable[dict]) -> None:
    """Record size and mtime of the committed files for the short-cut (outputs, and dropped files under
    "dropped"), in the output folder. Written file by file (a partition of many files builds no record in
    memory; `entries` is iterated twice), replaced only when its bytes changed."""
    out_dir, dropped_dir = as_path(out_dir), as_path(dropped_dir)
    if isinstance(out_dir, RemotePath):
        return
    path = out_dir / STAT
    tmp = tmp_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("{")
            sep = ""
            for which, directory in (("output", out_dir), ("dropped", dropped_dir)):
                if which == "dropped":
                    fh.write(sep + '"dropped":{')
                    sep = ""
                for e in entries:
                    name = e[which]
                    with contextlib.suppress(FileNotFoundError):
                        st = (directory / name).stat()
                        fh.write(sep + json.dumps(name) + ":" +
                                 json.dumps([st.st_size, st.st_mtime_ns, e[f"{which}_sha256"]], separators=(",", ":")))
                        sep = ","
            fh.write("}}")
        if not same_content(tmp, path):
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def same_content(local: Path, other) -> bool:
    """Whether `other` (a local path or a RemotePath) exists and holds the bytes of the local file."""
    try:
        fh = as_path(other).open("rb")
    except OSError:  # FileNotFoundError included
        return False
    with fh, open(local, "rb") as mine:
        while True:
            a, b = mine.read(1 << 20), fh.read(1 << 20)
            if a != b:
                return False
            if not a:
                return True
