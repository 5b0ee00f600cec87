"""One streaming reader per native dump format; `read_source` picks the one of a source.

    from pipelines.readers import read_source
    stats = Stats()
    for doc in read_source("wikipedia", Path("pipelines/samples/bundled/wikipedia/20220701"), stats=stats):
        ...
    assert stats.balanced   # records read == documents yielded + skipped per reason

A reader module has `units(ctx)` (the files, or repository folders, of one dump, in a stable order)
and `read_unit(ctx, unit)` (the documents of one of them): ingestion runs one task per unit.
Every reader yields `Document`s whose `origin` is "<dump>/<file in the dump>#<record key>" (so ids are
stable across runs and machines and unique across dumps) and reports each record it does not keep
through `on_skip` with a reason. See docs/data.md for the formats and what each reader cleans.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from pipelines.base import Stats
from pipelines.document import SOURCES, Document
from pipelines.readers import arxiv, books, c4, commoncrawl, github, stackexchange, wikipedia
from pipelines.readers.base import Limits, ReadContext, ReaderError, Skipped, skip_unreadable_name

READERS = {
    "commoncrawl": commoncrawl,
    "c4": c4,
    "github": github,
    "wikipedia": wikipedia,
    "books": books,
    "arxiv": arxiv,
    "stackexchange": stackexchange,
}
assert set(READERS) == set(SOURCES)


def _reader(source: str):
    if source not in READERS:
        raise ValueError(f"unknown source {source!r}; sources are {', '.join(SOURCES)}")
    return READERS[source]


def list_units(source: str, dump_dir: str | Path) -> list[Path]:
    """The units (files, or repository folders for GitHub) of one dump, in a stable order."""
    return _reader(source).units(ReadContext(source, Path(dump_dir)))


def read_unit(source: str, dump_dir: str | Path, unit: str | Path, stats: Stats | None = None,
              on_skip: Callable[[Skipped], None] | None = None, notes: dict | None = None,
              limits: Limits | None = None, keep_licences: tuple[str, ...] | None = None) -> Iterator[Document]:
    """Stream the documents of one unit of a dump (see read_source for the arguments; keep_licences:
    base.ReadContext's, which ingest sets from the recipe)."""
    ctx = ReadContext(source, Path(dump_dir), stats if stats is not None else Stats(), on_skip,
                      limits if limits is not None else Limits(), keep_licences=keep_licences)
    try:
        if skip_unreadable_name(ctx, Path(unit)):
            return
        for doc in _reader(source).read_unit(ctx, Path(unit)):
            ctx.stats.keep(len(doc.text.encode("utf-8", "surrogatepass")))
            yield doc
    finally:
        if notes is not None:
            notes.update(ctx.notes)


def read_source(source: str, dump_dir: str | Path, stats: Stats | None = None,
                on_skip: Callable[[Skipped], None] | None = None,
                notes: dict | None = None, limits: Limits | None = None) -> Iterator[Document]:
    """Stream the documents of one dump folder (`<LLAMA_DUMPS_DIR>/<source>/<dump>`), unit by unit.

    stats: filled as records are read (kept = yielded documents, dropped per reason).
    on_skip: called with every skipped record (e.g. to write it to the dropped/ side output).
    notes: a Counter-like dict filled with non-record observations (ignored files, ...).
    limits: the size caps (base.Limits; defaults when None).
    """
    stats = stats if stats is not None else Stats()
    for unit in list_units(source, dump_dir):
        yield from read_unit(source, dump_dir, unit, stats, on_skip, notes, limits)


def read_dumps(source: str, source_dir: str | Path, stats: Stats | None = None,
               on_skip: Callable[[Skipped], None] | None = None, notes: dict | None = None,
               limits: Limits | None = None) -> Iterator[Document]:
    """Every dump of one source folder (`<LLAMA_DUMPS_DIR>/<source>`), dump after dump."""
    from pipelines.dumps import dumps_of

    stats = stats if stats is not None else Stats()
    for dump in dumps_of(Path(source_dir).parent, source):
        yield from read_source(source, Path(source_dir) / dump, stats, on_skip, notes, limits=limits)


__all__ = ["READERS", "Limits", "ReadContext", "ReaderError", "Skipped", "list_units", "read_dumps", "read_source",
           "read_unit"]
