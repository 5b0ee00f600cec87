"""What every reader shares: the read context (skip accounting), safe file access, size caps and the error
for unreadable input.

A reader is a generator `read(ctx) -> Iterator[Document]` over the native files under `ctx.dump_dir`.
It yields the documents it keeps and calls `ctx.skip(reason, origin, ...)` for every record it does not,
so that `ctx.stats` always satisfies records read == documents yielded + skipped (per reason).
Broken containers (corrupt gzip/bz2, truncated WARC, malformed XML) raise `ReaderError` naming the
file and the last good record: failing loudly beats guessing how many records were lost.

Dumps are untrusted: a reader opens only regular files inside the dump folder (`open_regular`: links,
FIFOs, devices and sockets are counted skips, never opened) and reads every record through a size cap
(`Limits`), in bounded chunks, so memory stays bounded whatever the compression ratio.
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipelines.base import Stats
from pipelines.document import Document, doc_id
from pipelines.dumps import escaped_name

STAGE = "raw_documents"
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """Size caps of the readers (docs/data.md). A record over its cap is a counted skip (`too_large`) and
    the reader goes on; it is read, if at all, in chunks and never held whole, so a decompression bomb
    costs time, not memory. The defaults sit far above real records: CommonCrawl truncates WARC payloads
    at a few MiB, the longest Wikipedia articles are ~2 MiB of wikitext, a C4 line < 1 MiB."""

    record_bytes: int = 16 * MiB          # one C4 line, WARC/WET body, Posts.xml row, XML token
    # one Wikipedia <text>, in characters: mwparserfromhell needs ~16x the text in memory and ~1.3 s per
    # MiB (measured on enwiki wikitext); the longest real articles are ~1.5 MB
    wikitext_chars: int = 4 * MiB
    book_bytes: int = 64 * MiB            # one book file (the largest Gutenberg texts are ~30 MB)
    github_file_bytes: int = 1_000_000    # one source file: above 1 MB it is data or generated code
    archive_member_bytes: int = 20_000_000  # one .tex member of an arXiv archive
    archive_bytes: int = 64 * MiB         # all .tex members of one arXiv archive together
    archive_members: int = 10_000         # entries of one arXiv archive (any type)


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
    limits: Limits = field(default_factory=Limits)
    # GitHub: the licence families whose repositories are read (the recipe's raw licence step, which
    # ingest applies); None reads every repository and only labels its licence.
    keep_licences: tuple[str, ...] | None = None
    # Things worth reporting that are not records: files ignored, bytes replaced while decoding, ...
    notes: Counter = field(default_factory=Counter)
    _rel: dict = field(default_factory=dict, repr=False)
    _root: Path | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        """The dump folder, resolved; ReaderError when it is missing or a link out of the dumps folder."""
        if self._root is None:
            self._root = dump_root(self.source, self.dump_dir)
        return self._root

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


def dump_root(source: str, dump_dir: Path) -> Path:
    """`dump_dir` resolved, refused when it does not exist or leads out of `<dumps>/` (its grandparent):
    a dump folder linked to /etc must not be read."""
    dumps = dump_dir.parent.parent.resolve()
    real = dump_dir.resolve()
    if not real.is_dir():
        raise ReaderError(dump_dir, f"dump folder of source {source!r} does not exist")
    if not real.is_relative_to(dumps):
        raise ReaderError(dump_dir, f"dump folder is a link out of the dumps folder {dumps} (to {real}): refused")
    return real


def is_hidden(rel: str | os.PathLike) -> bool:
    """A name, or a path inside a dump, with a component starting with '.': editor and tool files, a copy
    in progress (`.in-progress/`, rsync's `.name.XXXX`). Never read; the dump sensor ignores them too."""
    return any(part.startswith(".") for part in Path(rel).parts)


def decodable(name: str | os.PathLike) -> bool:
    """Whether a file name is valid UTF-8 (an id, a Parquet string and a JSON manifest can hold it)."""
    try:
        str(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def list_files(ctx: ReadContext, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file under the dump dir whose name ends with one of `suffixes`, in a stable order.

    Links to folders are not followed. Entries that are not regular files (links, FIFOs, devices,
    sockets) are listed too: reading them (`open_regular`) counts a skip, so they show in the partition's
    skip counts instead of vanishing. So are hidden files and folders (one entry per hidden folder, not
    entered) and names that are not UTF-8: `read_unit` counts them as `hidden_file` / `undecodable_name`.
    Other names are counted in ctx.notes['ignored_files'].
    An empty folder is an error: ingesting nothing is almost always a wrong LLAMA_DUMPS_DIR.
    """
    root = ctx.root
    found, ignored = [], 0
    for dirpath, dirnames, filenames in os.walk(root):  # followlinks=False: a linked folder is not entered
        rel = Path(dirpath).relative_to(root)
        odd = sorted(d for d in dirnames if d.startswith(".") or not decodable(d))
        found += [ctx.dump_dir / rel / d for d in odd]     # listed (and skipped when read), never entered
        dirnames[:] = sorted(d for d in dirnames if d not in odd)
        for name in sorted(filenames):
            if name.endswith(suffixes) or name.startswith(".") or not decodable(name):
                found.append(ctx.dump_dir / rel / name)
            else:
                ignored += 1
    ctx.notes["ignored_files"] += ignored
    if not found:
        raise ReaderError(ctx.dump_dir, f"no {ctx.source} dump files ({' '.join('*' + s for s in suffixes)}) "
                                        "in this folder")
    return found


def skip_unreadable_name(ctx: ReadContext, unit: Path) -> bool:
    """Count a unit whose name is hidden (`hidden_file`) or not UTF-8 (`undecodable_name`, the name
    escaped in the origin and detail); True when it was skipped so."""
    rel = unit.relative_to(ctx.dump_dir)
    if not decodable(rel):
        shown = escaped_name(rel)
        ctx.skip("undecodable_name", f"{ctx.dump}/{Path(shown).as_posix()}", f"file name is not UTF-8: {shown}")
        return True
    if is_hidden(rel):
        ctx.skip("hidden_file", ctx.origin(unit), "hidden folder" if unit.is_dir() and not unit.is_symlink()
                 else "hidden file")
        return True
    return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "special file"


def check_regular(ctx: ReadContext, path: Path, origin: str) -> os.stat_result | None:
    """lstat of `path` when it is a regular file inside the dump; otherwise count the skip
    (`symlink`, `not_regular_file`, `outside_dump`) and return None. Never opens anything."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ReaderError(path, f"cannot stat: {e.strerror or e}") from e
    if stat.S_ISLNK(st.st_mode):
        ctx.skip("symlink", origin, f"link to {os.readlink(path)}")
        return None
    if not stat.S_ISREG(st.st_mode):
        ctx.skip("not_regular_file", origin, _kind(st.st_mode))
        return None
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(ctx.root):  # a folder on the way is a link (swapped in after listing)
        ctx.skip("outside_dump", origin, f"resolves to {real}")
        return None
    return st


def open_regular(ctx: ReadContext, path: Path, origin: str, empty_is_skip: bool = False):
    """A binary file object of `path` when it is a regular, non-empty file inside the dump; else None
    after counting why (see check_regular). A 0-byte dump file holds no record: it is counted in
    ctx.notes['empty_files'] (ingest lists it in files_without_records); with `empty_is_skip` (a GitHub
    source file, which is itself the record) it is the skip `empty_file`.

    Opened with O_NOFOLLOW and O_NONBLOCK and checked again with fstat, so a link or FIFO swapped in
    after the check is neither followed nor waited on."""
    st = check_regular(ctx, path, origin)
    if st is None:
        return None
    if st.st_size == 0:
        if empty_is_skip:
            ctx.skip("empty_file", origin, "0 bytes")
        else:
            ctx.notes["empty_files"] += 1
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ReaderError(path, f"cannot open: {e.strerror or e}") from e
    st2 = os.fstat(fd)
    if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        ctx.skip("not_regular_file", origin, "replaced while opening")
        return None
    return os.fdopen(fd, "rb")


def read_capped(fh, cap: int, chunk: int = MiB) -> tuple[bytes | None, int]:
    """(all of `fh`, its size), or (None, size) when it holds more than `cap` bytes: the rest is read
    and dropped in chunks, never held."""
    data = fh.read(cap + 1)
    if len(data) <= cap:
        return data, len(data)
    n = len(data)
    del data
    while part := fh.read(chunk):
        n += len(part)
    return None, n


def read_regular(ctx: ReadContext, path: Path, origin: str, cap: int, empty_is_skip: bool = False) -> bytes | None:
    """All of the dump file `path` when it is a regular file (open_regular) of at most `cap` bytes; else
    None after counting why. Over the cap is the skip `too_large`, seen on the size before reading or,
    for a file that grew since, while reading: never more than cap + 1 bytes are held."""
    fh = open_regular(ctx, path, origin, empty_is_skip)
    if fh is None:
        return None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        data, size = (None, size) if size > cap else read_capped(fh, cap)
    if data is None:
        ctx.skip("too_large", origin, f"{size} bytes > {cap}", size)
    return data


def lines_capped(fh, cap: int, chunk: int = MiB):
    """(line number from 1, line bytes or None when longer than `cap`, its size) of a binary stream;
    an over-long line is read through in chunks (a gzip of zeros has no newline for gigabytes)."""
    lineno = 0
    while line := fh.readline(cap + 1):
        lineno += 1
        if len(line) <= cap or line.endswith(b"\n"):
            yield lineno, line, len(line)
            continue
        n = len(line)
        del line
        while part := fh.readline(chunk):
            n += len(part)
            if part.endswith(b"\n"):
                break
        yield lineno, None, n


def decode_utf8(data: bytes) -> tuple[str | None, str]:
    """Strict UTF-8 (a BOM is dropped). Returns (text, '') or (None, 'invalid byte at offset N')."""
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as e:
        return None, f"invalid UTF-8 byte 0x{data[e.start]:02x} at offset {e.start}"

