"""Hostile and degenerate dumps (issue 13): links and special files, bombs and huge records, empty files,
duplicate or missing ids, entity bombs. Each failure of the issue is reproduced here."""
import bz2
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.base import Stats
from pipelines.document import doc_id
from pipelines.engine import LocalEngine
from pipelines.partition import EmptyPartitionError
from pipelines.readers import Limits, ReaderError, list_units, read_source
from pipelines.readers.idcheck import duplicate_ids, partition_files
from pipelines.readers.ingest import check_accounting, ingest_dump
from pipelines.readers.stackexchange import select_sites

ROOT = Path(__file__).resolve().parents[2]
SMALL = Limits(record_bytes=1 << 20, wikitext_chars=1 << 20, book_bytes=1 << 20, github_file_bytes=1 << 20,
               archive_member_bytes=1 << 20, archive_bytes=3 << 20, archive_members=100)


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (an open() of a FIFO blocks in the kernel; SIGALRM interrupts it)."""
    def boom(*_):
        raise TimeoutError(f"still running after {seconds}s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def dump(tmp_path, source, name="d1"):
    d = tmp_path / "dumps" / source / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_all(source, folder, limits=None):
    stats, skipped = Stats(), []
    with deadline(60):
        docs = list(read_source(source, folder, stats=stats, on_skip=skipped.append, limits=limits))
    assert stats.balanced and stats.read == len(docs) + len(skipped)
    return docs, skipped


def reasons(skipped):
    return sorted((s.reason, s.origin) for s in skipped)


# ------------------------------------------------------------------------------ links, special files
def test_github_link_to_etc_is_a_skip_not_documents(tmp_path):
    d = dump(tmp_path, "github", "2023-03")
    (d / "good__repo").mkdir()
    (d / "good__repo" / "a.py").write_text("print(1)\n")
    os.symlink("/etc", d / "good__repo" / "etc")          # a linked folder inside a repository
    os.symlink("/etc/passwd", d / "good__repo" / "passwd")  # a linked file
    os.symlink("/etc/passwd", d / "good__repo" / "LICENSE")  # not read for the licence either
    os.symlink("/etc", d / "evil__etc")                     # a linked repository folder
    units = list_units("github", d)
    assert [u.name for u in units] == ["evil__etc", "good__repo"]
    docs, skipped = read_all("github", d)
    assert [x.origin for x in docs] == ["2023-03/good__repo/a.py"] and docs[0].license == "unknown"
    assert reasons(skipped) == [("symlink", "2023-03/evil__etc"), ("symlink", "2023-03/good__repo/LICENSE"),
                                ("symlink", "2023-03/good__repo/etc"), ("symlink", "2023-03/good__repo/passwd")]
    assert all("passwd" not in x.text and "root:" not in x.text for x in docs)


def test_books_links_dev_zero_and_fifo_are_skips(tmp_path):
    d = dump(tmp_path, "books", "gutenberg")
    host = tmp_path / "host-secret.txt"
    host.write_text("secret of the host")
    (d / "ok.txt").write_text("A book.")
    os.symlink(host, d / "host.txt")
    os.symlink("/dev/zero", d / "zero.txt")
    os.mkfifo(d / "pipe.txt")
    docs, skipped = read_all("books", d)
    assert [x.text for x in docs] == ["A book."]
    assert reasons(skipped) == [("not_regular_file", "gutenberg/pipe.txt"), ("symlink", "gutenberg/host.txt"),
                                ("symlink", "gutenberg/zero.txt")]
    assert {s.detail for s in skipped} == {"FIFO", f"link to {host}", "link to /dev/zero"}


@pytest.mark.parametrize("source,name", [("c4", "c4-train.0.json.gz"), ("commoncrawl", "x.warc.wet.gz"),
                                         ("wikipedia", "enwiki-1-pages-articles.xml.bz2"),
                                         ("arxiv", "2301.1.tar.gz")])
def test_fifo_and_dev_zero_never_opened(tmp_path, source, name):
    d = dump(tmp_path, source)
    os.mkfifo(d / name)
    os.symlink("/dev/zero", d / ("z" + name))
    docs, skipped = read_all(source, d)
    assert docs == [] and sorted(s.reason for s in skipped) == ["not_regular_file", "symlink"]


def test_stackexchange_fifo_site(tmp_path):
    d = dump(tmp_path, "stackexchange")
    (d / "a.stackexchange.com").mkdir()
    os.mkfifo(d / "a.stackexchange.com" / "Posts.xml")
    docs, skipped = read_all("stackexchange", d)
    assert docs == [] and [s.reason for s in skipped] == ["not_regular_file"]


def test_dump_folder_linked_out_of_the_dumps_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c4-train.0.json").write_text('{"text": "x"}\n')
    (tmp_path / "dumps" / "c4").mkdir(parents=True)
    os.symlink(elsewhere, tmp_path / "dumps" / "c4" / "en")
    with pytest.raises(ReaderError, match="link out of the dumps folder"):
        list_units("c4", tmp_path / "dumps" / "c4" / "en")
    # a folder linked to a folder outside the dump is not entered
    d = dump(tmp_path, "c4", "ok")
    (d / "c4-train.1.json").write_text('{"text": "kept"}\n')
    os.symlink(elsewhere, d / "sub")
    assert [x.text for x in read_all("c4", d)[0]] == ["kept"]


# --------------------------------------------------------------------------------- bombs, big records
def gz_zeros(path: Path, mib: int, prefix: bytes = b"", suffix: bytes = b""):
    with gzip.open(path, "wb", compresslevel=1) as g:
        g.write(prefix)
        block = b"\0" * (1 << 20)
        for _ in range(mib):
            g.write(block)
        g.write(suffix)


def wet(body_len: int, body: bytes = b"") -> bytes:
    return (b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://x/\r\nWARC-Record-ID: <urn:uuid:1>\r\n"
            b"Content-Length: %d\r\n\r\n" % body_len) + body


def test_c4_bomb_line_is_too_large_and_reading_goes_on(tmp_path):
    d = dump(tmp_path, "c4", "en")
    gz_zeros(d / "c4-train.0.json.gz", 8, prefix=b'{"text": "first"}\n', suffix=b'\n{"text": "after"}\n')
    docs, skipped = read_all("c4", d, SMALL)
    assert [x.text for x in docs] == ["first", "after"]
    assert [(s.reason, s.origin, s.bytes) for s in skipped] == [("too_large", "en/c4-train.0.json.gz#2", (8 << 20) + 1)]


def test_wet_record_over_the_cap_is_skipped_unread(tmp_path):
    d = dump(tmp_path, "commoncrawl", "CC-MAIN-2024-22")
    small = wet(5, b"hello") + b"\r\n\r\n"
    gz_zeros(d / "x.warc.wet.gz", 8, prefix=small + wet(8 << 20), suffix=b"\r\n\r\n" + small)
    docs, skipped = read_all("commoncrawl", d, SMALL)
    assert [x.text for x in docs] == ["hello", "hello"]
    assert [(s.reason, s.bytes) for s in skipped] == [("too_large", 8 << 20)]


def test_warc_of_zeros_is_a_clean_error(tmp_path):
    d = dump(tmp_path, "commoncrawl")
    gz_zeros(d / "bomb.warc.gz", 4)
    with pytest.raises(ReaderError, match=r"bomb\.warc\.gz"):
        read_all("commoncrawl", d, SMALL)


def wiki_page(pid, title, text):
    pid = f"<id>{pid}</id>" if pid is not None else ""
    return (f"<page><title>{title}</title><ns>0</ns>{pid}<revision><id>1</id><text>{text}</text>"
            f"</revision></page>").encode()


def wiki(*pages: bytes) -> bytes:
    return b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">' + b"".join(pages) + b"</mediawiki>"


def test_wikipedia_huge_text_is_too_large(tmp_path):
    d = dump(tmp_path, "wikipedia", "20220701")
    big = wiki_page(2, "Big", "a" * (3 << 20))
    (d / "enwiki-1-pages-articles.xml").write_bytes(wiki(wiki_page(1, "A", "Alpha."), big, wiki_page(3, "C", "Gamma.")))
    docs, skipped = read_all("wikipedia", d, SMALL)
    assert [x.text for x in docs] == ["Alpha.", "Gamma."]
    assert [(s.reason, s.origin) for s in skipped] == [("too_large", "20220701/enwiki-1-pages-articles.xml#2")]


def test_xml_token_bomb_and_entities_are_clean_errors(tmp_path):
    d = dump(tmp_path, "wikipedia", "20220701")
    f = d / "enwiki-1-pages-articles.xml"
    f.write_bytes(b'<mediawiki><page title="' + b"a" * (3 << 20) + b'"></page></mediawiki>')
    with pytest.raises(ReaderError, match=r"enwiki-1-pages-articles\.xml.*XML token longer than"):
        read_all("wikipedia", d, SMALL)
    lol = b'<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    f.write_bytes(lol + wiki(wiki_page(1, "A", "&b;")))
    with pytest.raises(ReaderError, match=r"enwiki-1-pages-articles\.xml: refused XML construct \(EntitiesForbidden"):
        read_all("wikipedia", d)
    f.write_bytes(b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + wiki(wiki_page(1, "A", "&x;")))
    with pytest.raises(ReaderError, match="refused XML construct"):
        read_all("wikipedia", d)


def posts(*rows: str) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n"


def q(pid, title="Q", body="&lt;p&gt;body&lt;/p&gt;"):
    pid = f'Id="{pid}" ' if pid is not None else ""
    return f'  <row {pid}PostTypeId="1" Score="1" Title="{title}" Body="{body}" />'


def test_stackexchange_huge_row_is_too_large(tmp_path):
    d = dump(tmp_path, "stackexchange", "2024-04")
    (d / "a.stackexchange.com").mkdir()
    (d / "a.stackexchange.com" / "Posts.xml").write_text(posts(q(1), q(2, body="x" * (2 << 20)), q(3)))
    docs, skipped = read_all("stackexchange", d, SMALL)
    assert [x.origin.rsplit("#", 1)[1] for x in docs] == ["1", "3"]
    assert [(s.reason, s.origin) for s in skipped] == [("too_large", "2024-04/a.stackexchange.com/Posts.xml#line4")]


def tar_gz(path: Path, members: dict[str, bytes]):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue(), compresslevel=1))


def test_arxiv_archive_caps(tmp_path):
    d = dump(tmp_path, "arxiv", "2023-01")
    main = b"\\documentclass{article}\\begin{document}\n\\section{A}\nText.\n\\end{document}"
    tar_gz(d / "2301.00001.tar.gz", {"main.tex": main, "big.tex": b"%" * ((1 << 20) + 1)})  # member left out
    tar_gz(d / "2301.00002.tar.gz", {f"s{i}.tex": b"%" * (1 << 20) for i in range(4)})      # 4 MiB of .tex
    tar_gz(d / "2301.00003.tar.gz", {f"f{i}.png": b"x" for i in range(101)})                # 101 entries
    notes = {}
    stats, skipped = Stats(), []
    docs = list(read_source("arxiv", d, stats=stats, on_skip=skipped.append, notes=notes, limits=SMALL))
    assert [x.origin for x in docs] == ["2023-01/2301.00001.tar.gz"] and notes["tex_members_too_large"] == 1
    assert [(s.reason, s.origin) for s in skipped] == [("too_large", "2023-01/2301.00002.tar.gz"),
                                                       ("too_large", "2023-01/2301.00003.tar.gz")]
    assert "more than 100 entries" in skipped[1].detail and stats.balanced


def test_books_and_github_files_over_the_cap(tmp_path):
    d = dump(tmp_path, "books")
    (d / "big.txt").write_bytes(b"a" * ((1 << 20) + 1))
    (d / "ok.txt").write_text("fine")
    docs, skipped = read_all("books", d, SMALL)
    assert [x.text for x in docs] == ["fine"] and [s.reason for s in skipped] == ["too_large"]


BOMB_SCRIPT = """
import resource, sys
from pathlib import Path
from pipelines.base import Stats
from pipelines.readers import Limits, read_unit
src, f = sys.argv[1], Path(sys.argv[2])
import pipelines.readers.{mod}  # imports first: measure the reading, not the libraries
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
st = Stats()
try:
    n = sum(1 for _ in read_unit(src, f.parent, f, stats=st, limits=Limits(record_bytes=4 << 20)))
