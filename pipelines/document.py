"""The document record every reader yields and every curation stage passes on.

A document is one row of a Parquet table. `RAW_SCHEMA` fixes the columns of `raw_documents`; later
stages keep them and append their own (see each stage's `ADDED_COLUMNS`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields

import pyarrow as pa

# The seven LLaMA-1 sources (SPEC §1), in the order of Table 1. They are the partition keys of the
# per-source assets and the sub-folder names under LLAMA_DUMPS_DIR and LLAMA_DATA_DIR/<asset>/.
SOURCES: tuple[str, ...] = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")


@dataclass
class Document:
    id: str                      # stable across runs: hash of (source, origin)
    source: str                  # one of SOURCES
    text: str
    dump: str | None = None      # the dump (snapshot folder) under LLAMA_DUMPS_DIR/<source>/ it was read from
    url: str | None = None
    title: str | None = None
    lang: str | None = None      # language tag given by the dump itself (wiki language, WET header), not LID
    license: str | None = None   # GitHub: SPDX id detected from the repository's LICENSE file
    repo: str | None = None      # GitHub repository, StackExchange site
    path: str | None = None      # file path inside a repository or archive
    prog_lang: str | None = None # GitHub: programming language by file extension
    score: int | None = None     # StackExchange: question score
    snapshot: str | None = None  # CommonCrawl snapshot (sub-folder), dump date
    timestamp: str | None = None
    origin: str = ""             # where it was read: "<file relative to the dump dir>#<record offset or key>"
    cited_urls: list[str] | None = None  # Wikipedia: URLs the article cites (pipelines/quality/references.py)
    extra: dict = field(default_factory=dict, repr=False)  # reader-private, not written

    def row(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return d


RAW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("text", pa.string()),
        ("dump", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("lang", pa.string()),
        ("license", pa.string()),
        ("repo", pa.string()),
        ("path", pa.string()),
        ("prog_lang", pa.string()),
        ("score", pa.int64()),
        ("snapshot", pa.string()),
        ("timestamp", pa.string()),
        ("origin", pa.string()),
        ("cited_urls", pa.list_(pa.string())),
    ]
)

# Every document a stage does not keep is written here, so that input = kept + dropped can be checked.
DROPPED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),   # what explains the reason: id of the kept duplicate, the score, ...
        ("bytes", pa.int64()),     # UTF-8 size of the dropped text
    ]
)


def doc_id(source: str, origin: str) -> str:
    """Stable id: the same record of the same dump gets the same id on every run and machine.

    128 bits of SHA-1 over (source, origin), and the origin names the dump, the file and the record:
    at LLaMA's ~10^10 documents a 64-bit id would collide (birthday bound ~4·10^9), 128 bits will not.
    """
    return hashlib.sha1(f"{source}\x00{origin}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


# The columns each curation stage appends (its rows are its upstream's plus these). Declared here, not in
# the stage modules, so a stage's import closure (pipelines/version.py) holds its upstream's schema only.
DEDUP_COLUMNS = [("cluster_id", pa.string()),     # id of the survivor (itself for every kept document)
                 ("duplicates", pa.int64()),      # documents dropped as exact or near copies of it
                 ("lines_removed", pa.int64())]   # lines removed by line dedup
DEDUP_SCHEMA = pa.schema(list(RAW_SCHEMA) + [pa.field(n, t) for n, t in DEDUP_COLUMNS])
LID_COLUMNS = [("lid_lang", pa.string()), ("lid_score", pa.float32())]
LID_SCHEMA = pa.schema(list(DEDUP_SCHEMA) + [pa.field(n, t) for n, t in LID_COLUMNS])
QUALITY_COLUMNS = [("perplexity", pa.float64()), ("bucket", pa.string()), ("wiki_score", pa.float64())]
QUALITY_SCHEMA = pa.schema(list(LID_SCHEMA) + [pa.field(n, t) for n, t in QUALITY_COLUMNS])
