"""StackExchange: per-site data dumps `<dump>/stackexchange/<site>/Posts.xml`, one document per question.

A document is the question (title and body) followed by its answers sorted by score, highest first
(ties: older answer first), HTML turned into text with selectolax. Answers come after their question in
the dump, so the reader makes one streaming pass (iterparse) that stores posts in a temporary SQLite file
next to nothing else in memory, then emits questions in Id order with their answers from an indexed
query: memory stays flat whatever the site size (the temporary file is about the size of Posts.xml).

Only the largest sites of a dump are read (SPEC §1: 28, the recipe's `top_sites` step, by Posts.xml size):
the others are one counted skip each (`not_top_28_site`); `select_sites(dump_dir)` lists the kept ones.
Rows are parsed line by line through defusedxml; a row over `limits.record_bytes` is a counted skip
(`too_large`), rows without a numeric Id (`missing_id`) or repeating one (`duplicate_id`) too, named by
their row number (`<site>/Posts.xml#row<N>`).

Accounting: a record is a question, an answer whose question is missing ("orphan_answer"), or another
post type (tag wikis, ...: "post_type"); answers attached to a question are part of its document.
Origin: `<site>/Posts.xml#<question Id>`.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from selectolax.lexbor import LexborHTMLParser

from pipelines import recipes
from pipelines.document import Document
from pipelines.readers import xmlstream
from pipelines.readers.base import ReadContext, check_regular, lines_capped, list_files, open_regular

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


def _site(ctx: ReadContext, path: Path) -> str:
    return path.parent.name if path.parent != ctx.dump_dir else path.stem


def site_sizes(dump_dir: str | Path) -> dict[str, int]:
    """Bytes of Posts.xml per site of one dump (regular files only; nothing is opened): the cheap
    pre-pass that ranks the sites."""
    ctx = ReadContext("stackexchange", Path(dump_dir))
    out = {}
    for path in units(ctx):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            out[_site(ctx, path)] = st.st_size
    return out


def select_sites(dump_dir: str | Path, n: int | None = None) -> list[str]:
    """The `n` largest sites of a dump by Posts.xml size (SPEC §1: LLaMA kept the 28 largest), largest
    first, ties by name; n defaults to the recipe's. The rest are skipped as `not_top_<n>_site`."""
    n = recipes.stackexchange_sites() if n is None else n
    sizes = site_sizes(dump_dir)
    return sorted(sizes, key=lambda site: (-sizes[site], site))[:n]


class _Rows(xmlstream.Target):
    """Queues the attributes of every <row> (one Posts.xml line holds one row)."""

    def start(self, tag, attrib):
        self.events += 1
        if tag == "row":
            self.done.append(attrib)


def _load(ctx: ReadContext, path: Path, fh, db: sqlite3.Connection) -> None:
    """Stream every <row> of Posts.xml into the table posts (rowno = position of the row in the file).

    Lines over `limits.record_bytes` are counted skips (`too_large`) and not parsed: Posts.xml has one
    row per line, so memory stays bounded whatever one row holds."""
    db.execute("CREATE TABLE posts (rowno INTEGER PRIMARY KEY, id INTEGER, raw_id TEXT, type INTEGER, "
               "parent INTEGER, score INTEGER, title TEXT, body TEXT, created TEXT)")
    cap, state, batch = ctx.limits.record_bytes, {"line": 0, "id": None}, []

    def lines():
        for lineno, line, size in lines_capped(fh, cap):
            state["line"] = lineno
            if line is None:
                ctx.skip("too_large", ctx.origin(path, f"line{lineno}"), f"line {lineno}: {size} bytes > {cap}", size)
            else:
                yield line

    def flush():
        db.executemany("INSERT INTO posts (id, raw_id, type, parent, score, title, body, created) "
                       "VALUES (?,?,?,?,?,?,?,?)", batch)
        batch.clear()

    where = lambda: f" (line {state['line']}, after post Id {state['id']})"  # noqa: E731
    for a in xmlstream.feed(lines(), path, _Rows(), cap, where):
        state["id"] = a.get("Id")
        batch.append((_int(a.get("Id")), a.get("Id"), _int(a.get("PostTypeId")), _int(a.get("ParentId")),
                      _int(a.get("Score")) or 0, a.get("Title"), a.get("Body", ""), a.get("CreationDate")))
        if len(batch) >= 5_000:
            flush()
    flush()
    db.execute("CREATE INDEX by_id ON posts (id, rowno)")
    db.commit()


def _reject_bad_ids(ctx: ReadContext, path: Path, db: sqlite3.Connection) -> None:
    """Rows without a numeric Id (`missing_id`) and rows repeating an earlier row's Id (`duplicate_id`,
    the first is kept) are counted skips named by their row number, then removed: no row vanishes and no
    two documents share an Id."""
    for rowno, raw_id, nbytes in db.execute("SELECT rowno, raw_id, length(CAST(body AS BLOB)) FROM posts "
                                            "WHERE id IS NULL ORDER BY rowno").fetchall():
        detail = "no Id attribute" if raw_id is None else f"Id {raw_id[:40]!r} is not a number"
        ctx.skip("missing_id", ctx.origin(path, f"row{rowno}"), detail, nbytes or 0)
    dups = db.execute("SELECT p.rowno, p.id, length(CAST(p.body AS BLOB)) FROM posts p WHERE p.id IS NOT NULL "
                      "AND EXISTS (SELECT 1 FROM posts q WHERE q.id = p.id AND q.rowno < p.rowno) "
                      "ORDER BY p.rowno").fetchall()
    for rowno, pid, nbytes in dups:
        ctx.skip("duplicate_id", ctx.origin(path, f"row{rowno}"), f"Id {pid} repeated (first row kept)", nbytes or 0)
    db.execute("DELETE FROM posts WHERE id IS NULL")
    db.executemany("DELETE FROM posts WHERE rowno = ?", [(r,) for r, _, _ in dups])
    db.execute("CREATE INDEX by_parent ON posts (parent, score DESC, id)")
    db.commit()


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    site = _site(ctx, path)
    st = check_regular(ctx, path, ctx.origin(path))  # a link or FIFO is that, whatever its rank
    if st is None:
        return
    keep = select_sites(ctx.dump_dir)
    if site not in keep:
        ctx.skip(f"not_top_{recipes.stackexchange_sites()}_site", ctx.origin(path),
                 f"{site}: Posts.xml of {st.st_size} bytes; the {len(keep)} largest sites are kept", st.st_size)
        return
    fh = open_regular(ctx, path, ctx.origin(path))
    if fh is None:
        return
    with fh, tempfile.TemporaryDirectory(prefix="se-posts-") as tmp:
        db = sqlite3.connect(Path(tmp) / "posts.sqlite")
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            _load(ctx, path, fh, db)
            _reject_bad_ids(ctx, path, db)
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