except Exception as e:
    n = type(e).__name__
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, dict(st.dropped), (peak - before) // 1024)
"""


def peak_growth_mb(source: str, path: Path) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", BOMB_SCRIPT.replace("{mod}", source), source, str(path)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    *head, growth = out.stdout.split()
    return " ".join(head), int(growth)


def test_bombs_stay_within_the_cap(tmp_path):
    """128 MiB of zeros behind a 4 MiB record cap: the reader's peak memory grows by about the cap."""
    c4 = dump(tmp_path, "c4", "en") / "c4-train.0.json.gz"
    gz_zeros(c4, 128)
    res, growth = peak_growth_mb("c4", c4)
    assert res == "0 {'too_large': 1}" and growth < 32, (res, growth)
    cc = dump(tmp_path, "commoncrawl", "x") / "x.warc.wet.gz"
    gz_zeros(cc, 128, prefix=wet(128 << 20))
    res, growth = peak_growth_mb("commoncrawl", cc)
    assert res == "0 {'too_large': 1}" and growth < 32, (res, growth)
    wk = dump(tmp_path, "wikipedia", "x") / "enwiki-1-pages-articles.xml.bz2"
    with bz2.open(wk, "wb") as fh:
        fh.write(b"<mediawiki><page><title>T</title><id>1</id><revision><text>")
        for _ in range(64):
            fh.write(b"a" * (1 << 20))
        fh.write(b"</text></revision></page></mediawiki>")
    res, growth = peak_growth_mb("wikipedia", wk)
    assert res == "0 {'too_large': 1}" and growth < 32, (res, growth)


