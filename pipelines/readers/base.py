"""What every reader shares: the read context (skip accounting) and the error for unreadable input.

A reader is a generator `read(ctx) -> Iterator[Document]` over the native files under `ctx.dump_dir`.
It yields the documents it keeps and calls `ctx.skip(reason, origin, ...)` for every record it does not,
so that `ctx.stats` always satisfies records read == documents yielded + skipped (per reason).
Broken containers (corrupt gzip/bz2, truncated WARC, malformed XML) raise `ReaderError` naming the
file and the last good record: failing loudly beats guessing how many records were lost.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipelines.base import Stats
from pipelines.document import Document, doc_id

STAGE = "raw_documents"


class ReaderError(RuntimeError):
    """A dump file that cannot be read; the message names the file and, where known, the record offset."""

    def __init__(self, path: str | os.PathLike, message: str, offset: int | str | None = None):
        where = f"{path}" + (f" (record at {offset})" if offset is not None else "")
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.offset = offset


@dataclass
class Skipped:
    """One record a reader did not turn into a document (a row of DROPPED_SCHEMA)."""

    id: str
    source: str
    reason: str
    detail: str
    bytes: int
    stage: str = STAGE
    origin: str = ""  # for logs; the dropped table keeps the id (= doc_id(source, origin))

    def row(self) -> dict:
        return {"id": self.id, "source": self.source, "stage": self.stage, "reason": self.reason,
                "detail": self.detail, "bytes": self.bytes}


@dataclass
class ReadContext:
    """Reading one dump: `dump_dir` is `<LLAMA_DUMPS_DIR>/<source>/<dump>`."""

    source: str
    dump_dir: Path
    stats: Stats = field(default_factory=Stats)
    on_skip: Callable[[Skipped], None] | None = None
    # Things worth reporting that are not records: files ignored, bytes replaced while decoding, ...
    notes: Counter = field(default_factory=Counter)
    _rel: dict = field(default_factory=dict, repr=False)

    @property
    def dump(self) -> str:
        return self.dump_dir.name

    def origin(self, path: Path, key: object | None = None) -> str:
        """'<dump>/<file in the dump>#<key>': the stable name of one record (input of doc_id), unique
        across the source's dumps."""
        rel = self._rel.get(path)
        if rel is None:
            rel = f"{self.dump}/{path.relative_to(self.dump_dir).as_posix()}"
            if len(self._rel) > 10_000:  # one entry per file; GitHub trees have many files
                self._rel.clear()
            self._rel[path] = rel
        return rel if key is None else f"{rel}#{key}"

    def document(self, origin: str, text: str, **meta) -> Document:
        return Document(id=doc_id(self.source, origin), source=self.source, text=text, origin=origin,
                        dump=self.dump, **meta)

    def skip(self, reason: str, origin: str, detail: str = "", nbytes: int = 0) -> None:
        self.stats.drop(reason, nbytes)
        if self.on_skip is not None:
            self.on_skip(Skipped(doc_id(self.source, origin), self.source, reason, detail, nbytes, origin=origin))


def list_files(ctx: ReadContext, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file under the dump dir whose name ends with one of `suffixes`, in a stable order.

    Other files are counted in ctx.notes['ignored_files'] (so a misnamed dump is visible, not silent).
    An empty folder is an error: ingesting nothing is almost always a wrong LLAMA_DUMPS_DIR.
    """
    root = ctx.dump_dir
    if not root.is_dir():
        raise ReaderError(root, f"dump folder of source {ctx.source!r} does not exist")
    found, ignored = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(suffixes):
                found.append(Path(dirpath) / name)
            elif not name.startswith("."):
                ignored += 1
    ctx.notes["ignored_files"] += ignored
    if not found:
        raise ReaderError(root, f"no {ctx.source} dump files ({' '.join('*' + s for s in suffixes)}) in this folder")
    return found


def decode_utf8(data: bytes) -> tuple[str | None, str]:
    """Strict UTF-8 (a BOM is dropped). Returns (text, '') or (None, 'invalid byte at offset N')."""
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as e:
        return None, f"invalid UTF-8 byte 0x{data[e.start]:02x} at offset {e.start}"

