"""Deterministic generator of sample dumps in native formats, with planted cases and their ground truth.

    python -m pipelines.samples.generate                 # rewrite the generated part of the bundled samples
    llama-pipeline make-samples --docs 100000 --out DIR  # a larger set for benchmarks (generated only)

It writes, per source, the same formats the real dumps use (WARC/WET gzip, C4 json.gz, repository trees,
MediaWiki XML .bz2, Gutenberg .txt, arXiv .tar.gz, StackExchange Posts.xml) and plants known cases:
exact duplicates, near duplicates at a measured Jaccard similarity (sets of word 5-grams of the
lowercased, whitespace-split text), documents in other languages, low-quality pages, GitHub files that
fail the SPEC §1 heuristics, repositories without a permissive licence, books overlapping >90%,
Wikipedia dumps in languages outside the 20, and CommonCrawl pages at URLs that Wikipedia cites
(reference-style pages: at URLs the bundled real enwiki sample cites, and at generated URLs the
generated articles cite, spelled differently so that the URL normalization is exercised). `<out>/ground_truth.json` lists them by document id
(`pipelines.document.doc_id(source, origin)`, the origins the readers produce); docs/data.md gives the
schema. Only the standard library and numpy are used; same seed and plan => byte-identical files
(gzip mtime 0, fixed tar metadata, no dict/set order dependence).
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import base64
import html
import io
import json
import random
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pipelines.document import doc_id
from pipelines.samples import text as T

ISO3 = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
        "pl": "pol", "ru": "rus", "sv": "swe", "ja": "jpn"}
CC_FOREIGN = ["fr", "de", "es", "it", "pt", "nl", "pl", "ru"]
LOW_QUALITY_REASONS = ["boilerplate", "spam", "javascript", "lorem_ipsum", "too_short"]
NEAR_TARGETS = [0.5, 0.65, 0.8, 0.83, 0.85, 0.88, 0.9, 0.92, 0.95, 0.9]  # 8 in 10 at >= 0.8

# Real files shipped next to the generated ones (see bundled/ATTRIBUTION.md). Their ground truth is
# fixed here rather than computed, so that generating into an empty folder gives the same manifest.
# The dump (folder under <source>/) each generated source is written to; CommonCrawl uses the snapshots.
DUMPS = {"c4": "en", "wikipedia": "20220701", "github": "2023-03", "books": "gutenberg", "arxiv": "2023-01",
         "stackexchange": "2024-04"}

REAL_BOOK_PAIR = {"a": doc_id("books", "gutenberg/pg11.txt"), "b": doc_id("books", "gutenberg/carroll-alice.txt"),
                  "overlap": 0.9984, "jaccard": 0.996}
REAL_NONPERMISSIVE = ["jarun/googler"]
# https://allenai.org/ was captured three times in the dolma WARC sample: the same page text each time.
REAL_EXACT = [[doc_id("commoncrawl", f"wget-2024-04/sample-0001.warc.gz#{off}"),
               doc_id("commoncrawl", "wget-2024-04/sample-0001.warc.gz#164415")] for off in (311476, 744008)]


# --------------------------------------------------------------------------------------------- plan
@dataclass
class Plan:
    """How many of everything to write. `bundled()` is the shipped set; `scaled(n)` is make-samples."""

    snapshots: list[str]
    wet_docs: int              # per snapshot
    warc_docs: int             # per snapshot
    c4_docs: int
    records_per_file: int
    exact_frac: float          # of WET / c4 documents that are exact copies of an earlier one
    near_frac: float           # ... near copies (one pair per near copy)
    foreign_frac: float
    low_quality_frac: float
    paragraphs: tuple[int, int]
    wiki_pages: dict           # dump language -> article count
    github_repos: int          # generated permissive repos (plus one without a licence)
    github_files: int          # per repo, besides the planted bad ones
    books: int                 # unrelated generated books, besides the overlapping pair
    book_paragraphs: int
    papers: int
    se_questions: int
    reference_frac: float = 0.25  # of plain English WET pages written as reference-style pages
    cited_frac: float = 0.5       # ... of which Wikipedia cites this share
    real_cited: int = 0           # of those, planted at URLs the bundled real enwiki sample cites
    with_real: bool = False    # the bundled set ships real files too: list their known cases

    @staticmethod
    def bundled() -> "Plan":
        return Plan(snapshots=["CC-MAIN-2023-50", "CC-MAIN-2024-10"], wet_docs=70, warc_docs=24, c4_docs=200,
                    records_per_file=10_000, exact_frac=0.06, near_frac=0.07, foreign_frac=0.06,
                    low_quality_frac=0.08, paragraphs=(2, 6),
                    wiki_pages={"en": 30, "de": 4, "fr": 4, "ru": 4, "ja": 3}, github_repos=3, github_files=6,
                    books=1, book_paragraphs=120, papers=2, se_questions=14, reference_frac=0.5, cited_frac=0.7,
                    real_cited=12, with_real=True)

    @staticmethod
    def scaled(docs: int) -> "Plan":
        """About `docs` documents, most of them in CommonCrawl WET/WARC and C4."""
        n = max(docs, 100)
        snaps = ["CC-MAIN-2017-43", "CC-MAIN-2018-34", "CC-MAIN-2019-30", "CC-MAIN-2020-05", "CC-MAIN-2020-10"]
        k = 3 if n < 50_000 else 5
        return Plan(snapshots=snaps[:k], wet_docs=int(0.45 * n / k), warc_docs=int(0.15 * n / k),
                    c4_docs=int(0.27 * n), records_per_file=5_000, exact_frac=0.03, near_frac=0.02,
                    foreign_frac=0.03, low_quality_frac=0.05, paragraphs=(3, 9),
                    wiki_pages={"en": int(0.04 * n), "de": max(2, int(0.004 * n)), "fr": max(2, int(0.004 * n)),
                                "ru": max(2, int(0.002 * n)), "ja": max(2, int(0.001 * n))},
                    github_repos=max(2, int(0.05 * n / 20)), github_files=20, books=max(1, n // 4000),
                    book_paragraphs=160, papers=max(2, n // 400), se_questions=max(5, int(0.02 * n)))


@dataclass
class Truth:
    exact_duplicates: list = field(default_factory=list)
    near_duplicates: list = field(default_factory=list)
    languages: dict = field(default_factory=dict)
    low_quality: dict = field(default_factory=dict)
    github_bad: dict = field(default_factory=dict)
    github_nonpermissive_repos: list = field(default_factory=list)
    book_overlap: list = field(default_factory=list)
    wiki_other_language: list = field(default_factory=list)
    reference_pages: list = field(default_factory=list)    # CC ids of reference-style pages (cited or not)
    cited_pages: dict = field(default_factory=dict)        # CC id -> the URL Wikipedia cites it by
    urls_to_cite: list = field(default_factory=list, repr=False)  # for the generated wiki pages; not written

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "urls_to_cite"}


# ----------------------------------------------------------------------------------- text helpers
def shingles(text: str, n: int = 5) -> set:
    w = text.lower().split()
    return {" ".join(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def overlap(a: str, b: str) -> float:
    """Share of the smaller document's 5-grams found in the other one."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / min(len(sa), len(sb))


