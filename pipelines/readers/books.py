"""Books: Project Gutenberg plain-text files `*.txt`, one document per book, header and footer removed.

Handles both PG layouts: the old one (`*** START OF THIS PROJECT GUTENBERG EBOOK ...`, `End of the Project
Gutenberg EBook of ...`, `*END*THE SMALL PRINT!`) and the current one (`*** START OF THE PROJECT GUTENBERG
EBOOK ... ***`). A UTF-8 BOM is dropped and CRLF line ends become LF. A file without any PG marker is kept
whole (e.g. a corpus copy already stripped) and counted in notes['no_pg_markers']. A file over
`limits.book_bytes` is a counted skip (`too_large`), and so is anything that is not a regular file in the
dump (a link to a host file or to /dev/zero: `symlink`; a FIFO: `not_regular_file`).
Origin: the file path relative to the dump folder.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from pipelines.document import Document
from pipelines.readers.base import ReadContext, decode_utf8, list_files, read_regular

SUFFIXES = (".txt",)
START = re.compile(r"^\s*(\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG E-?BOOK.*"
                   r"|\*END\*THE SMALL PRINT!.*)$", re.I | re.M)
END = re.compile(r"^\s*(\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG E-?BOOK.*"
                 r"|End of (the )?Project Gutenberg'?s? .*"
                 r"|End of this Project Gutenberg E-?Book.*)$", re.I | re.M)
TITLE = re.compile(r"^Title:\s*(.+)$", re.M)


def strip_gutenberg(text: str) -> tuple[str, str | None, bool]:
    """(body, title from the header, whether PG markers were found)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = START.search(text)
    header = text[: start.start()] if start else ""
    body = text[start.end():] if start else text
    end = END.search(body)
    if end:
        body = body[: end.start()]
    m = TITLE.search(header)
    return body.strip(), (m.group(1).strip() if m else None), bool(start or end)


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    origin = ctx.origin(path)
    data = read_regular(ctx, path, origin, ctx.limits.book_bytes)
    if data is None:
        return
    text, err = decode_utf8(data)
    if text is None:
        ctx.skip("invalid_utf8", origin, err, len(data))
        return
    body, title, marked = strip_gutenberg(text)
    if not marked:
        ctx.notes["no_pg_markers"] += 1
    if not body:
        ctx.skip("empty_text", origin, "nothing between the PG header and footer", len(data))
        return
    m = re.match(r"pg(\d+)", path.stem)
    url = f"https://www.gutenberg.org/ebooks/{m.group(1)}" if m else None
    yield ctx.document(origin, body, title=title or Path(path).stem, url=url)