# ------------------------------------------------------------------------------------------ empty
def test_empty_files_hold_no_record_and_are_noted(tmp_path):
    cases = {"c4": "c4-train.0.json.gz", "commoncrawl": "x.warc.gz", "books": "b.txt", "arxiv": "2301.1.tar.gz",
             "wikipedia": "enwiki-1-pages-articles.xml.bz2", "stackexchange": "a.stackexchange.com/Posts.xml"}
    for source, name in cases.items():
        d = dump(tmp_path, source)
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(b"")
        notes, stats = {}, Stats()
        with deadline(60):
            assert list(read_source(source, d, stats=stats, notes=notes)) == []
        assert stats.read == 0 and notes["empty_files"] == 1, source  # ingest: files_without_records
    d = dump(tmp_path, "github")
    (d / "empty__repo").mkdir()
    (d / "r__x").mkdir()
    (d / "r__x" / "empty.py").write_bytes(b"")  # a GitHub file is itself a record: a counted skip
    docs, skipped = read_all("github", d)
    assert docs == [] and [(s.reason, s.origin) for s in skipped] == [("empty_file", "d1/r__x/empty.py")]


GOOD_AND_EMPTY = {
    # source: (a good dump file, then the files of a dump that holds nothing)
    "c4": ({"c4-train.0.json": b'{"text": "good"}\n'},
           {"c4-train.1.json.gz": b"", "c4-train.2.json.gz": gzip.compress(b"")}),
    "commoncrawl": ({"a.wet": wet(4, b"good")}, {"a.warc.gz": b"", "b.warc.gz": gzip.compress(b"")}),
    "stackexchange": ({"a.stackexchange.com/Posts.xml": posts(q(1)).encode()},
                      {"a.stackexchange.com/Posts.xml": b"", "b.stackexchange.com/Posts.xml": posts().encode()}),
    # (ingest reads only permissive repositories: the good one has an MIT licence file, a document too)
    "github": ({"o__r/LICENSE": b"Permission is hereby granted, free of charge ... The above copyright notice",
                "o__r/a.py": b"print(1)\n"}, {"o__r/.keep/": None}),
}