def near_copy(text: str, target: float, rng: random.Random) -> tuple[str, float]:
    """A copy of `text` with words replaced until its Jaccard to `text` is as close to `target` as possible."""
    parts = re.split(r"(\s+)", text)
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    order = rng.sample(words, len(words))
    repl = {i: T.word(rng) for i in order}

    def make(k: int) -> str:
        p = list(parts)
        for i in order[:k]:
            p[i] = repl[i] if repl[i] != p[i].lower() else repl[i] + "s"
        return "".join(p)

    lo, hi = 1, len(order)
    while lo < hi:  # smallest k with jaccard <= target (jaccard falls as k grows)
        mid = (lo + hi) // 2
        if jaccard(text, make(mid)) <= target:
            hi = mid
        else:
            lo = mid + 1
    best = min((max(lo - 1, 1), lo), key=lambda k: abs(jaccard(text, make(k)) - target))
    out = make(best)
    return out, round(jaccard(text, out), 4)


def low_quality(reason: str, rng: random.Random) -> str:
    tag = f"{rng.choice(T.NAMES)} {rng.randrange(10_000)}"  # keeps planted pages distinct from each other
    if reason == "boilerplate":
        lines = rng.sample(T.BOILERPLATE, 14) + [T.sentence(rng)] + rng.sample(T.BOILERPLATE, 6)
        return "\n".join(lines) + f"\nPage {tag}"
    if reason == "spam":
        return "\n".join(" ".join(rng.choice(T.SPAM_WORDS) for _ in range(12)) + "!!!" for _ in range(8)) + f" {tag}"
    if reason == "javascript":
        # Script lines with their own identifiers, so two planted pages are not near duplicates.
        lines = [rng.choice(T.JAVASCRIPT).replace("init", f"init_{rng.choice(T.NOUNS)}{rng.randrange(999)}")
                 .replace("menu", f"{rng.choice(T.NOUNS)}-{rng.randrange(999)}") for _ in range(10)]
        return "\n".join(lines) + f"\n// {tag}"
    if reason == "lorem_ipsum":
        latin = T.LOREM.lower().replace(",", "").replace(".", "").split()
        words = [rng.choice(latin) for _ in range(rng.randrange(60, 120))]
        return "Lorem ipsum dolor sit amet, " + " ".join(words) + f". {tag}"
    return f"{T.title(rng)} {tag}."  # too_short


# The kind of page an article cites: records, figures, dates and sources, around ordinary prose.
REFERENCE_SENTENCES = [
    "Table {d} lists the {n} records of {p} published by the {n} office in {y}.",
    "The {y} survey counted {d} {n}s in the {a} district of {p}.",
    "Data for this report were collected by {w} between {y} and {y}.",
    "See the {y} edition of the {n} register, pages {d} to {d}, for the full figures.",
    "Source: {p} {n} archive, annual report {y}, section {d}.",
    "The census of {y} recorded {d} residents and {d} registered {n}s in {p}.",
    "Figures are given in thousands and were revised in {y} by the {n} committee.",
    "Retrieved from the {p} {n} database, record {d}, last updated {y}.",
    "Volume {d}, issue {d} of the {a} {n} journal summarizes the {y} data.",
]


def reference_sentence(rng: random.Random) -> str:
    return re.sub(r"\{([a-z])\}", lambda m: {
        "d": str(rng.randrange(2, 900)), "y": str(rng.randrange(1890, 2023)), "n": rng.choice(T.NOUNS),
        "a": rng.choice(T.ADJECTIVES), "p": rng.choice(T.PLACES), "w": rng.choice(T.NAMES)}[m.group(1)],
        rng.choice(REFERENCE_SENTENCES))


def reference_text(rng: random.Random, paragraphs: tuple[int, int]) -> str:
    """A reference-style page: ordinary paragraphs, each led by two record-and-figure sentences.
    (Generated English articles carry one such sentence, so the Wikipedia LM knows the words: measured
    with the 5-gram KenLM, about 3 in 4 of these pages and half of the plain pages fall below the
    second cut-off.)"""
    paras = T.english(rng, rng.randrange(*paragraphs)).split("\n\n")
    return "\n\n".join(f"{reference_sentence(rng)} {reference_sentence(rng)} {p}" for p in paras)


