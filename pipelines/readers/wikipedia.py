"""Wikipedia: MediaWiki XML export dumps `<lang>wiki-<date>-pages-articles*.xml[.bz2]`.

Streams `<page>` elements with iterparse (each page is cleared after use, so memory does not grow with
the dump), keeps articles (namespace 0) that are not redirects, and turns wikitext into plain text with
mwparserfromhell: links keep their anchor text; templates, comments, tables, references, File/Category
links and bold/italic markup are removed (SPEC §1). The language comes from the file name.
Origin: `<file>#<page id>`. A page without a numeric `<id>` (`missing_id`) or with an id already seen in
the file (`duplicate_id`, the first is kept) is a counted skip whose origin is `<file>#page<N>` (its
position), so no two records share an origin. A `<text>` over `limits.wikitext_chars` characters is a
counted skip (`too_large`); the XML goes through defusedxml (see xmlstream.py).
"""
from __future__ import annotations

import bz2
import re
from array import array
from bisect import bisect_left
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Heading, HTMLEntity, Tag, Text, Wikilink

from pipelines.document import Document
from pipelines.quality.references import cited_urls
from pipelines.readers import xmlstream
from pipelines.readers.base import ReadContext, ReaderError, list_files, open_regular

SUFFIXES = (".xml.bz2", ".xml", ".bz2")
FILE_LANG = re.compile(r"^([a-z][a-z_-]*?)wiki-")
# Link prefixes whose target is media or a category page in the 20 LLaMA languages (and a few more):
# they are page furniture, not prose.
MEDIA_PREFIXES = {
    "file", "image", "media", "category", "datei", "bild", "kategorie", "fichier", "catégorie", "archivo",
    "categoría", "imagen", "immagine", "categoria", "arquivo", "imagem", "bestand", "categorie",
    "afbeelding", "plik", "kategoria", "grafika", "файл", "изображение", "категория", "категорія",
    "kategori", "fil", "soubor", "fitxer", "slika", "kategorija",
    "датотека", "категорија", "fájl", "kép", "kategória", "imagine", "слика", "datoteka",
}
DROP_TAGS = {"ref", "table", "gallery", "math", "timeline", "references", "score", "graph", "imagemap",
             "syntaxhighlight", "source", "templatedata", "noinclude", "includeonly", "div"}


# References and comments never nest and never hold prose; cutting them before parsing halves the time
# mwparserfromhell spends on a typical article (citation templates are most of the markup).
_REFS_AND_COMMENTS = re.compile(r"<ref[^>]*?/>|<ref(\s[^>]*)?>.*?</ref\s*>|<!--.*?-->", re.S | re.I)


def _strip_tables(wikitext: str) -> str:
    """Drop wiki tables (`{|` ... `|}`, nested ones too): both markers open a line. Tables are dropped
    anyway, and building their cells is most of mwparserfromhell's time on table-heavy pages."""
    if "{|" not in wikitext:
        return wikitext
    out, depth = [], 0
    for line in wikitext.split("\n"):
        s = line.lstrip()
        if s.startswith("{|"):
            depth += 1
        elif depth and s.startswith("|}"):
            depth -= 1
        elif not depth:
            out.append(line)
    return "\n".join(out)


def wikitext_to_text(wikitext: str) -> str:
    """Plain prose of an article's wikitext."""
    out: list[str] = []
    _render(mwparserfromhell.parse(_strip_tables(_REFS_AND_COMMENTS.sub("", wikitext))), out)
    lines = (re.sub(r"[ \t]+", " ", ln).strip() for ln in "".join(out).split("\n"))
    return "\n".join(ln for ln in lines if ln)


def _render(code, out: list[str]) -> None:
    """Append the prose of a parsed wikitext to `out` (one linear walk; removing nodes from the tree
    instead costs a search per node, quadratic on long articles)."""
    for node in code.nodes:
        if isinstance(node, Text):
            out.append(node.value)
        elif isinstance(node, Wikilink):
            title = str(node.title)
            if ":" in title and title.split(":", 1)[0].strip().lower() in MEDIA_PREFIXES:
                continue
            if node.text is not None:
                _render(node.text, out)
            else:
                out.append(title.lstrip(":").split("#", 1)[0])
        elif isinstance(node, ExternalLink):
            if node.title is not None:
                _render(node.title, out)
        elif isinstance(node, Tag):
            tag = str(node.tag).lower()
            if tag in DROP_TAGS:
                continue
            if tag == "br":
                out.append("\n")
            elif node.contents is not None:
                _render(node.contents, out)
        elif isinstance(node, Heading):
            out.append("\n")
            _render(node.title, out)
            out.append("\n")
        elif isinstance(node, HTMLEntity):
            out.append(node.normalize())
        # Template, Comment, Argument, and anything else: not prose


FIELDS = {("title",): "title", ("ns",): "ns", ("id",): "id", ("revision", "text"): "text",
          ("revision", "timestamp"): "timestamp"}
SHORT_FIELD_CHARS = 4096  # title, ns, id, timestamp: real ones are a few dozen characters


