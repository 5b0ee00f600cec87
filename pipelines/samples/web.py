"""Writers of the web sources: CommonCrawl (WET and WARC files) and C4, with their planted exact and near
copies, foreign and low-quality pages, and reference-style pages at URLs Wikipedia cites."""
from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import html
import json
import random
import re
from pathlib import Path
from xml.sax.saxutils import escape

from pipelines.document import doc_id
from pipelines.samples import text as T
from pipelines.samples.common import DUMPS, REAL_EXACT, Plan, Truth, near_copy, reference_sentence

ISO3 = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
        "pl": "pol", "ru": "rus", "sv": "swe", "ja": "jpn"}
CC_FOREIGN = ["fr", "de", "es", "it", "pt", "nl", "pl", "ru"]
LOW_QUALITY_REASONS = ["boilerplate", "spam", "javascript", "lorem_ipsum", "too_short"]
NEAR_TARGETS = [0.5, 0.65, 0.8, 0.83, 0.85, 0.88, 0.9, 0.92, 0.95, 0.9]  # 8 in 10 at >= 0.8


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