def cite_variant(url: str, rng: random.Random) -> str:
    """The same page as an article may spell it: scheme, www., trailing slash, tracking parameters, fragment."""
    k = rng.randrange(5)
    if k == 1:
        return url.replace("https://", "http://www.", 1)
    if k == 2:
        return url + "/?utm_source=wikipedia&utm_medium=referral"
    if k == 3:
        return url + "#section-" + str(rng.randrange(9))
    if k == 4:
        scheme, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        return f"{scheme.upper()}://{host.upper()}/{path}/"
    return url


def real_cited_urls() -> list[str]:
    """URLs the real enwiki sample shipped with the bundled samples cites, in order (read from the
    package, so that generating into an empty folder gives the same files)."""
    from pipelines.quality.references import cited_urls, normalize
    from pipelines.samples import bundled_dumps_dir

    files = sorted((bundled_dumps_dir() / "wikipedia").glob("*/enwiki-latest-*.bz2"))
    if not files:
        return []
    urls: dict[str, None] = {}
    for m in re.finditer(r"<text[^>]*>(.*?)</text>", bz2.decompress(files[0].read_bytes()).decode(), re.S):
        for u in cited_urls(html.unescape(m.group(1))):
            n = normalize(u)
            if n and "wikipedia.org" not in n and "wikimedia.org" not in n:
                urls.setdefault(u, None)
    return list(urls)


# -------------------------------------------------------------------------------------------- WARC
def _uuid(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>"


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


class WarcFile:
    """Records appended one gzip member each (as Common Crawl writes them); origins use the offset of
    a record in the decompressed stream, which is what the reader reports."""

    def __init__(self, path: Path, dump_dir: Path, source: str, rng: random.Random, date: str):
        self.path, self.rel = path, path.relative_to(dump_dir).as_posix()
        self.source, self.rng, self.date = source, rng, date
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "wb")
        self.offset = 0
        self.count = 0

    def _record(self, headers: list[tuple[str, str]], block: bytes) -> int:
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        head += f"Content-Length: {len(block)}\r\n\r\n"
        data = head.encode() + block + b"\r\n\r\n"
        start = self.offset
        self.fh.write(gzip.compress(data, compresslevel=6, mtime=0))
        self.offset += len(data)
        return start

    def warcinfo(self, snapshot: str, kind: str) -> None:
        body = (f"software: llama-pipeline sample generator\r\nformat: WARC File Format 1.0\r\n"
                f"isPartOf: {snapshot}\r\ndescription: generated {kind} sample\r\n").encode()
        self._record([("WARC-Type", "warcinfo"), ("WARC-Date", self.date),
                      ("WARC-Filename", self.path.name), ("WARC-Record-ID", _uuid(self.rng)),
                      ("Content-Type", "application/warc-fields")], body)

    def conversion(self, url: str, text: str, lang: str) -> str:
        body = text.encode()
        off = self._record([("WARC-Type", "conversion"), ("WARC-Target-URI", url), ("WARC-Date", self.date),
                            ("WARC-Record-ID", _uuid(self.rng)), ("WARC-Refers-To", _uuid(self.rng)),
                            ("WARC-Block-Digest", _sha1_b32(body)),
                            ("WARC-Identified-Content-Language", ISO3.get(lang, lang)),
                            ("Content-Type", "text/plain")], body)
        self.count += 1
        return doc_id(self.source, f"{self.rel}#{off}")

    def response(self, url: str, payload: bytes, content_type: str = "text/html; charset=UTF-8",
                 status: str = "200 OK") -> str:
        http = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
                f"Server: nginx\r\n\r\n").encode() + payload
        off = self._record([("WARC-Type", "response"), ("WARC-Target-URI", url), ("WARC-Date", self.date),
                            ("WARC-Record-ID", _uuid(self.rng)), ("WARC-Block-Digest", _sha1_b32(http)),
                            ("Content-Type", "application/http; msgtype=response")], http)
        self.count += 1
        return doc_id(self.source, f"{self.rel}#{off}")

    def close(self) -> None:
        self.fh.close()


def html_page(title: str, body: str, lang: str, rng: random.Random) -> bytes:
    """A page with navigation, a cookie banner and a footer around the article (the extractor's job)."""
    nav = "".join(f'<li><a href="/{w.lower().replace(" ", "-")}">{escape(w)}</a></li>'
                  for w in rng.sample(T.BOILERPLATE[:12], 6))
    paras = "".join(f"<p>{escape(p)}</p>\n" for p in body.split("\n\n"))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<script>var _gaq = _gaq || []; _gaq.push(["_trackPageview"]);</script></head>\n<body>\n'
            f'<header><nav><ul>{nav}</ul></nav></header>\n<main><article><h1>{escape(title)}</h1>\n{paras}'
            f'</article></main>\n<aside class="cookie-banner">We use cookies. By continuing to browse you agree '
            f'to our use of cookies.</aside>\n<footer><p>Copyright © 2024 All rights reserved.</p>'
            f'<a href="/privacy">Privacy Policy</a></footer>\n</body></html>\n').encode()