@pytest.mark.parametrize("source", sorted(GOOD_AND_EMPTY))
def test_empty_dump_cannot_replace_a_good_partition(tmp_path, source):
    d = dump(tmp_path, source, "d1")
    out, dropped = tmp_path / "data" / "raw" / source / "d1", tmp_path / "data" / "dropped" / source / "d1"
    good, empty = GOOD_AND_EMPTY[source]

    def lay_out(files):
        shutil.rmtree(d)
        for name, data in files.items():
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            if data is not None:
                (d / name).write_bytes(data)

    lay_out(good)
    assert ingest_dump(LocalEngine(1), source, d, out, dropped)["documents"] == len(good)
    lay_out(empty)
    with pytest.raises(EmptyPartitionError, match=f"would replace {len(good)} documents"):
        ingest_dump(LocalEngine(1), source, d, out, dropped)
    s = ingest_dump(LocalEngine(1), source, d, out, dropped, allow_empty=True)
    assert s["documents"] == 0 and s["skipped"] == 0 and check_accounting(out)[0]
    assert s["files_without_records"] == sorted(n.rstrip("/").removesuffix("/.keep") for n in empty), s


# ---------------------------------------------------------------------------------- duplicate ids
def test_stackexchange_duplicate_missing_and_non_numeric_ids(tmp_path):
    d = dump(tmp_path, "stackexchange", "2024-04")
    (d / "a.stackexchange.com").mkdir()
    rows = [q(1, "first"), q(1, "again"), q(None, "no id"), q("x7", "bad id"), q(2, "second"),
            '  <row Id="3" PostTypeId="2" ParentId="1" Score="4" Body="answer" />']
    (d / "a.stackexchange.com" / "Posts.xml").write_text(posts(*rows))
    docs, skipped = read_all("stackexchange", d)
    assert [(x.title, x.origin) for x in docs] == [("first", "2024-04/a.stackexchange.com/Posts.xml#1"),
                                                   ("second", "2024-04/a.stackexchange.com/Posts.xml#2")]
    assert docs[0].text.endswith("answer")
    assert [(s.reason, s.origin, s.detail) for s in skipped] == [
        ("missing_id", "2024-04/a.stackexchange.com/Posts.xml#row3", "no Id attribute"),
        ("missing_id", "2024-04/a.stackexchange.com/Posts.xml#row4", "Id 'x7' is not a number"),
        ("duplicate_id", "2024-04/a.stackexchange.com/Posts.xml#row2", "Id 1 repeated (first row kept)")]
    ids = [x.id for x in docs] + [s.id for s in skipped]
    assert len(set(ids)) == len(ids) == len(rows) - 1  # the attached answer is part of its question


