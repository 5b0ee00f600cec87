"""A partition's manifest (`_manifest.json`, the commit point): read, held compactly, written as a stream.

A snapshot's partition has tens of thousands of files, and the run process holds one manifest entry
per file until it commits. So entries are held as their manifest text (`Entries`: a few hundred bytes
each, not dicts of dicts), bulky per-file fields stay in the task's `_done/<key>.json` record only
(`RECORD_ONLY`: the ingest preview; the recipe steps repeated in every file's `info`), and the manifest
is written entry by entry to a temporary file, then renamed (or uploaded once), so no whole JSON string
is built. The bytes are those of `json.dumps(manifest, indent=1, sort_keys=True)`; an unchanged
manifest is not rewritten.

Readers of committed partitions are here too (`read_manifest`, `verify_partition`, `part_files`,
`committed_files`; pipelines.partition re-exports them): every file is checked against its manifest's
sha256 before use, and a reader that needs only the files parses the entries down to `FILES`. Readers
that go through a partition once (asset checks, metadata, lineage) read its manifest as a stream
(`iter_entries`, `verified_entries`, `iter_part_files`: pipelines/jsonstream.py), one entry at a time.
"""
from __future__ import annotations

import contextlib
import json
import os
import posixpath
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from common.io import tmp_name as _tmp
from pipelines.fs import RemotePath, as_path, scratch_dir, upload
from pipelines.integrity import (
    CorruptManifestError,
    TamperedFileError,
    check_dropped_dir,
    check_entry,
    check_manifest,
    read_stat,
    same_bytes,
    same_content,
    stat_of,
)
from pipelines.jsonstream import JsonStream

MANIFEST = "_manifest.json"
DONE = "_done"
RECORD_ONLY = ("preview",)  # per-file fields read from `_done/` records (the first few), not manifests


def write_json(path: Path | RemotePath, obj) -> None:
    """A small JSON file (a done-record), atomically: temporary name + rename, or one PUT."""
    path = as_path(path)
    if isinstance(path, RemotePath):
        path.write_text(json.dumps(obj, indent=1, sort_keys=True))  # one PUT: old or new object, never part
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def manifest_entry(entry: dict) -> dict:
    """What a manifest keeps of a task's entry (its done-record keeps all of it)."""
    out = {k: v for k, v in entry.items() if k not in RECORD_ONLY}
    info = out.get("info")
    if isinstance(info, dict) and "steps" in info:  # the same recipe in every file: the asset shows it once
        out["info"] = {k: v for k, v in info.items() if k != "steps"}
    return out


def _indented(obj, level: int) -> str:
    """`obj` as json.dumps(indent=1) writes it `level` levels deep."""
    return json.dumps(obj, indent=1, sort_keys=True).replace("\n", "\n" + " " * level)


def entry_text(entry: dict) -> str:
    """An entry as its manifest holds it (indented two levels deep): what `Entries` keeps per file."""
    return "  " + _indented(manifest_entry(entry), 2)