# ------------------------------------------------------------------------------------ web sources
class WebPlanter:
    """Chooses, document by document, what to write to a WET-like stream (CC WET or C4) and records truth."""

    def __init__(self, plan: Plan, rng: random.Random, truth: Truth, references: bool = False):
        self.plan, self.rng, self.truth, self.references = plan, rng, truth, references
        self.pool: list[tuple[str, str]] = []  # (id, text) of plain English documents, copy candidates

    def next_text(self) -> tuple[str, str, dict]:
        """(text, lang, plan) where plan says what to record once the id is known."""
        r, p = self.rng.random(), self.plan
        if r < p.exact_frac and self.pool:
            src_id, text = self.pool.pop(self.rng.randrange(len(self.pool)))
            return text, "en", {"exact": src_id}
        r -= p.exact_frac
        if r < p.near_frac and self.pool:
            src_id, text = self.pool.pop(self.rng.randrange(len(self.pool)))
            target = self.rng.choice(NEAR_TARGETS)
            copy, j = near_copy(text, target, self.rng)
            return copy, "en", {"near": (src_id, j)}
        r -= p.near_frac
        if r < p.foreign_frac:
            lang = self.rng.choice(CC_FOREIGN)
            return T.foreign(lang, self.rng, self.rng.randrange(1, 4), 4), lang, {"lang": lang}
        r -= p.foreign_frac
        if r < p.low_quality_frac:
            reason = self.rng.choice(LOW_QUALITY_REASONS)
            return low_quality(reason, self.rng), "en", {"low": reason}
        if self.references and self.rng.random() < p.reference_frac:
            return reference_text(self.rng, p.paragraphs), "en", {"reference": self.rng.random() < p.cited_frac}
        text = T.english(self.rng, self.rng.randrange(*p.paragraphs))
        return text, "en", {"pool": True}

    def record(self, did: str, text: str, what: dict) -> None:
        if "exact" in what:
            self.truth.exact_duplicates.append([did, what["exact"]])
        elif "near" in what:
            self.truth.near_duplicates.append({"a": what["near"][0], "b": did, "jaccard": what["near"][1]})
        elif "lang" in what:
            self.truth.languages[did] = what["lang"]
        elif "low" in what:
            self.truth.low_quality[did] = what["low"]
        elif "reference" in what:
            self.truth.reference_pages.append(did)
        elif len(self.pool) < 2000:
            self.pool.append((did, text))
        else:
            self.pool[self.rng.randrange(len(self.pool))] = (did, text)


def _url(rng: random.Random, i: int) -> str:
    host = f"{rng.choice(T.ADJECTIVES)}-{rng.choice(T.NOUNS)}.example.{rng.choice(['com', 'org', 'net'])}"
    return f"https://{host}/{rng.choice(T.NOUNS)}/{i}"


