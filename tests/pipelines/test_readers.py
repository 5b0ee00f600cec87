"""Readers on tiny literal dumps: what each keeps, what it skips (reason and detail), and how bad input fails."""
import bz2
import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from pipelines.base import Stats
from pipelines.document import doc_id
from pipelines.readers import ReaderError, read_source
from pipelines.readers.arxiv import collect_macros, expand_macros, latex_to_text, strip_comments
from pipelines.readers.books import strip_gutenberg
from pipelines.readers.github import detect_license, prog_lang
from pipelines.readers.stackexchange import html_to_text
from pipelines.readers.wikipedia import wikitext_to_text


def dump_dir(tmp_path, source, name="d1"):
    """`<tmp>/<source>/<name>`: the layout of LLAMA_DUMPS_DIR (origins start with the dump name)."""
    d = tmp_path / source / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_all(source, folder):
    stats, skipped = Stats(), []
    docs = list(read_source(source, folder, stats=stats, on_skip=skipped.append))
    assert stats.balanced and stats.read == len(docs) + len(skipped)
    return docs, skipped, stats


# ------------------------------------------------------------------------------------- WARC/WET
def warc_record(rtype: str, block: bytes, uri="https://example.org/a", extra=()) -> bytes:
    head = ["WARC/1.0", f"WARC-Type: {rtype}", f"WARC-Target-URI: {uri}", "WARC-Date: 2024-05-18T01:58:10Z",
            "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>", *extra,
            f"Content-Length: {len(block)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


HTTP = ["Content-Type: application/http; msgtype=response"]


def http(body: bytes, ctype="text/html; charset=utf-8", status="200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n\r\n".encode() + body


PAGE = (b"<html><head><title>T</title></head><body><nav><ul><li><a href='/'>Home</a></li><li><a href='/c'>"
        b"Contact</a></li></ul></nav><main><article><h1>River walks</h1><p>The old bridge near the harbour was "
        b"repaired last spring by a group of volunteers from the village.</p><p>Many visitors now cross it every "
        b"morning on their way to the market.</p></article></main><footer>Copyright 2024. Privacy Policy</footer>"
        b"</body></html>")


def gz_members(*records: bytes) -> bytes:
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def test_wet_records_keep_text_lang_snapshot_and_offset_origin(tmp_path):
    r1 = warc_record("conversion", "Bonjour à tous, voici le texte.\n".encode(),
                     extra=["WARC-Identified-Content-Language: fra,eng", "Content-Type: text/plain"])
    r2 = warc_record("conversion", b"Second page text.", uri="https://example.org/b")
    info = warc_record("warcinfo", b"isPartOf: CC-MAIN-2024-22\r\n")
    d = dump_dir(tmp_path, "commoncrawl", "CC-MAIN-2024-22")
    (d / "x.warc.wet.gz").write_bytes(gz_members(info, r1, r2))
    docs, skipped, _ = read_all("commoncrawl", d)
    assert [doc.text for doc in docs] == ["Bonjour à tous, voici le texte.", "Second page text."]
    assert docs[0].lang == "fra" and docs[0].snapshot == "CC-MAIN-2024-22" and docs[0].url == "https://example.org/a"
    # the origin is the record's offset in the decompressed stream
    assert docs[0].origin == f"CC-MAIN-2024-22/x.warc.wet.gz#{len(info)}"
    assert docs[1].origin == f"CC-MAIN-2024-22/x.warc.wet.gz#{len(info) + len(r1)}"
    assert docs[0].id == doc_id("commoncrawl", docs[0].origin) and skipped == []


def test_warc_extracts_main_text_and_counts_non_html_and_errors(tmp_path):
    recs = [warc_record("request", b"GET / HTTP/1.1\r\n\r\n"),
            warc_record("response", http(PAGE), uri="<https://example.org/a>", extra=HTTP),
            warc_record("response", http(b"<html>gone</html>", status="404 Not Found"), extra=HTTP),
            warc_record("response", http(b"\x89PNG....", ctype="image/png"), extra=HTTP),
            warc_record("response", http(b"<html><body><script>var a=1;</script></body></html>"), extra=HTTP),
            warc_record("response", http(PAGE))]  # no application/http content type: not parsed as HTTP
    d = dump_dir(tmp_path, "commoncrawl", "wget-1")
    (d / "a.warc.gz").write_bytes(gz_members(*recs))
    docs, skipped, stats = read_all("commoncrawl", d)
    assert len(docs) == 1
    text = docs[0].text
    assert "old bridge near the harbour" in text and "Privacy Policy" not in text and "Contact" not in text
    assert docs[0].url == "https://example.org/a" and docs[0].snapshot == "wget-1"
    assert {s.reason: s.detail for s in skipped} == {"http_status": "HTTP 404", "not_html": "image/png",
                                                     "empty_text": "no main content extracted",
                                                     "not_http": "no content type"}
    assert stats.read == 5  # the request record is not a document


def test_wet_invalid_utf8_is_a_counted_skip(tmp_path):
    rec = warc_record("conversion", b"caf\xe9 au lait")
    (tmp_path / "x.wet.gz").write_bytes(gz_members(rec))
    docs, skipped, _ = read_all("commoncrawl", tmp_path)
    assert docs == [] and skipped[0].reason == "invalid_utf8"
    assert skipped[0].detail == "invalid UTF-8 byte 0xe9 at offset 3"


def test_truncated_gzip_warc_is_an_error_naming_the_file(tmp_path):
    data = gz_members(*[warc_record("conversion", b"text %d " % i * 200) for i in range(5)])
    (tmp_path / "t.warc.wet.gz").write_bytes(data[: len(data) - 40])
    with pytest.raises(ReaderError, match=r"t\.warc\.wet\.gz.*(truncated|corrupt)"):
        list(read_source("commoncrawl", tmp_path))


def test_truncated_uncompressed_warc_record_names_its_offset(tmp_path):
    first = warc_record("conversion", b"complete record")
    data = first + warc_record("conversion", b"x" * 500)[:-300]
    (tmp_path / "t.warc.wet").write_bytes(data)
    with pytest.raises(ReaderError, match=rf"t\.warc\.wet \(record at {len(first)}\).*truncated"):
        list(read_source("commoncrawl", tmp_path))


def test_corrupt_gzip_warc_is_an_error(tmp_path):
    data = gz_members(*[warc_record("conversion", os.urandom(20).hex().encode() * 50) for _ in range(3)])
    mid = len(data) // 2
    (tmp_path / "c.warc.gz").write_bytes(data[:mid] + b"\x00garbage\xff" * 20 + data[mid:])
    with pytest.raises(ReaderError, match=r"c\.warc\.gz"):
        list(read_source("commoncrawl", tmp_path))


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(ReaderError, match="does not exist"):
        list(read_source("c4", tmp_path / "nope"))
    (tmp_path / "README.md").write_text("not a dump")
    with pytest.raises(ReaderError, match=r"no c4 dump files"):
        list(read_source("c4", tmp_path))
    with pytest.raises(ReaderError, match="no repository folders"):
        list(read_source("github", tmp_path))
    with pytest.raises(ValueError, match="unknown source"):
        list(read_source("reddit", tmp_path))


# ------------------------------------------------------------------------------------------- c4
def test_c4_lines_and_bad_lines(tmp_path):
    lines = [json.dumps({"text": "Hello world.", "url": "https://a.example", "timestamp": "2019-04-25T12:57:54Z"}),
             "{not json", json.dumps({"url": "https://b.example"}), "",
             json.dumps({"text": "Last one."})]
    raw = ("\n".join(lines) + "\n").encode().replace(b"{not json", b"{not json") + b'{"text": "caf\xe9"}\n'
    d = dump_dir(tmp_path, "c4", "en")
    (d / "c4-train.00000-of-01024.json.gz").write_bytes(gzip.compress(raw, mtime=0))
    docs, skipped, _ = read_all("c4", d)
    assert [(d.text, d.origin) for d in docs] == [("Hello world.", "en/c4-train.00000-of-01024.json.gz#1"),
                                                 ("Last one.", "en/c4-train.00000-of-01024.json.gz#5")]
    assert docs[0].url == "https://a.example" and docs[0].timestamp == "2019-04-25T12:57:54Z"
    assert [(s.reason, s.detail) for s in skipped] == [
        ("malformed_json", "line 2: Expecting property name enclosed in double quotes at column 2"),
        ("empty_text", "no 'text' field or empty text"),
        ("invalid_utf8", "invalid UTF-8 byte 0xe9 at offset 13")]


def test_c4_corrupt_and_truncated_gzip(tmp_path):
    data = gzip.compress(b"".join(json.dumps({"text": f"doc {i} " * 50}).encode() + b"\n" for i in range(200)))
    (tmp_path / "c4-a.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError, match=r"c4-a\.json\.gz.*truncated gzip after line \d+"):
        list(read_source("c4", tmp_path))
    (tmp_path / "c4-a.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate" * 3)
    with pytest.raises(ReaderError, match=r"c4-a\.json\.gz"):
        list(read_source("c4", tmp_path))


# --------------------------------------------------------------------------------------- github
MIT_TEXT = ("MIT License\n\nCopyright (c) 2020 A\n\nPermission is hereby granted, free of charge, to any person "
            "obtaining a copy...\n\nThe above copyright notice and this permission notice shall be included")
BSD2 = "Redistribution and use in source and binary forms, with or without modification, are permitted."
BSD3 = BSD2 + " Neither the name of the copyright holder nor the names of its contributors may be used."


@pytest.mark.parametrize("text,spdx", [
    (MIT_TEXT, "MIT"), (BSD2, "BSD-2-Clause"), (BSD3, "BSD-3-Clause"),
    ("Apache License\n  Version 2.0, January 2004", "Apache-2.0"),
    ("GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007 ... GNU Affero General Public License", "GPL-3.0"),
    ("GNU GENERAL PUBLIC LICENSE\n Version 2, June 1991", "GPL-2.0"),
    ("GNU LESSER GENERAL PUBLIC LICENSE\n Version 2.1, February 1999", "LGPL-2.1"),
    ("All rights reserved. Do not copy.", "unknown"),
])
def test_detect_license(text, spdx):
    assert detect_license(text) == spdx


@pytest.mark.parametrize("path,head,lang", [
    ("a/b.py", b"", "Python"), ("x.JS", b"", "JavaScript"), ("Makefile", b"", "Makefile"),
    ("googler", b"#!/usr/bin/env python3\nimport x", "Python"), ("run", b"#!/bin/bash\n", "Shell"),
    ("README", b"hello", None), ("data.weird", b"", None),
])
def test_prog_lang(path, head, lang):
    assert prog_lang(path, head) == lang


def test_github_tree(tmp_path):
    root = dump_dir(tmp_path, "github", "2023-03")
    repo = root / "octo__tool"
    (repo / "src").mkdir(parents=True)
    (repo / "LICENSE").write_text(MIT_TEXT)
    (repo / "src" / "main.py").write_text("print('hi')\n")
    (repo / "src" / "empty.py").write_text("")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x00\x00")
    (repo / "blob").write_bytes(b"abc\x00def")
    (repo / "latin.txt").write_bytes(b"na\xefve")
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main")
    os.symlink("src/main.py", repo / "link.py")
    (root / "other__nolicense").mkdir()
    (root / "other__nolicense" / "a.sh").write_text("echo hi\n")
    docs, skipped, _ = read_all("github", root)
    by_path = {(d.repo, d.path): d for d in docs}
    assert set(by_path) == {("octo/tool", "LICENSE"), ("octo/tool", "src/main.py"), ("other/nolicense", "a.sh")}
    main = by_path[("octo/tool", "src/main.py")]
    assert (main.license, main.prog_lang, main.origin) == ("MIT", "Python", "2023-03/octo__tool/src/main.py")
    assert by_path[("other/nolicense", "a.sh")].license == "unknown"
    reasons = {s.reason: s.detail for s in skipped}
    assert set(reasons) == {"empty_file", "binary", "invalid_utf8", "symlink", "hidden_file"}
    assert reasons["hidden_file"] == "hidden folder"                          # .git: one skip, not entered
    assert reasons["invalid_utf8"] == "invalid UTF-8 byte 0xef at offset 2"
    assert [s.reason for s in skipped].count("binary") == 2  # by extension and by NUL byte


# ------------------------------------------------------------------------------------ wikipedia
def test_wikitext_to_text_strips_markup_keeps_anchor_text():
    wt = ("{{Infobox person|name=X}}'''Ada''' was a [[mathematician|mathematical]] writer from [[London]]."
          "<ref>{{cite book|title=B}}</ref> <!-- note -->\n[[File:Ada.jpg|thumb|Portrait]]\n"
          "== Life ==\nShe worked with [https://example.org Babbage] on the ''engine''.\n"
          "{| class=wikitable\n|-\n| a || b\n|}\n* listed item\n[[Category:1815 births]] [[Kategorie:X]]")
    assert wikitext_to_text(wt) == ("Ada was a mathematical writer from London.\nLife\n"
                                    "She worked with Babbage on the engine.\nlisted item")


def wiki_xml(pages: str) -> bytes:
    return (f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">'
            f"<siteinfo><sitename>Wikipedia</sitename></siteinfo>{pages}</mediawiki>").encode()


def page(pid, title, text, ns=0, redirect=""):
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{pid}</id>{redirect}<revision><id>1</id>"
            f"<timestamp>2022-07-01T00:00:00Z</timestamp><text>{text}</text></revision></page>")


def test_wikipedia_dump_articles_redirects_namespaces(tmp_path):
    xml = wiki_xml(page(10, "Paris", "'''Paris''' ist die [[Hauptstadt]] Frankreichs.")
                   + page(11, "Lutetia", "#WEITERLEITUNG [[Paris]]", redirect='<redirect title="Paris" />')
                   + page(12, "Diskussion:Paris", "Talk", ns=1)
                   + page(13, "Leer", "{{Begriffsklärung}}"))
    d = dump_dir(tmp_path, "wikipedia", "20220701")
    (d / "dewiki-20220701-pages-articles.xml.bz2").write_bytes(bz2.compress(xml))
    docs, skipped, _ = read_all("wikipedia", d)
    assert len(docs) == 1
    d = docs[0]
    assert (d.text, d.title, d.lang, d.url) == ("Paris ist die Hauptstadt Frankreichs.", "Paris", "de",
                                                "https://de.wikipedia.org/wiki/Paris")
    assert d.origin == "20220701/dewiki-20220701-pages-articles.xml.bz2#10"
    assert [(s.reason, s.detail) for s in skipped] == [("redirect", "Lutetia"), ("namespace", "ns 1: Diskussion:Paris"),
                                                       ("empty_text", "Leer")]


def test_wikipedia_bad_inputs(tmp_path):
    good = page(1, "A", "Some text.")
    (tmp_path / "frwiki-x.xml.bz2").write_bytes(bz2.compress(wiki_xml(good)[:-30] + b"<<broken"))
    with pytest.raises(ReaderError, match=r"frwiki-x\.xml\.bz2.*malformed XML at line 1"):
        list(read_source("wikipedia", tmp_path))
    data = bz2.compress(wiki_xml(good * 50))
    (tmp_path / "frwiki-x.xml.bz2").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError, match=r"frwiki-x\.xml\.bz2.*(truncated|corrupt)"):
        list(read_source("wikipedia", tmp_path))
    (tmp_path / "frwiki-x.xml.bz2").write_bytes(b"BZh91AY&SY" + bytes(range(256)) * 4)
    with pytest.raises(ReaderError, match=r"frwiki-x\.xml\.bz2.*corrupt or truncated bz2 after page id None"):
        list(read_source("wikipedia", tmp_path))
    (tmp_path / "frwiki-x.xml.bz2").unlink()
    (tmp_path / "pages-articles.xml.bz2").write_bytes(bz2.compress(wiki_xml(good)))
    with pytest.raises(ReaderError, match="cannot tell the wiki language"):
        list(read_source("wikipedia", tmp_path))


# ---------------------------------------------------------------------------------------- books
def test_strip_gutenberg_old_and_new_layouts():
    old = ("\ufeffThe Project Gutenberg EBook of X\r\n\r\nTitle: Alice\r\n\r\n*** START OF THIS PROJECT GUTENBERG "
           "EBOOK ALICE ***\r\n\r\nChapter 1\r\nDown the hole.\r\n\r\nEnd of the Project Gutenberg EBook of "
           "Alice\r\n*** END OF THIS PROJECT GUTENBERG EBOOK ALICE ***\r\nlicence text")
    assert strip_gutenberg(old.lstrip("\ufeff")) == ("Chapter 1\nDown the hole.", "Alice", True)
    new = ("Title: Frankenstein\n\n*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***\nLetter 1\n"
           "*** END OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***\nSection 1. General Terms")
    assert strip_gutenberg(new) == ("Letter 1", "Frankenstein", True)
    assert strip_gutenberg("Just a text.\n") == ("Just a text.", None, False)


def test_books_reader(tmp_path):
    tmp_path = dump_dir(tmp_path, "books", "gutenberg")
    (tmp_path / "pg11.txt").write_bytes("\ufeffTitle: Alice\r\n*** START OF THIS PROJECT GUTENBERG EBOOK A ***"
                                        "\r\nBody.\r\n*** END OF THIS PROJECT GUTENBERG EBOOK A ***".encode())
    (tmp_path / "plain.txt").write_text("Already stripped.")
    (tmp_path / "bad.txt").write_bytes(b"Caf\xe9")
    (tmp_path / "hollow.txt").write_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n"
                                         "*** END OF THE PROJECT GUTENBERG EBOOK X ***")
    notes = {}
    docs = list(read_source("books", tmp_path, notes=notes))
    assert [(d.origin, d.text, d.title) for d in docs] == [("gutenberg/pg11.txt", "Body.", "Alice"),
                                                          ("gutenberg/plain.txt", "Already stripped.", "plain")]
    assert docs[0].url == "https://www.gutenberg.org/ebooks/11" and notes["no_pg_markers"] == 1
    _, skipped, _ = read_all("books", tmp_path)
    assert {(s.reason, s.id) for s in skipped} == {("invalid_utf8", doc_id("books", "gutenberg/bad.txt")),
                                                  ("empty_text", doc_id("books", "gutenberg/hollow.txt"))}


