"""C4: gzipped JSON lines `c4-*.json.gz` (or `.json`), one document per line with text, url, timestamp.

Origin: `<file>#<line number, from 1>`. A line that is not JSON, or has no text, is a counted skip;
a corrupt gzip stream is a ReaderError naming the file and the last line read.
"""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Iterator

from pipelines.document import Document
from pipelines.readers.base import ReadContext, ReaderError, decode_utf8, list_files

SUFFIXES = (".json.gz", ".json", ".jsonl.gz", ".jsonl")


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    lineno = 0
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue  # a blank line (e.g. the trailing newline) is not a record
                origin = ctx.origin(path, lineno)
                line, err = decode_utf8(raw)
                if line is None:
                    ctx.skip("invalid_utf8", origin, err, len(raw))
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    ctx.skip("malformed_json", origin, f"line {lineno}: {e.msg} at column {e.colno}", len(raw))
                    continue
                text = rec.get("text") if isinstance(rec, dict) else None
                if not isinstance(text, str) or not text.strip():
                    ctx.skip("empty_text", origin, "no 'text' field or empty text", len(raw))
                    continue
                yield ctx.document(origin, text, url=rec.get("url"), timestamp=rec.get("timestamp"))
    except (OSError, EOFError, zlib.error) as e:
        raise ReaderError(path, f"corrupt or truncated gzip after line {lineno}: {e}", offset=f"line {lineno}") from e
