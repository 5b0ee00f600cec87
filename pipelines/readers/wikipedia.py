"""Wikipedia: MediaWiki XML export dumps `<lang>wiki-<date>-pages-articles*.xml[.bz2]`.

Streams `<page>` elements with iterparse (each page is cleared after use, so memory does not grow with
the dump), keeps articles (namespace 0) that are not redirects, and turns wikitext into plain text with
mwparserfromhell: links keep their anchor text; templates, comments, tables, references, File/Category
links and bold/italic markup are removed (SPEC §1). The language comes from the file name.
Origin: `<file>#<page id>`.
"""
from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Heading, HTMLEntity, Tag, Text, Wikilink

from pipelines.document import Document
from pipelines.readers.base import ReadContext, ReaderError, list_files

SUFFIXES = (".xml.bz2", ".xml", ".bz2")
FILE_LANG = re.compile(r"^([a-z][a-z_-]*?)wiki-")
# Link prefixes whose target is media or a category page in the 20 LLaMA languages (and a few more):
# they are page furniture, not prose.
MEDIA_PREFIXES = {
    "file", "image", "media", "category", "datei", "bild", "kategorie", "fichier", "catégorie", "archivo",
    "categoría", "imagen", "file", "immagine", "categoria", "arquivo", "imagem", "bestand", "categorie",
    "afbeelding", "plik", "kategoria", "grafika", "файл", "изображение", "категория", "категорія",
    "kategori", "fil", "bild", "soubor", "kategorie", "fitxer", "categoria", "slika", "kategorija",
    "датотека", "категорија", "fájl", "kép", "kategória", "imagine", "categorie", "слика", "kategória",
    "файл", "категорія", "datoteka", "kategorija",
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


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _open(path: Path):
    return bz2.open(path, "rb") if path.name.endswith(".bz2") else open(path, "rb")


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    m = FILE_LANG.match(path.name)
    if not m:
        raise ReaderError(path, "cannot tell the wiki language: expected a name like "
                                "'<lang>wiki-<date>-pages-articles.xml.bz2'")
    yield from _read_dump(ctx, path, m.group(1).replace("_", "-"))


def _read_dump(ctx: ReadContext, path: Path, lang: str) -> Iterator[Document]:
    last_id = None
    try:
        with _open(path) as fh:
            context = ET.iterparse(fh, events=("start", "end"))
            _, root = next(context)
            for event, elem in context:
                if event != "end" or _local(elem.tag) != "page":
                    continue
                page = {_local(c.tag): c for c in elem}
                page_id = (page["id"].text or "").strip() if "id" in page else None
                last_id = page_id
                title = page["title"].text if "title" in page else ""
                origin = ctx.origin(path, page_id)
                rev = page.get("revision")
                text_el = next((c for c in rev if _local(c.tag) == "text"), None) if rev is not None else None
                wikitext = (text_el.text or "") if text_el is not None else ""
                ns = (page["ns"].text or "0").strip() if "ns" in page else "0"
                nbytes = len(wikitext.encode("utf-8"))
                ts = next((c.text for c in rev if _local(c.tag) == "timestamp"), None) if rev is not None else None
                elem.clear()
                root.clear()  # drop the references the root keeps to finished pages
                if ns != "0":
                    ctx.skip("namespace", origin, f"ns {ns}: {title}", nbytes)
                    continue
                if "redirect" in page or wikitext.lstrip()[:9].lower() == "#redirect":
                    ctx.skip("redirect", origin, title, nbytes)
                    continue
                text = wikitext_to_text(wikitext)
                if not text:
                    ctx.skip("empty_text", origin, title, nbytes)
                    continue
                url = f"https://{lang}.wikipedia.org/wiki/{quote(title.replace(' ', '_'))}"
                yield ctx.document(origin, text, title=title, url=url, lang=lang, timestamp=ts)
    except ET.ParseError as e:
        line, col = e.position
        raise ReaderError(path, f"malformed XML at line {line}, column {col} (after page id {last_id}): {e}",
                          offset=f"line {line}") from e
    except (OSError, EOFError) as e:
        raise ReaderError(path, f"corrupt or truncated bz2 after page id {last_id}: {e}", offset=last_id) from e