# ---------------------------------------------------------------------------------------- arxiv
def test_latex_comments_and_macros():
    assert strip_comments("a % c\n% whole line\n100\\% kept\n\\\\% after a line break") == "a\n100\\% kept\n\\\\"
    tex, macros = collect_macros(r"""\newcommand{\R}{\mathbb{R}}
\newcommand{\norm}[1]{\lVert #1 \rVert}
\newcommand*\pair[2][x]{(#1, #2)}
\def\eps{\varepsilon}
\def\sq#1{#1^2}
\newcommand{\both}[1]{\norm{#1} + \R}
$\R, \norm{v}, \pair{y}, \pair[z]{y}, \eps, \sq{a}, \sq b, \both{w}, \Rx$""")
    assert sorted(macros) == ["R", "both", "eps", "norm", "pair", "sq"]
    assert expand_macros(tex, macros).strip() == (r"$\mathbb{R}, \lVert v \rVert, (x, y), (z, y), \varepsilon, "
                                                  r"a^2, b^2, \lVert w \rVert + \mathbb{R}, \Rx$")


def test_latex_to_text_inlines_and_cuts():
    files = {"main.tex": "\\documentclass{article}\n\\def\\m{MODEL}\n\\title{About \\m}\n\\begin{document}\n"
                         "\\maketitle\nAbstract text.\n% \\section{Commented}\n\\input{sec/intro}\n\\section{Two}\n"
                         "\\m{} works.\n\\begin{thebibliography}{1}\\bibitem{a} Ref.\\end{thebibliography}\n"
                         "\\bibliography{refs}\n\\end{document}\nafter end",
             "sec/intro.tex": "\\section{Intro} % why\nWe study \\m.\n"}
    text, title, reason = latex_to_text(files)
    assert title == "About MODEL" and reason == ""
    assert text == "\\section{Intro}\nWe study MODEL.\n\n\\section{Two}\nMODEL works."
    assert latex_to_text({"a.tex": "\\section{x} no class"})[2] == "no_main_tex"
    assert latex_to_text({"a.tex": "\\documentclass{article}\nno sections"})[2] == "no_section"


