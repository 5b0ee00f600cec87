"""StackExchange: per-site data dumps `<dump>/stackexchange/<site>/Posts.xml`, one document per question.

A document is the question (title and body) followed by its answers sorted by score, highest first
(ties: older answer first), HTML turned into text with selectolax. Answers come after their question in
the dump, so the reader makes one streaming pass (iterparse) that stores posts in a temporary SQLite file
next to nothing else in memory, then emits questions in Id order with their answers from an indexed
query: memory stays flat whatever the site size (the temporary file is about the size of Posts.xml).

Accounting: a record is a question, an answer whose question is missing ("orphan_answer"), or another
post type (tag wikis, ...: "post_type"); answers attached to a question are part of its document.
Origin: `<site>/Posts.xml#<question Id>`.
"""
from __future__ import annotations

import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from selectolax.lexbor import LexborHTMLParser

from pipelines.document import Document
from pipelines.readers.base import ReadContext, ReaderError, list_files

SUFFIXES = ("Posts.xml",)
BLOCKS = "p, br, li, pre, h1, h2, h3, h4, h5, h6, blockquote, div, tr, hr, ul, ol, table"


def html_to_text(html: str) -> str:
    """Text of a post body: block elements end a line, inline ones (code, links, emphasis) do not."""
    if not html:
        return ""
    tree = LexborHTMLParser(html)
    if tree.body is None:
        return ""
    for node in tree.css(BLOCKS):
        node.insert_after("\n")
    lines = (ln.rstrip() for ln in tree.body.text(separator="").split("\n"))
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def _load(path: Path, db: sqlite3.Connection) -> None:
    """Stream every <row> of Posts.xml into the table posts."""
    db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, type INTEGER, parent INTEGER, score INTEGER, "
               "title TEXT, body TEXT, created TEXT)")
    last_id, batch = None, []
    try:
        context = ET.iterparse(path, events=("start", "end"))
        _, root = next(context)
        for event, elem in context:
            if event != "end" or elem.tag != "row":
                continue
            a = elem.attrib
            last_id = a.get("Id")
            batch.append((_int(a.get("Id")), _int(a.get("PostTypeId")), _int(a.get("ParentId")),
                          _int(a.get("Score")) or 0, a.get("Title"), a.get("Body", ""), a.get("CreationDate")))
            root.clear()
            if len(batch) >= 5_000:
                db.executemany("INSERT OR REPLACE INTO posts VALUES (?,?,?,?,?,?,?)", batch)
                batch = []
        db.executemany("INSERT OR REPLACE INTO posts VALUES (?,?,?,?,?,?,?)", batch)
    except ET.ParseError as e:
        line, col = e.position
        raise ReaderError(path, f"malformed XML at line {line}, column {col} (after post Id {last_id}): {e}",
                          offset=f"line {line}") from e
    db.execute("CREATE INDEX by_parent ON posts (parent, score DESC, id)")
    db.commit()


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    site = path.parent.name if path.parent != ctx.dump_dir else path.stem
    with tempfile.TemporaryDirectory(prefix="se-posts-") as tmp:
        db = sqlite3.connect(Path(tmp) / "posts.sqlite")
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            _load(path, db)
            yield from _emit(ctx, path, site, db)
        finally:
            db.close()


def _emit(ctx: ReadContext, path: Path, site: str, db: sqlite3.Connection) -> Iterator[Document]:
    answers = db.cursor()
    rows = db.execute("SELECT p.id, p.type, p.parent, p.score, p.title, p.body, p.created, "
                      "q.id IS NOT NULL FROM posts p LEFT JOIN posts q ON q.id = p.parent AND q.type = 1 "
                      "ORDER BY p.id")
    for pid, ptype, parent, score, title, body, created, has_parent in rows:
        origin = ctx.origin(path, pid)
        if ptype == 2:
            if not has_parent:
                ctx.skip("orphan_answer", origin, f"ParentId {parent} is not a question in this dump",
                         len((body or "").encode()))
            continue  # attached answers are read with their question
        if ptype != 1:
            ctx.skip("post_type", origin, f"PostTypeId {ptype}", len((body or "").encode()))
            continue
        parts = [title or "", html_to_text(body)]
        for (abody,) in answers.execute("SELECT body FROM posts WHERE parent = ? AND type = 2 "
                                        "ORDER BY score DESC, id", (pid,)):
            parts.append(html_to_text(abody))
        text = "\n\n".join(p for p in parts if p).strip()
        if not text:
            ctx.skip("empty_text", origin, "question without title or body", 0)
            continue
        yield ctx.document(origin, text, title=title, repo=site, score=score,
                           url=f"https://{site}/questions/{pid}", timestamp=created)
