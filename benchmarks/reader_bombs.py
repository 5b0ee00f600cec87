"""Peak memory of the readers on decompression bombs and huge records (issue 13), default caps.

    python benchmarks/reader_bombs.py --mib 2048 --work /tmp/bombs

Writes one hostile dump file per case under --work (skipped when it exists), then reads each in a fresh
child process and prints what the reader did and its peak RSS (resource.getrusage, ru_maxrss) before
and after reading: the growth is what the bomb cost. Cases (N = --mib):
  c4           a .json.gz of N MiB of zeros (one "line" of N MiB, no newline)
  commoncrawl  a WET record whose body is N MiB of zeros (Content-Length N MiB)
  wikipedia    an .xml.bz2 page whose <text> is N MiB of 'a'
  stackexchange a Posts.xml row whose Body is N/8 MiB (a plain file: N/8 MiB on disk)
  arxiv        a .tar.gz of 100 members of 20 MB (2 GB of .tex)
  books        a book file that is a link to /dev/zero
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
from pathlib import Path
from pipelines.base import Stats
from pipelines.readers import read_unit
src, f = sys.argv[1], Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, st, res = time.time(), Stats(), ""
try:
    res = f"{sum(1 for _ in read_unit(src, f.parent, f, stats=st))} documents"
except Exception as e:
    res = f"{type(e).__name__}: {str(e)[-90:]}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{src:13s} {before / 1024:6.0f} {peak / 1024:6.0f} {(peak - before) / 1024:6.0f} {time.time() - t:6.1f}s  "
      f"{res}; skipped {dict(st.dropped)}")
"""


def make(work: Path, mib: int) -> list[tuple[str, Path]]:
    def d(source):
        p = work / source / "bomb"
        p.mkdir(parents=True, exist_ok=True)
        return p

    zeros = b"\0" * (1 << 20)
    cases = []
    f = d("c4") / "c4-train.bomb.json.gz"
    if not f.exists():
        with gzip.open(f, "wb", 9) as g:
            for _ in range(mib):
                g.write(zeros)
    cases.append(("c4", f))
    f = d("commoncrawl") / "bomb.warc.wet.gz"
    if not f.exists():
        with gzip.open(f, "wb", 9) as g:
            g.write(b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://x/\r\nWARC-Record-ID: <urn:uuid:1>"
                    b"\r\nContent-Length: %d\r\n\r\n" % (mib << 20))
            for _ in range(mib):
                g.write(zeros)
    cases.append(("commoncrawl", f))
    f = d("wikipedia") / "enwiki-bomb-pages-articles.xml.bz2"
    if not f.exists():
        with bz2.open(f, "wb") as g:
            g.write(b"<mediawiki><page><title>T</title><ns>0</ns><id>1</id><revision><text>")
            for _ in range(mib):
                g.write(b"a" * (1 << 20))
            g.write(b"</text></revision></page></mediawiki>")
    cases.append(("wikipedia", f))
    f = d("stackexchange") / "big.stackexchange.com" / "Posts.xml"
    if not f.exists():
        f.parent.mkdir(exist_ok=True)
        with open(f, "wb") as g:
            g.write(b'<posts>\n  <row Id="1" PostTypeId="1" Title="t" Body="')
            for _ in range(max(1, mib // 8)):
                g.write(b"x" * (1 << 20))
            g.write(b'" />\n  <row Id="2" PostTypeId="1" Title="ok" Body="fine" />\n</posts>\n')
    cases.append(("stackexchange", f))
    f = d("arxiv") / "2301.99999.tar.gz"
    if not f.exists():
        with gzip.open(f, "wb", 9) as g, tarfile.open(fileobj=g, mode="w|") as tf:
            for i in range(100):
                info = tarfile.TarInfo(f"s{i}.tex")
                info.size = 20_000_000
                tf.addfile(info, io.BytesIO(b"%" * info.size))
    cases.append(("arxiv", f))
    f = d("books") / "zero.txt"
    if not f.is_symlink():
        os.symlink("/dev/zero", f)
    cases.append(("books", f))
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=2048, help="size of the bombs (decompressed MiB)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/reader-bombs"))
    args = ap.parse_args()
    cases = make(args.work, args.mib)
    print(f"{'source':13s} {'RSS MB':>6s} {'peak':>6s} {'growth':>6s} {'time':>7s}  result")
    for source, f in cases:
        subprocess.run([sys.executable, "-c", CHILD, source, str(f)], cwd=ROOT, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})


if __name__ == "__main__":
    main()
