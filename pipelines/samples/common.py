"""What every sample writer shares: the plan, the ground truth it fills in, the dump folders, the real
files' known cases, and the 5-gram similarity measures the planted duplicates are made and checked with."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pipelines.document import doc_id
from pipelines.samples import text as T

# The dump (folder under <source>/) each generated source is written to; CommonCrawl uses the snapshots.
DUMPS = {"c4": "en", "wikipedia": "20220701", "github": "2023-03", "books": "gutenberg", "arxiv": "2023-01",
         "stackexchange": "2024-04"}

# Real files shipped next to the generated ones (see bundled/ATTRIBUTION.md). Their ground truth is
# fixed here rather than computed, so that generating into an empty folder gives the same manifest.
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


# --------------------------------------------------------------------------------------- similarity
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


# ------------------------------------------------------------------------------ reference sentences
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