def done_record(directory, key: str) -> dict | None:
    """The `_done/<key>.json` record of one task of a partition (all of its entry), None if absent."""
    try:
        return json.loads((as_path(directory) / DONE / f"{key}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


class Entries(Sequence):
    """A manifest's entries in task order, held as their manifest text (slots may be empty until their
    task ran); read back as dicts, one at a time."""

    def __init__(self, entries: Iterable[dict | None] | int = ()):
        self._texts: list[str | None] = []
        if isinstance(entries, int):
            self._texts = [None] * entries
        else:
            for e in entries:
                self.append(e)

    def append(self, entry: dict | None) -> None:
        self._texts.append(None if entry is None else entry_text(entry))

    def __setitem__(self, i: int, entry: dict | str | None) -> None:
        """An entry, or its `entry_text` (what a worker returns: a string crosses processes cheaply)."""
        self._texts[i] = entry if entry is None or isinstance(entry, str) else entry_text(entry)

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        text = self._texts[i]
        return None if text is None else json.loads(text)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Entries({len(self)} files)"

    def missing(self) -> list[int]:
        """Indices of the slots without an entry."""
        return [i for i, t in enumerate(self._texts) if t is None]

    def texts(self) -> Iterator[str]:
        for t in self._texts:
            if t is None:
                raise ValueError("a manifest entry is missing")
            yield t


def manifest_chunks(header: dict, entries: Entries) -> Iterator[str]:
    """The manifest's text in pieces: json.dumps(dict(header, files=entries), indent=1, sort_keys=True)."""
    keys = sorted(set(header) | {"files"})
    yield "{"
    for n, k in enumerate(keys):
        yield ("\n " if n == 0 else ",\n ") + json.dumps(k) + ": "
        if k != "files":
            yield _indented(header[k], 1)
        elif not len(entries):
            yield "[]"
        else:
            yield "["
            for i, t in enumerate(entries.texts()):
                yield ("\n" if i == 0 else ",\n") + t
            yield "\n ]"
    yield "\n}"


@contextlib.contextmanager
def staged_manifest(directory, header: dict, entries: Entries) -> Iterator[bool]:
    """Write the manifest `dict(header, files=entries)` entry by entry to a temporary file; yield whether
    it differs from the committed one; when the block ends without error, put it in place (rename, or one
    upload on object storage) if it differs. An unchanged manifest file is left as it is."""
    path = as_path(directory) / MANIFEST
    remote = isinstance(path, RemotePath)
    if not remote:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(scratch_dir() / f"manifest-{uuid.uuid4().hex[:12]}.json" if remote else path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for chunk in manifest_chunks(header, entries):
                fh.write(chunk)
        changed = not same_content(tmp, path)
        yield changed
        if changed:
            if remote:
                upload(tmp, path)
            else:
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


FILES = ("key", "input", "output", "output_sha256", "dropped", "dropped_sha256")  # what locates a file
SIZES = ("kept", "stats")  # a file's documents and text bytes (stats["bytes_kept"])
NAMES = ("key", "output", "dropped")


class _Only:
    """json object_hook: entries (the objects with an output_sha256) reduced to `fields` as they are
    parsed, so a large manifest read for its file names never holds its stats, notes and info."""

    def __init__(self, fields: tuple[str, ...]):
        self.fields = fields

    def __call__(self, d: dict) -> dict:
        return {k: d[k] for k in self.fields if k in d} if "output_sha256" in d else d


def read_manifest(directory: str | os.PathLike, *, fields: tuple[str, ...] | None = None) -> dict | None:
    """The committed manifest of a partition, None when there is none. A manifest that does not parse, or
    whose files are not plain names inside the partition (no `..`, no absolute path, no folder), raises
    CorruptManifestError naming it and saying how to recover. `fields`: the entries keep only these
    (FILES: what locates and checks each file; NAMES), for readers that need no per-file counts."""
    p = as_path(directory) / MANIFEST
    try:
        text = p.read_text()  # one request on S3 (no separate existence check)
    except FileNotFoundError:
        return None
    try:
        m = json.loads(text, object_hook=_Only(fields) if fields else None)
        del text
        check_manifest(m)
    except (ValueError, KeyError, TypeError) as e:
        raise _corrupt(p, e) from None
    return m


def _corrupt(path, e: Exception) -> CorruptManifestError:
    return CorruptManifestError(
        f"{path} is corrupt ({type(e).__name__}: {e}); rematerialize this partition to rebuild it from its "
        f"{DONE}/ records (or delete the file to recompute the partition)")


READ_BYTES = 1 << 16  # what iter_entries reads at a time


def iter_entries(directory: str | os.PathLike, *, fields: tuple[str, ...] | None = None,
                 header: dict | None = None) -> Iterator[dict]:
    """The entries of a committed manifest one at a time, parsed as the file is read: a partition of
    80,000 files is never held whole, as text or as dicts (what read_manifest does). Each entry is checked
    as read_manifest checks it, then reduced to `fields`; `header` receives the manifest's other members
    as they are read (all of them once the iteration ends: "dropped_dir" before the first entry, the
    writer sorting its keys). FileNotFoundError when nothing is committed; CorruptManifestError naming the
    file, raised where the text stops being a manifest (entries before that point were yielded)."""
    p = as_path(directory) / MANIFEST
    header = {} if header is None else header
    with p.open("rb") as fh:
        try:
            yield from _entries(JsonStream(fh, READ_BYTES), fields, header)
        except (ValueError, KeyError, TypeError) as e:  # UnicodeDecodeError and JSONDecodeError included
            raise _corrupt(p, e) from None


def _entries(s: JsonStream, fields: tuple[str, ...] | None, header: dict) -> Iterator[dict]:
    """The members of the manifest object: `files` yielded entry by entry, the others into `header`."""
    s.take("{")
    seen = False
    if s.peek() == "}":  # {}: no list of files, said below
        s.take("}")
    else:
        while True:
            key = s.value()
            if not isinstance(key, str):
                raise ValueError(f"member name {key!r} is not a string")
            s.take(":")
            if key != "files":
                header[key] = s.value()
            elif seen:
                raise ValueError("two lists of files")
            else:
                seen = True
                if "dropped_dir" in header:
                    check_dropped_dir(header["dropped_dir"])
                yield from _file_list(s, fields)
            if s.take(",}") == "}":
                break
    if s.peek():
        raise ValueError("extra data after the manifest")
    if not seen:
        raise ValueError("no list of files")
    check_dropped_dir(header.get("dropped_dir", ""))


def _file_list(s: JsonStream, fields: tuple[str, ...] | None) -> Iterator[dict]:
    if s.peek() != "[":
        raise ValueError("no list of files")
    s.take("[")
    if s.peek() == "]":
        s.take("]")
        return
    while True:
        e = s.value()
        check_entry(e)
        yield {k: e[k] for k in fields if k in e} if fields else e
        if s.take(",]") == "]":
            return


def part_files(directory: str | os.PathLike, which: str = "output") -> list[Path]:
    """The files of a committed partition, in manifest order, each checked against its manifest's
    sha256 (size+mtime short-cut, pipelines.integrity.same_bytes): a consumer never reads a rewritten or
    truncated file (TamperedFileError names it). `which`: "output" or "dropped"."""
    m, base = _checked(directory, which, FILES)
    return [base / e[which] for e in m["files"]]


def sized_part_files(directory: str | os.PathLike) -> list[tuple[Path, int, int]]:
    """part_files (outputs, checked) with each file's (documents, text bytes) from its manifest entry: what
    a planner needs, without opening each file's Parquet footer (a GET per file on object storage)."""
    m, base = _checked(directory, "output", FILES + SIZES)
    return [(base / e["output"], *entry_sizes(e)) for e in m["files"]]


def _checked(directory, which: str, fields: tuple[str, ...]) -> tuple[dict, Path]:
    """A committed partition's manifest (entries: `fields`) with its `which` files checked; their folder."""
    directory = as_path(directory)
    m = read_manifest(directory, fields=fields)
    if m is None:
        raise FileNotFoundError(f"no {MANIFEST} under {directory}: materialize the upstream asset first")
    return m, _verify(directory, m, which)


def entry_sizes(entry: dict) -> tuple[int, int]:
    """(documents, text bytes) of an entry's output file."""
    return int(entry["kept"]), int(entry["stats"].get("bytes_kept", 0))


def dropped_dir_of(directory, manifest: dict):
    """The dropped folder of a partition: its manifest's `dropped_dir` ("../../dropped/...") resolved
    against the partition folder (by name on object storage, where ".." is not a folder)."""
    directory, rel = as_path(directory), manifest["dropped_dir"]
    if isinstance(directory, RemotePath):
        return RemotePath("s3://" + posixpath.normpath(posixpath.join(directory.key, rel)))
    return directory / rel


def verify_partition(directory, asset: str = "", fields: tuple[str, ...] | None = None) -> dict:
    """The manifest of a committed partition whose every file (kept and dropped) still hashes to its
    sha256; else TamperedFileError naming the file. FileNotFoundError when nothing is committed.
    `fields`: what its entries keep (manifest.FILES for a stage that only reads the files)."""
    directory = as_path(directory)
    m = read_manifest(directory, fields=fields)
    if m is None:
        raise FileNotFoundError(f"no committed partition under {directory}: materialize {asset or 'the upstream asset'} first")
    known = read_stat(directory)
    _verify(directory, m, "output", asset, known)
    _verify(directory, m, "dropped", asset, known)
    return m


def _verify(directory, m: dict, which: str, asset: str = "", known: dict | None = None):  # -> their folder
    known = read_stat(directory) if known is None else known
    base = _folder(directory, m, which)
    known = known if which == "output" else known.get("dropped")
    for e in m["files"]:
        _verified(directory, base, e, which, asset, known)
    return base


def _folder(directory, header: dict, which: str):
    """The folder of a partition's `which` files (streamed manifests hold dropped_dir before the files)."""
    if which == "output":
        return directory
    if "dropped_dir" not in header:
        raise _corrupt(directory / MANIFEST, ValueError("no dropped_dir before its files"))
    return dropped_dir_of(directory, header)


def _verified(directory, base, e: dict, which: str, asset: str, known: dict | None):
    name, sha = e[which], e[f"{which}_sha256"]
    if not same_bytes(base / name, sha, known):
        raise TamperedFileError(
            f"{base / name} does not hold the bytes its manifest {directory / MANIFEST} names "
            f"(sha256 {sha[:12]}...): rematerialize {asset or 'this partition'} to rewrite it")
    return base / name


def verified_entries(directory: str | os.PathLike, fields: tuple[str, ...] | None = FILES,
                     asset: str = "") -> Iterator[tuple[dict, Path, Path]]:
    """verify_partition as a stream: (entry, its output file, its dropped file), both checked against their
    sha256 as they are reached (TamperedFileError names a rewritten one); FileNotFoundError: none committed."""
    directory = as_path(directory)
    if not (directory / MANIFEST).is_file():
        raise FileNotFoundError(f"no committed partition under {directory}: materialize {asset or 'it'} first")
    known, known_dropped = stat_of(directory), stat_of(directory, "dropped")  # read in step with the entries
    header, dropped = {}, None
    fields = fields if fields is None else tuple(dict.fromkeys(FILES + fields))
    for e in iter_entries(directory, fields=fields, header=header):
        dropped = _folder(directory, header, "dropped") if dropped is None else dropped
        yield (e, _verified(directory, directory, e, "output", asset, known),
               _verified(directory, dropped, e, "dropped", asset, known_dropped))


def iter_part_files(directory: str | os.PathLike, which: str = "output") -> Iterator[Path]:
    """part_files as a stream, for a partition of many files: each file checked against its sha256 as
    it is reached (TamperedFileError then names it); none when nothing is committed there."""
    directory = as_path(directory)
    if not (directory / MANIFEST).is_file():
        return
    known = stat_of(directory, which)  # read in step with the entries
    header, base = {}, None
    for e in iter_entries(directory, fields=FILES, header=header):
        base = _folder(directory, header, which) if base is None else base
        yield _verified(directory, base, e, which, "", known)


def committed_files(directory: str | os.PathLike, which: str = "output") -> list[Path]:
    """The committed files of one partition folder, or of every partition below a folder (e.g. every
    dump of `quality_filtered/commoncrawl`, in dump order). [] when nothing is committed there."""
    directory = as_path(directory)
    if (directory / MANIFEST).is_file():
        return part_files(directory, which)
    if not directory.is_dir():
        return []
    out: list[Path] = []
    for sub in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        out += committed_files(sub, which)
    return out
