"""One streaming reader per native dump format; `read_source` picks the one of a source.

    from pipelines.readers import read_source
    stats = Stats()
    for doc in read_source("wikipedia", Path("pipelines/samples/bundled/wikipedia"), stats=stats):
        ...
    assert stats.balanced   # records read == documents yielded + skipped per reason

Every reader yields `Document`s whose `origin` is "<file relative to dump_dir>#<record key>" (so ids are
stable across runs and machines) and reports each record it does not keep through `on_skip` with a
reason. See docs/data.md for the formats and what each reader cleans.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from pipelines.base import Stats
from pipelines.document import SOURCES, Document
from pipelines.readers import arxiv, books, c4, commoncrawl, github, stackexchange, wikipedia
from pipelines.readers.base import ReadContext, ReaderError, Skipped

READERS = {
    "commoncrawl": commoncrawl.read,
    "c4": c4.read,
    "github": github.read,
    "wikipedia": wikipedia.read,
    "books": books.read,
    "arxiv": arxiv.read,
    "stackexchange": stackexchange.read,
}
assert set(READERS) == set(SOURCES)


def read_source(source: str, dump_dir: str | Path, stats: Stats | None = None,
                on_skip: Callable[[Skipped], None] | None = None,
                notes: dict | None = None) -> Iterator[Document]:
    """Stream the documents of one source's dump folder.

    stats: filled as records are read (kept = yielded documents, dropped per reason).
    on_skip: called with every skipped record (e.g. to write it to the dropped/ side output).
    notes: a Counter-like dict filled with non-record observations (ignored files, ...).
    """
    if source not in READERS:
        raise ValueError(f"unknown source {source!r}; sources are {', '.join(SOURCES)}")
    ctx = ReadContext(source, Path(dump_dir), stats if stats is not None else Stats(), on_skip)
    try:
        for doc in READERS[source](ctx):
            ctx.stats.keep(len(doc.text.encode("utf-8", "surrogatepass")))
            yield doc
    finally:
        if notes is not None:
            notes.update(ctx.notes)


__all__ = ["READERS", "ReadContext", "ReaderError", "Skipped", "read_source"]