def write_commoncrawl(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "commoncrawl"
    if plan.with_real:
        truth.exact_duplicates.extend(REAL_EXACT)
    real = real_cited_urls() if plan.with_real and plan.real_cited else []
    real = rng.sample(real, min(plan.real_cited, len(real)))
    n = 0
    for s, snap in enumerate(plan.snapshots):
        # Copies are planted within a snapshot: CommonCrawl is deduplicated per dump (CCNet).
        planter = WebPlanter(plan, rng, truth, references=True)
        html_pool: list[tuple[str, bytes]] = []
        year = int(snap.split("-")[2])
        date = f"{year}-{(s % 12) + 1:02d}-15T08:30:00Z"
        for f in range(0, max(plan.wet_docs, 1), plan.records_per_file):
            wet = WarcFile(root / snap / f"gen-{f // plan.records_per_file:05d}.warc.wet.gz", root,
                           "commoncrawl", rng, date)
            wet.warcinfo(snap, "WET")
            for _ in range(min(plan.records_per_file, plan.wet_docs - f)):
                text, lang, what = planter.next_text()
                n += 1
                url = _url(rng, n)
                if what.get("reference"):  # a cited page: at a URL the real dump cites, else one ours will
                    if real:
                        url = real.pop()
                    else:
                        truth.urls_to_cite.append(cite_variant(url, rng))
                did = wet.conversion(url, text, lang)
                planter.record(did, text, what)
                if what.get("reference"):
                    truth.cited_pages[did] = url
            wet.close()
        for f in range(0, max(plan.warc_docs, 1), plan.records_per_file):
            warc = WarcFile(root / snap / f"gen-{f // plan.records_per_file:05d}.warc.gz", root,
                            "commoncrawl", rng, date)
            warc.warcinfo(snap, "WARC")
            count = min(plan.records_per_file, plan.warc_docs - f)
            for i in range(count):
                n += 1
                r = rng.random()
                if i == 1:  # one 404 and one image per file: counted skips of the reader
                    warc.response(_url(rng, n), b"<html><body>Not found</body></html>", status="404 Not Found")
                    continue
                if i == 2:
                    warc.response(_url(rng, n) + ".png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(64), "image/png")
                    continue
                if r < plan.exact_frac * 2 and html_pool:
                    src_id, page = html_pool.pop(rng.randrange(len(html_pool)))
                    did = warc.response(_url(rng, n), page)
                    truth.exact_duplicates.append([did, src_id])
                elif r < plan.exact_frac * 2 + plan.foreign_frac:
                    lang = rng.choice(CC_FOREIGN)
                    page = html_page(T.title(rng), T.foreign(lang, rng, 3, 4), lang, rng)
                    truth.languages[warc.response(_url(rng, n), page)] = lang
                else:
                    page = html_page(T.title(rng), T.english(rng, rng.randrange(*plan.paragraphs)), "en", rng)
                    did = warc.response(_url(rng, n), page)
                    if len(html_pool) < 500:
                        html_pool.append((did, page))
            warc.close()


def write_c4(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "c4" / DUMPS["c4"]
    root.mkdir(parents=True, exist_ok=True)
    planter = WebPlanter(plan, rng, truth)
    for f in range(0, plan.c4_docs, plan.records_per_file):
        name = f"c4-train.{1 + f // plan.records_per_file:05d}-of-01024.json.gz"
        with open(root / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            for line in range(1, min(plan.records_per_file, plan.c4_docs - f) + 1):
                text, lang, what = planter.next_text()
                rec = {"text": text, "timestamp": f"2019-04-{1 + line % 28:02d}T{line % 24:02d}:10:00Z",
                       "url": _url(rng, f + line)}
                gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode())
                planter.record(doc_id("c4", f"{DUMPS['c4']}/{name}#{line}"), text, what)


# ----------------------------------------------------------------------------------------- wiki
WIKI_HEADINGS = {"en": ("History", "Geography"), "de": ("Geschichte", "Geographie"), "fr": ("Histoire", "Géographie"),
                 "ru": ("История", "География"), "ja": ("歴史", "地理")}
WIKI_WORDS = {  # localized namespace words: category, file, redirect, talk
    "en": ("Category", "File", "#REDIRECT", "Talk"), "de": ("Kategorie", "Datei", "#WEITERLEITUNG", "Diskussion"),
    "fr": ("Catégorie", "Fichier", "#REDIRECTION", "Discussion"), "ru": ("Категория", "Файл", "#ПЕРЕНАПРАВЛЕНИЕ", "Обсуждение"),
    "ja": ("Category", "ファイル", "#転送", "ノート"),
}


def wikitext(lang: str, title: str, rng: random.Random, cites: list[str] = ()) -> str:
    """A generated article; it cites `cites` (the first in a <ref>, the rest as external links), or an
    uncrawled example.org page when there are none."""
    cat, file_, _, _ = WIKI_WORDS[lang]
    body = T.english(rng, 3) if lang == "en" else T.foreign(lang, rng, 3, 3)
    paras = body.split("\n\n")
    if lang == "en":  # an article states a record or a figure, as the pages it cites do
        paras[0] = f"{reference_sentence(rng)} {paras[0]}"
    words = paras[0].split(" ")
    if len(words) > 6:  # a piped link and a plain link inside the prose
        words[3] = f"[[{words[3].strip('.,')}|{words[3]}]]"
        words[5] = f"[[{words[5]}]]"
    first = " ".join(words)
    ref_url = cites[0] if cites else f"https://example.org/{rng.randrange(999)}"
    links = "".join(f"* [{u} {T.title(rng)}]\n" for u in cites[1:])
    links = f"\n== Weblinks ==\n{links}" if links else ""
    return (f"{{{{Infobox Ort\n| Name = {title}\n| Einwohner = {rng.randrange(1000, 90000)}\n}}}}\n"
            f"'''{title}''' {first}<ref>{{{{cite web|url={ref_url}|title=Quelle}}}}</ref>\n\n"
            f"[[{file_}:Example {rng.randrange(99)}.jpg|thumb|{title}]]\n"
            f"== {WIKI_HEADINGS[lang][0]} ==\n{paras[1]} <!-- a hidden editor comment -->\n\n"
            f"{{| class=\"wikitable\"\n|-\n! A !! B\n|-\n| {rng.randrange(99)} || {rng.randrange(99)}\n|}}\n\n"
            f"=== ''{WIKI_HEADINGS[lang][1]}'' ===\n{paras[2]}\n{links}\n[[{cat}:{title}]]\n")


def write_wikipedia(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "wikipedia" / DUMPS["wikipedia"]
    root.mkdir(parents=True, exist_ok=True)
    # The generated articles in the 20 languages share the URLs of the cited CC pages between them.
    citing = sum(n for lang, n in plan.wiki_pages.items() if lang != "ja")
    urls, k = truth.urls_to_cite, 0
    for lang in sorted(plan.wiki_pages):
        cat, _, redirect, talk = WIKI_WORDS[lang]
        files: dict[str, list] = {}
        pid = 100
        for i in range(plan.wiki_pages[lang]):
            # Large dumps come in several files, as Wikimedia splits them (records_per_file pages each).
            part = i // plan.records_per_file
            name = f"{lang}wiki-20220701-pages-articles{part + 1 if part else ''}-sample.xml.bz2"
            pages = files.setdefault(name, [])
            pid += 1
            title = f"{rng.choice(T.PLACES)} {i + 1}"
            cites = urls[k::citing] if lang != "ja" else []
            k += lang != "ja"
            pages.append((pid, 0, title, wikitext(lang, title, rng, cites), None))
            if lang != "en":
                truth.languages[doc_id("wikipedia", f"{DUMPS['wikipedia']}/{name}#{pid}")] = lang
            if lang == "ja":
                truth.wiki_other_language.append(doc_id("wikipedia", f"{DUMPS['wikipedia']}/{name}#{pid}"))
            if i == 0:  # a redirect and a talk page, which the reader skips with a reason
                pid += 1
                pages.append((pid, 0, title + " (alt)", f"{redirect} [[{title}]]", title))
                pid += 1
                pages.append((pid, 1, f"{talk}:{title}", T.foreign(lang, rng, 1, 2) if lang != "en"
                              else T.english(rng, 1), None))
        for name, pages in files.items():
            _write_wiki_file(root / name, lang, pages)


def _write_wiki_file(path: Path, lang: str, pages: list) -> None:
    cat, _, _, talk = WIKI_WORDS[lang]
    xml = [f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="{lang}">\n'
           f"  <siteinfo>\n    <sitename>Wikipedia</sitename>\n    <dbname>{lang}wiki</dbname>\n"
           f"    <base>https://{lang}.wikipedia.org/wiki/</base>\n    <generator>MediaWiki 1.39.0-wmf.18</generator>\n"
           f'    <case>first-letter</case>\n    <namespaces>\n      <namespace key="0" case="first-letter" />\n'
           f'      <namespace key="1" case="first-letter">{talk}</namespace>\n'
           f'      <namespace key="14" case="first-letter">{cat}</namespace>\n    </namespaces>\n  </siteinfo>\n']
    for pid, ns, title, text, target in pages:
        red = f"    <redirect title={quoteattr(target)} />\n" if target else ""
        body = text.encode()
        xml.append(f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{pid}</id>\n{red}"
                   f"    <revision>\n      <id>{pid * 10}</id>\n      <timestamp>2022-06-{1 + pid % 28:02d}T12:00:00Z</timestamp>\n"
                   f"      <contributor>\n        <username>SampleBot</username>\n        <id>1</id>\n      </contributor>\n"
                   f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
                   f'      <text bytes="{len(body)}" xml:space="preserve">{escape(text)}</text>\n'
                   f"      <sha1>{hashlib.sha1(body).hexdigest()}</sha1>\n    </revision>\n  </page>\n")
    xml.append("</mediawiki>\n")
    path.write_bytes(bz2.compress("".join(xml).encode(), 9))


# --------------------------------------------------------------------------------------- github
MIT = """MIT License

Copyright (c) {year} {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
BSD3 = """BSD 3-Clause License

Copyright (c) {year}, {holder}
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""
APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   Copyright {year} {holder}

   Licensed under the Apache License, Version 2.0 (the "License");
   you may not use this file except in compliance with the License.
   You may obtain a copy of the License at

       http://www.apache.org/licenses/LICENSE-2.0

   Unless required by applicable law or agreed to in writing, software
   distributed under the License is distributed on an "AS IS" BASIS,
   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
   See the License for the specific language governing permissions and
   limitations under the License.
"""
LICENSE_TEXTS = [("mit", MIT), ("bsd", BSD3), ("apache", APACHE)]


def python_file(rng: random.Random, functions: int) -> str:
    out = [f'"""{T.sentence(rng)}"""', "from __future__ import annotations", "", "import math", ""]
    for _ in range(functions):
        a, b = rng.choice(T.ADJECTIVES), rng.choice(T.NOUNS)
        limit = rng.randrange(2, 100)
        out += ["", f"def {a}_{b}_{rng.randrange(1000)}(values, limit={limit}):",
                f'    """Return the {a} {b} of the given values (items above {limit} count twice)."""',
                "    total = 0", "    for item in values:", "        if item > limit:",
                f"            total += item * {rng.randrange(2, 9)}", "        else:",
                "            total += math.sqrt(abs(item))", "    return total", ""]
    return "\n".join(out) + "\n"


def js_file(rng: random.Random, functions: int) -> str:
    out = ["'use strict';", ""]
    for _ in range(functions):
        name = f"{rng.choice(T.ADJECTIVES)}{rng.choice(T.NOUNS).title()}{rng.randrange(100)}"
        out += [f"// {T.sentence(rng)}", f"function {name}(items, limit = {rng.randrange(2, 50)}) {{",
                "  return items.filter((x) => x > limit).map((x) => x * 2);", "}", "",
                f"module.exports.{name} = {name};", ""]
    return "\n".join(out)


def bad_files(rng: random.Random) -> list[tuple[str, str, str]]:
    """(path, text, reason) of files failing one SPEC §1 GitHub heuristic each."""
    long_line = ("DATA = [" + ", ".join(str(rng.randrange(10**6)) for _ in range(300)) + "]\n\n"
                 + "".join(f"ROW_{i} = DATA[{i}] * {rng.randrange(2, 9)}\n" for i in range(60)))  # short lines
    wide = "\n".join(f"# {T.sentence(rng)} {T.sentence(rng)} {T.sentence(rng)}"[:160].ljust(150, ".")
                     for _ in range(20)) + "\n"
    art = "\n".join(("+-" * rng.randrange(10, 30)) + "+  |  " + ("=~" * 10) + " ]]" for _ in range(30)) + "\n"
    return [("tables/table.py", long_line, "max_line_length"), ("docs/notes.txt", wide, "mean_line_length"),
            ("art/banner.txt", art, "alnum_fraction")]


def write_github(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "github" / DUMPS["github"]
    holders = rng.sample(T.NAMES, len(T.NAMES))

    def put(repo_dir: Path, rel: str, data: bytes) -> str:
        p = repo_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return doc_id("github", f"{DUMPS['github']}/{repo_dir.name}/{rel}")

    first_run = None
    for r in range(plan.github_repos + 1):
        kind, lic = LICENSE_TEXTS[r % 3] if r < plan.github_repos else ("nolicense", None)
        repo = f"sample-{kind}__{rng.choice(T.ADJECTIVES)}-{rng.choice(T.NOUNS)}-{r}"
        d = root / repo
        if lic:
            put(d, "LICENSE", lic.format(year=2015 + r % 9, holder=f"{holders[r % len(holders)]} {r}").encode())
        else:
            truth.github_nonpermissive_repos.append(repo.replace("__", "/", 1))
        put(d, "README.md", f"# {repo.split('__')[1]}\n\n{T.english(rng, 2)}\n".encode())
        for f in range(plan.github_files):
            if f % 3 == 2:
                put(d, f"src/{rng.choice(T.NOUNS)}_{f}.js", js_file(rng, rng.randrange(2, 6)).encode())
            else:
                put(d, f"src/{rng.choice(T.NOUNS)}_{f}.py", python_file(rng, rng.randrange(2, 6)).encode())
        run_id = put(d, "bin/run", b"#!/usr/bin/env bash\nset -euo pipefail\npython -m src \"$@\"\n")
        if first_run is None:
            first_run = run_id
        else:  # the same launcher script in every repository: exact file-level duplicates
            truth.exact_duplicates.append([run_id, first_run])
        put(d, "assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(48))  # reader: binary
        put(d, "src/__init__.py", b"")  # reader: empty_file
        for rel, text, reason in bad_files(rng):
            truth.github_bad[put(d, rel, text.encode())] = reason
    if plan.with_real:
        truth.github_nonpermissive_repos[:0] = REAL_NONPERMISSIVE


# ---------------------------------------------------------------------------------------- books
PG_NEW = ("The Project Gutenberg eBook of {title}\n\nThis ebook is for the use of anyone anywhere in the United States "
          "and\nmost other parts of the world at no cost and with almost no restrictions\nwhatsoever.\n\n"
          "Title: {title}\n\nAuthor: {author}\n\nRelease date: {date} [eBook #{num}]\n\nLanguage: English\n\n\n"
          "*** START OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n\n{body}\n\n\n"
          "*** END OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n\n\nUpdated editions will replace the previous one"
          "--the old editions will\nbe renamed.\n\nSection 1. General Terms of Use and Redistributing Project "
          "Gutenberg™\nelectronic works\n")
PG_OLD = ("\ufeffThe Project Gutenberg EBook of {title}, by {author}\r\n\r\nThis eBook is for the use of anyone "
          "anywhere at no cost and with\r\nalmost no restrictions whatsoever.\r\n\r\nTitle: {title}\r\n\r\n"
          "Author: {author}\r\n\r\nPosting Date: {date} [EBook #{num}]\r\n\r\nLanguage: English\r\n\r\n"
          "*** START OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r\n\r\n\r\n{body}\r\n\r\n\r\n"
          "End of the Project Gutenberg EBook of {title}, by {author}\r\n\r\n"
          "*** END OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r\n\r\n***** This file should be named {num}.txt "
          "*****\r\n")


def book_body(rng: random.Random, paragraphs: int) -> str:
    out = []
    for i in range(paragraphs):
        if i % 20 == 0:
            out.append(f"CHAPTER {i // 20 + 1}.")
        out.append(T.paragraph(rng, rng.randrange(3, 8)))
    return "\n\n".join(out)


def write_books(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "books" / DUMPS["books"]
    root.mkdir(parents=True, exist_ok=True)

    def write(num: int, body: str, old: bool) -> str:
        title, author = T.title(rng), f"{rng.choice(T.NAMES)} {rng.choice(T.NAMES)}son"
        tpl = PG_OLD if old else PG_NEW
        if old:
            body = body.replace("\n", "\r\n")
        text = tpl.format(title=title, author=author, date="May 3, 2011", num=num, upper=title.upper(), body=body)
        (root / f"generated-{num}.txt").write_bytes(text.encode())  # not "pg<n>": not a real PG number
        return doc_id("books", f"{DUMPS['books']}/generated-{num}.txt")

    # The overlapping pair: one edition and a reissue with one paragraph in 25 rewritten (~95% overlap).
    body = book_body(rng, plan.book_paragraphs)
    paras = body.split("\n\n")
    edited = [T.paragraph(rng, 4) if (i % 25 == 7 and not p.startswith("CHAPTER")) else p
              for i, p in enumerate(paras)]
    edition = "\n\n".join(edited)
    a, b = write(90001, body, old=False), write(90002, edition, old=True)
    truth.book_overlap.append({"a": a, "b": b, "overlap": round(overlap(body, edition), 4),
                               "jaccard": round(jaccard(body, edition), 4)})
    if plan.with_real:
        truth.book_overlap.insert(0, dict(REAL_BOOK_PAIR))
    for k in range(plan.books):
        write(90003 + k, book_body(rng, plan.book_paragraphs), old=bool(k % 2))


# ---------------------------------------------------------------------------------------- arxiv
PAPER_MAIN = r"""%% Generated sample paper: the reader must drop this comment, the preamble and the bibliography.
\documentclass[11pt]{article}
\usepackage{amsmath}
\newcommand{\R}{\mathbb{R}}
\newcommand{\norm}[1]{\left\lVert #1 \right\rVert}
\newcommand*{\pair}[2][x]{\langle #1, #2 \rangle}
\renewcommand{\vec}[1]{\mathbf{#1}}
\def\method{{NAME}}
\def\score#1#2{s(#1 \mid #2)}
\title{On the \method{} for {TOPIC}}
\author{{AUTHOR}}
\begin{document}
\maketitle
\begin{abstract}
{ABSTRACT}
\end{abstract}
% \section{Old introduction} this commented section must not count as the first section
\input{sections/intro}
\section{Method}
{METHOD} % trailing comment
We define \score{\vec{x}}{\theta} for $\vec{x} \in \R^d$ and bound $\norm{\vec{x}} \le 1$, with $\pair{y}$ and $\pair[z]{y}$.
The cost is 100\% lower with \method.
\include{sections/results}
\begin{thebibliography}{9}
\bibitem{a} {AUTHOR}. A previous study. 2019.
\end{thebibliography}
\end{document}
"""


def write_arxiv(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "arxiv" / DUMPS["arxiv"]
    root.mkdir(parents=True, exist_ok=True)
    for k in range(plan.papers):
        name = f"{rng.choice(T.ADJECTIVES).title()}{rng.choice(T.NOUNS).title()}"
        main = (PAPER_MAIN.replace("{NAME}", name).replace("{TOPIC}", T.title(rng))
                .replace("{AUTHOR}", f"{rng.choice(T.NAMES)} {rng.choice(T.NAMES)}son")
                .replace("{ABSTRACT}", T.paragraph(rng, 3)).replace("{METHOD}", T.paragraph(rng, 4)))
        files = {"main.tex": main,
                 "sections/intro.tex": "\\section{Introduction}\n% draft note: rewrite\n"
                                       + T.english(rng, 2).replace("\n\n", "\n\nThe \\method{} matters. ") + "\n",
                 "sections/results.tex": "\\section{Results}\n" + T.english(rng, 2) + "\n\\subsection{Ablation}\n"
                                         + T.paragraph(rng, 3) + "\n",
                 "refs.bib": "@article{a, title={A previous study}, year={2019}}\n"}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for fname in sorted(files):
                data = files[fname].encode()
                info = tarfile.TarInfo(fname)
                info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 1577836800, 0o644, 0, 0
                info.uname = info.gname = ""
                tf.addfile(info, io.BytesIO(data))
        (root / f"2301.{k + 1:05d}.tar.gz").write_bytes(gzip.compress(buf.getvalue(), 9, mtime=0))


# -------------------------------------------------------------------------------- stackexchange
def write_stackexchange(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "stackexchange" / DUMPS["stackexchange"] / "synthetic.stackexchange.com"
    root.mkdir(parents=True, exist_ok=True)
    rows, pid = [], 0

    def row(**a) -> None:
        rows.append("  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in a.items()) + " />")

    def html(rng: random.Random) -> str:
        return (f"<p>{escape(T.paragraph(rng, 2))}</p>\n<pre><code>x = {rng.randrange(99)}\nprint(x)\n</code></pre>\n"
                f"<p>See <a href=\"https://example.org\">the guide</a> and <code>{rng.choice(T.NOUNS)}()</code>.</p>")

    answers_later = []
    for q in range(plan.se_questions):
        pid += 1
        qid = pid
        date = f"2016-0{1 + q % 9}-1{q % 10}T10:00:00.000"
        row(Id=qid, PostTypeId=1, CreationDate=date, Score=rng.randrange(-2, 40), ViewCount=rng.randrange(10, 9999),
            Body=html(rng), OwnerUserId=rng.randrange(1, 500), Title=T.title(rng) + "?",
            Tags="&lt;" + rng.choice(T.NOUNS) + "&gt;", AnswerCount=0)
        for _ in range(rng.randrange(0, 4)):
            answers_later.append((qid, rng.randrange(-3, 25)))
        if q % 4 == 3:  # answers follow their questions in the dump, a few ids later
            for parent, score in answers_later:
                pid += 1
                row(Id=pid, PostTypeId=2, ParentId=parent, CreationDate=date, Score=score, Body=html(rng),
                    OwnerUserId=rng.randrange(1, 500))
            answers_later = []
    for parent, score in answers_later:
        pid += 1
        row(Id=pid, PostTypeId=2, ParentId=parent, CreationDate="2016-12-01T10:00:00.000", Score=score,
            Body=html(rng), OwnerUserId=rng.randrange(1, 500))
    pid += 1
    row(Id=pid, PostTypeId=4, CreationDate="2016-12-02T10:00:00.000", Score=0, Body="<p>Tag wiki excerpt.</p>")
    pid += 1
    row(Id=pid, PostTypeId=2, ParentId=999999, CreationDate="2016-12-03T10:00:00.000", Score=1,
        Body=f"<p>{escape(T.sentence(rng))}</p>")  # an orphan answer (its question was deleted)
    xml = '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n"
    (root / "Posts.xml").write_bytes(xml.encode())


# ----------------------------------------------------------------------------------------- main
WRITERS = [write_commoncrawl, write_c4, write_wikipedia, write_github, write_books, write_arxiv,
           write_stackexchange]


# What the generator writes (and so removes before writing again); real files never match these.
GENERATED = ["commoncrawl/*/gen-*.warc*", "c4/*/c4-train.*.json.gz", "github/*/sample-*",
             "wikipedia/*/*wiki-20220701-*", "books/*/generated-*.txt", "arxiv/*/2301.*.tar.gz",
             "stackexchange/*/synthetic.stackexchange.com", "ground_truth.json"]


def clean(out: Path) -> None:
    """Remove earlier generated files, so a changed plan leaves no stale ones behind."""
    import shutil

    for pattern in GENERATED:
        for p in sorted(out.glob(pattern)):
            if p.name == "c4-train.00000-of-01024.json.gz" and out / "c4" / DUMPS["c4"] / p.name == p:
                continue  # the real C4 sample
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def generate(out: str | Path, plan: Plan, seed: int = 0) -> dict:
    """Write every generated dump under `out` and `out/ground_truth.json`; return the ground truth."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean(out)
    truth = Truth()
    for i, writer in enumerate(WRITERS):
        writer(out, plan, random.Random(seed * 1000 + i), truth)  # one stream per source: independent
    gt = truth.as_dict()
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=1, sort_keys=True) + "\n")
    return gt


def generate_bundled(out: str | Path | None = None) -> dict:
    """The generated part of the bundled samples (seed 0); real files already there are left alone."""
    from pipelines.samples import bundled_dumps_dir

    return generate(out or bundled_dumps_dir(), Plan.bundled(), seed=0)


def make_samples(out: str | Path, docs: int, seed: int = 0) -> dict:
    return generate(out, Plan.scaled(docs), seed=seed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="output folder (default: the bundled samples)")
    p.add_argument("--docs", type=int, help="scaled set of about this many documents (default: bundled plan)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t = time.perf_counter()
    if a.docs:
        if not a.out:
            p.error("--docs needs --out (the bundled samples keep their fixed plan)")
        make_samples(a.out, a.docs, a.seed)
    else:
        generate(a.out, Plan.bundled(), a.seed) if a.out else generate_bundled()
    print(f"written in {time.perf_counter() - t:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