def make_tar(path: Path, files: dict, extra=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tf.addfile(info, io.BytesIO(text.encode()))
        for info in extra:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    path.write_bytes(gzip.compress(buf.getvalue()))


def test_arxiv_reader(tmp_path):
    tmp_path = dump_dir(tmp_path, "arxiv", "2023-01")
    body = "\\documentclass{article}\n\\begin{document}\n\\section{A}\nText.\n\\end{document}"
    evil = tarfile.TarInfo("../../evil.tex")
    evil.size = 3
    make_tar(tmp_path / "2301.00001.tar.gz", {"paper.tex": body}, extra=[evil])
    make_tar(tmp_path / "2301.00002.tar.gz", {"notes.tex": "no class here"})
    make_tar(tmp_path / "2301.00003.tar.gz", {"fig.png": "binary"})
    (tmp_path / "2301.00004.tar.gz").write_bytes(b"\x1f\x8b\x08\x00corrupt")
    docs, skipped, _ = read_all("arxiv", tmp_path)
    assert [(d.text, d.url) for d in docs] == [("\\section{A}\nText.", "https://arxiv.org/abs/2301.00001")]
    reasons = {s.reason: s for s in skipped}
    assert set(reasons) == {"no_main_tex", "no_tex", "corrupt_archive"}
    assert reasons["corrupt_archive"].id == doc_id("arxiv", "2023-01/2301.00004.tar.gz")
    assert "2301.00004.tar.gz" in reasons["corrupt_archive"].detail


# -------------------------------------------------------------------------------- stackexchange
def test_html_to_text():
    html = "<p>Use <code>x()</code> and <a href='u'>this</a>.</p><pre><code>a = 1\nb = 2\n</code></pre><ul><li>one</li><li>two</li></ul>"
    assert html_to_text(html) == "Use x() and this.\na = 1\nb = 2\n\none\ntwo"


def test_stackexchange_question_then_answers_by_score(tmp_path):
    tmp_path = dump_dir(tmp_path, "stackexchange", "2024-04")
    site = tmp_path / "cooking.stackexchange.com"
    site.mkdir()
    rows = [
        '<row Id="1" PostTypeId="1" Score="5" Title="Why salt?" Body="&lt;p&gt;Question body&lt;/p&gt;" CreationDate="2016-01-01T00:00:00.000" />',
        '<row Id="2" PostTypeId="2" ParentId="1" Score="1" Body="&lt;p&gt;low&lt;/p&gt;" />',
        '<row Id="3" PostTypeId="2" ParentId="1" Score="12" Body="&lt;p&gt;high&lt;/p&gt;" />',
        '<row Id="4" PostTypeId="4" Body="&lt;p&gt;tag wiki&lt;/p&gt;" />',
        '<row Id="5" PostTypeId="2" ParentId="99" Score="3" Body="&lt;p&gt;orphan&lt;/p&gt;" />',
        '<row Id="6" PostTypeId="2" ParentId="1" Score="-2" Body="&lt;p&gt;negative&lt;/p&gt;" />',
        '<row Id="7" PostTypeId="1" Score="0" Title="Unanswered?" Body="&lt;p&gt;Anyone&lt;/p&gt;" />',
    ]
    (site / "Posts.xml").write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>")
    docs, skipped, _ = read_all("stackexchange", tmp_path)
    assert [d.text for d in docs] == ["Why salt?\n\nQuestion body\n\nhigh\n\nlow\n\nnegative", "Unanswered?\n\nAnyone"]
    d = docs[0]
    assert (d.score, d.repo, d.origin, d.url) == (5, "cooking.stackexchange.com", "2024-04/cooking.stackexchange.com/Posts.xml#1",
                                                  "https://cooking.stackexchange.com/questions/1")
    assert [(s.reason, s.detail) for s in skipped] == [("post_type", "PostTypeId 4"),
                                                       ("orphan_answer", "ParentId 99 is not a question in this dump")]


def test_stackexchange_malformed_xml(tmp_path):
    site = tmp_path / "a.stackexchange.com"
    site.mkdir()
    (site / "Posts.xml").write_text('<posts>\n<row Id="1" PostTypeId="1" Title="x" Body="y" />\n<row Id="2" oops>\n</posts>')
    with pytest.raises(ReaderError, match=r"Posts\.xml.*malformed XML at line 3.*after post Id 1"):
        list(read_source("stackexchange", tmp_path))


# ------------------------------------------------------------------------------ real bundled files
def test_real_bundled_files():
    from pipelines.samples import bundled_dumps_dir

    root = bundled_dumps_dir()
    books = {d.origin: d for d in read_source("books", root / "books" / "gutenberg")}
    assert books["gutenberg/pg11.txt"].text.startswith("ALICE'S ADVENTURES IN WONDERLAND")
    assert books["gutenberg/pg11.txt"].text.endswith("THE END") and "\r" not in books["gutenberg/pg11.txt"].text
    assert books["gutenberg/pg84.txt"].title == "Frankenstein; Or, The Modern Prometheus"
    assert "PROJECT GUTENBERG" not in books["gutenberg/pg84.txt"].text.upper()
    gh = {d.origin: d for d in read_source("github", root / "github" / "2023-03")}
    googler = gh["2023-03/jarun__googler/googler"]
    assert (googler.license, googler.prog_lang, googler.repo) == ("GPL-3.0", "Python", "jarun/googler")
    assert gh["2023-03/benjaminp__six/six.py"].license == "MIT"
    se = [d for d in read_source("stackexchange", root / "stackexchange" / "2024-04") if d.repo == "beer.stackexchange.com"]
    assert len(se) == 663 and all("<p>" not in d.text for d in se)
    cc = list(read_source("commoncrawl", root / "commoncrawl" / "CC-MAIN-2024-22"))
    assert {d.url for d in cc} == {"https://an.wikipedia.org/wiki/Escopete"} and len(cc) == 2
    assert {d.lang for d in cc} == {None, "spa"}
    [paper] = [d for d in read_source("arxiv", root / "arxiv" / "2023-01")
               if d.origin == "2023-01/scipy-1.0-paper.tar.gz"]
    assert paper.text.startswith("\\section*{Introduction}") and "\\bibliography" not in paper.text
    assert paper.title.startswith("SciPy 1.0")
