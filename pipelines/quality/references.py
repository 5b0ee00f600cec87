"""The URLs a Wikipedia article cites, and the URL normalization that joins them with CommonCrawl pages.

LLaMA's reference classifier takes as positives "pages used as references in Wikipedia": the
CommonCrawl pages whose URL some article cites. Citations appear in wikitext as
- external links `[http://host/path label]` (and bare `http://...` in prose),
- `<ref>` bodies, mostly citation templates `{{cite web |url=http://... |archive-url=...}}`.
One scan for http(s) URLs over the raw wikitext finds all three; archive copies (web.archive.org,
archive.today) cite the original page, which is kept instead.

A cited URL and a crawled URL name the same page after `normalize`: scheme dropped (http = https), host
lower-cased without `www.` and default port, fragment dropped, tracking parameters (utm_*, fbclid,
gclid, ...) dropped, remaining parameters sorted, trailing slash dropped. `url_key` hashes that to 64
bits, so the cited set of a whole dump is a sorted numpy array (8 bytes per URL).
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import numpy as np

# Ends at whitespace or a character that closes wiki/HTML markup; `|` ends a template parameter.
_URL = re.compile(r"https?://[^\s\[\]<>\"|{}]+", re.IGNORECASE)
_TRAILING = ".,;:!?)'"               # prose punctuation after a bare URL (a `)` inside parentheses)
_ARCHIVE = re.compile(r"^https?://(?:web\.archive\.org/web|archive\.(?:org|today|is|ph))/[^/]*/(https?://.+)$", re.IGNORECASE)
TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|yclid|igshid|ref_src)$", re.IGNORECASE)
DEFAULT_PORTS = {"80", "443"}


def cited_urls(wikitext: str) -> list[str]:
    """Every distinct http(s) URL in the wikitext, in order of first appearance (archive copies
    replaced by the page they archive)."""
    seen: dict[str, None] = {}
    for m in _URL.finditer(wikitext or ""):
        url = m.group(0)
        if "''" in url:                  # bold/italic markup right after a link is not part of it
            url = url.split("''", 1)[0]
        url = url.rstrip(_TRAILING)
        a = _ARCHIVE.match(url)
        if a:
            url = a.group(1)
        if len(url) > len("http://") + 3:
            seen.setdefault(url, None)
    return list(seen)


def normalize(url: str | None) -> str | None:
    """`host[:port]/path[?sorted query]` of a web URL, or None for anything that is not http(s)."""
    if not url:
        return None
    try:
        p = urlsplit(url.strip())
        port = p.port
    except ValueError:
        return None
    if p.scheme.lower() not in ("http", "https") or not p.hostname:
        return None
    host = p.hostname.lower().rstrip(".")
    host = host.removeprefix("www.")
    if port is not None and str(port) not in DEFAULT_PORTS:
        host = f"{host}:{port}"
    # One spelling of the path: percent-decoded then re-encoded, so %7E and ~ compare equal.
    path = quote(unquote(p.path), safe="/:@!$&'()*+,;=-._~").rstrip("/")
    query = [(k, v) for k, v in parse_qsl(p.query, keep_blank_values=True) if not TRACKING.match(k)]
    q = urlencode(sorted(query))
    return f"{host}{path}" + (f"?{q}" if q else "")


def url_key(url: str | None) -> int | None:
    """64-bit key of the normalized URL (None when it is not a web URL)."""
    n = normalize(url)
    if n is None:
        return None
    return int.from_bytes(hashlib.blake2b(n.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little",
                          signed=True)


def key_array(urls) -> np.ndarray:
    """Sorted distinct keys of an iterable of URLs (non-web URLs left out)."""
    keys = [k for k in map(url_key, urls) if k is not None]
    return np.unique(np.array(keys, dtype=np.int64))


def contains(sorted_keys: np.ndarray, key: int | None) -> bool:
    if key is None or len(sorted_keys) == 0:
        return False
    i = int(np.searchsorted(sorted_keys, key))
    return i < len(sorted_keys) and int(sorted_keys[i]) == key