def test_wikipedia_duplicate_and_missing_ids(tmp_path):
    d = dump(tmp_path, "wikipedia", "20220701")
    pages = [wiki_page(5, "A", "Alpha."), wiki_page(5, "B", "Beta."), wiki_page(None, "C", "Gamma."),
             wiki_page("abc", "D", "Delta."), wiki_page(3, "E", "Epsilon."), wiki_page(3, "F", "Phi.")]
    (d / "enwiki-1-pages-articles.xml.bz2").write_bytes(bz2.compress(wiki(*pages)))
    docs, skipped = read_all("wikipedia", d)
    f = "20220701/enwiki-1-pages-articles.xml.bz2"
    assert [(x.title, x.origin) for x in docs] == [("A", f"{f}#5"), ("E", f"{f}#3")]
    assert [(s.reason, s.origin) for s in skipped] == [("duplicate_id", f"{f}#page2"), ("missing_id", f"{f}#page3"),
                                                       ("missing_id", f"{f}#page4"), ("duplicate_id", f"{f}#page6")]
    ids = [x.id for x in docs] + [s.id for s in skipped]
    assert len(set(ids)) == len(ids) == 6


def test_duplicate_ids_check_over_parquet(tmp_path):
    d = dump(tmp_path, "stackexchange", "2024-04")
    (d / "a.stackexchange.com").mkdir()
    (d / "a.stackexchange.com" / "Posts.xml").write_text(posts(q(1), q(1), q(None), q(2)))
    out, dropped = tmp_path / "raw", tmp_path / "dropped"
    ingest_dump(LocalEngine(1), "stackexchange", d, out, dropped)
    ok, info = duplicate_ids(partition_files(out, with_dropped=True))
    assert ok and info["rows"] == 4 and info["distinct"] == 4
    t = pa.table({"id": [doc_id("c4", "a"), doc_id("c4", "b"), doc_id("c4", "a")]})
    pq.write_table(t, tmp_path / "x.parquet")
    ok, info = duplicate_ids([tmp_path / "x.parquet", *partition_files(out)])
    assert not ok and info["repeated_ids"] == 1 and info["examples"] == [[doc_id("c4", "a"), 2]]