class _Pages(xmlstream.Target):
    """Collects one dict per <page>: the FIELDS above (text capped at `cap` characters), `redirect`,
    `ordinal` (1-based page number in the file) and `too_large` (field, characters) when a field was
    over its cap. Nothing else of the dump is kept."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap, self.path, self.page, self.field, self.buf, self.size, self.pages = cap, [], None, None, [], 0, 0

    def start(self, tag, attrib):
        self.events += 1
        name = xmlstream.local(tag)
        if self.page is None:
            if name == "page":
                self.pages += 1
                self.page, self.path = {"ordinal": self.pages, "redirect": False}, []
            return
        self.path.append(name)
        if self.path == ["redirect"]:
            self.page["redirect"] = True
        key = FIELDS.get(tuple(self.path))
        if key is not None and key not in self.page:
            self.field, self.buf, self.size = key, [], 0

    def data(self, text):
        self.events += 1
        if self.field is None:
            return
        self.size += len(text)
        if self.size <= (self.cap if self.field == "text" else SHORT_FIELD_CHARS):
            self.buf.append(text)
        elif self.buf:
            self.buf = []  # over the cap: keep counting, hold nothing

    def end(self, tag):
        self.events += 1
        if self.page is None:
            return
        if not self.path:  # </page>
            self.done.append(self.page)
            self.page = None
            return
        if self.field is not None and FIELDS.get(tuple(self.path)) == self.field:
            limit = self.cap if self.field == "text" else SHORT_FIELD_CHARS
            if self.size > limit:
                self.page.setdefault("too_large", (self.field, self.size))
                self.page[self.field] = ""
            else:
                self.page[self.field] = "".join(self.buf)
            self.field, self.buf = None, []
        self.path.pop()


def _open(path: Path, fh):
    return bz2.BZ2File(fh, "rb") if path.name.endswith(".bz2") else fh


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def dump_language(path: Path) -> str | None:
    """The wiki language of a dump file, from its name ('dewiki-20220701-...' -> 'de'), or None."""
    m = FILE_LANG.match(path.name)
    return m.group(1).replace("_", "-") if m else None


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    lang = dump_language(path)
    if lang is None:
        raise ReaderError(path, "cannot tell the wiki language: expected a name like "
                                "'<lang>wiki-<date>-pages-articles.xml.bz2'")
    fh = open_regular(ctx, path, ctx.origin(path))
    if fh is None:
        return
    with fh:
        yield from _read_dump(ctx, path, fh, lang)


class _SeenIds:
    """Page ids seen in one file, 8 bytes each: dumps list pages in increasing id order, so the ids go
    to a sorted array (binary search) and only out-of-order ones to a set."""

    def __init__(self):
        self.sorted, self.rest = array("q"), set()

    def add(self, pid: int) -> bool:
        """False when `pid` was seen before."""
        if not self.sorted or pid > self.sorted[-1]:
            self.sorted.append(pid)
            return True
        i = bisect_left(self.sorted, pid)
        if (i < len(self.sorted) and self.sorted[i] == pid) or pid in self.rest:
            return False
        self.rest.add(pid)
        return True


def _read_dump(ctx: ReadContext, path: Path, fh, lang: str) -> Iterator[Document]:
    last_id, seen, cap = None, _SeenIds(), ctx.limits.record_bytes
    target = _Pages(ctx.limits.wikitext_chars)
    try:
        with _open(path, fh) as stream:
            chunks = iter(lambda: stream.read(xmlstream.CHUNK), b"")

            def where() -> str:  # read when an error is raised: the last page id at that time
                return f" (after page id {last_id})"

            for page in xmlstream.feed(chunks, path, target, cap, where):
                doc = _page(ctx, path, page, lang, seen)
                last_id = page.get("id", last_id)
                if doc is not None:
                    yield doc
    except (OSError, EOFError) as e:
        raise ReaderError(path, f"corrupt or truncated bz2 after page id {last_id}: {e}", offset=last_id) from e


def _page(ctx: ReadContext, path: Path, page: dict, lang: str, seen: _SeenIds) -> Document | None:
    """The document of one collected page, or None after counting why not."""
    raw_id = (page.get("id") or "").strip()
    title = page.get("title") or ""
    wikitext = page.get("text") or ""
    nbytes = len(wikitext.encode("utf-8", "surrogatepass"))
    if not raw_id.isascii() or not raw_id.isdigit():
        # no usable id: the page number in the file keeps the origin distinct
        ctx.skip("missing_id", ctx.origin(path, f"page{page['ordinal']}"),
                 f"<id> {raw_id[:40]!r}: {title[:200]}", nbytes)
        return None
    origin = ctx.origin(path, raw_id)
    if not seen.add(int(raw_id)):
        ctx.skip("duplicate_id", ctx.origin(path, f"page{page['ordinal']}"),
                 f"page id {raw_id} repeated (first kept): {title[:200]}", nbytes)
        return None
    if "too_large" in page:
        field, size = page["too_large"]
        ctx.skip("too_large", origin, f"<{field}> of {size} characters > "
                                      f"{ctx.limits.wikitext_chars if field == 'text' else SHORT_FIELD_CHARS}", size)
        return None
    ns = (page.get("ns") or "0").strip()
    if ns != "0":
        ctx.skip("namespace", origin, f"ns {ns}: {title}", nbytes)
        return None
    if page["redirect"] or wikitext.lstrip()[:9].lower() == "#redirect":
        ctx.skip("redirect", origin, title, nbytes)
        return None
    text = wikitext_to_text(wikitext)
    if not text:
        ctx.skip("empty_text", origin, title, nbytes)
        return None
    url = f"https://{lang}.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}"
    return ctx.document(origin, text, title=title, url=url, lang=lang, timestamp=page.get("timestamp"),
                        cited_urls=cited_urls(wikitext))