# --------------------------------------------------------------------------- StackExchange top sites
def test_stackexchange_keeps_the_largest_sites(tmp_path, monkeypatch):
    d = dump(tmp_path, "stackexchange", "2024-04")
    for i, site in enumerate(["small.stackexchange.com", "big.stackexchange.com", "mid.stackexchange.com"]):
        (d / site).mkdir()
        (d / site / "Posts.xml").write_text(posts(*[q(k, f"{site} {k}") for k in range(1, 2 + 3 * i)]))
    assert select_sites(d) == ["mid.stackexchange.com", "big.stackexchange.com", "small.stackexchange.com"]
    assert select_sites(d, 2) == ["mid.stackexchange.com", "big.stackexchange.com"]
    from pipelines import recipes
    monkeypatch.setattr(recipes, "STACKEXCHANGE_SITES", 2)
    monkeypatch.setitem(recipes.RECIPES, "stackexchange", (
        recipes.Step(recipes.RAW, "top_sites", {"sites": 2}), *recipes.RECIPES["stackexchange"][1:]))
    docs, skipped = read_all("stackexchange", d)
    assert {x.repo for x in docs} == {"mid.stackexchange.com", "big.stackexchange.com"}
    assert [(s.reason, s.origin) for s in skipped] == [("not_top_2_site", "2024-04/small.stackexchange.com/Posts.xml")]


def test_recipe_keeps_28_sites():
    from pipelines import recipes
    assert recipes.stackexchange_sites() == 28
    assert recipes.step("stackexchange", recipes.RAW, "top_sites").params["sites"] == 28
    assert json.dumps(recipes.as_dict("stackexchange"))  # shown in asset metadata as is


# ------------------------------------------------------------------------ hidden files, odd names (issue 26)
def test_hidden_files_and_folders_are_counted_skips(tmp_path):
    d = dump(tmp_path, "books", "gutenberg")
    (d / "pg1.txt").write_text("A real book.\n")
    (d / ".pg999.txt").write_text("a hidden copy\n")
    (d / ".cache").mkdir()
    (d / ".cache" / "note.txt").write_text("an editor's note\n")
    (d / ".in-progress").mkdir()
    (d / ".in-progress" / "pg84.txt").write_text("half a cop")
    docs, skipped = read_all("books", d)
    assert [x.origin for x in docs] == ["gutenberg/pg1.txt"]
    assert reasons(skipped) == [("hidden_file", "gutenberg/.cache"), ("hidden_file", "gutenberg/.in-progress"),
                                ("hidden_file", "gutenberg/.pg999.txt")]


def test_a_non_utf8_file_name_is_skipped_and_the_partition_committed(tmp_path):
    d = dump(tmp_path, "books", "gutenberg")
    (d / "pg1.txt").write_text("A real book.\n")
    bad = os.fsdecode(b"pg\xff\xfe.txt")                  # not UTF-8: a surrogate-escaped str in Python
    (d / bad).write_text("Another book.\n")
    out, dropped = tmp_path / "raw", tmp_path / "dropped"
    s = ingest_dump(LocalEngine(1), "books", d, out, dropped)
    assert s["documents"] == 1 and s["skipped_by_reason"] == {"undecodable_name": 1}
    rows = [r for f in sorted(dropped.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert [r["detail"] for r in rows if r["reason"] == "undecodable_name"] == [
        "file name is not UTF-8: pg\\xff\\xfe.txt"]
    assert json.loads((out / "_manifest.json").read_text())["files"]
