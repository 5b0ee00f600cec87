"""Per-source curation recipes (LLaMA-1 Table 1, SPEC §1) as one small declarative table.

Each source lists, per stage, the steps applied and their thresholds. The curation assets read their
steps from here and show the table in their description and metadata, so what runs is what is shown.

    python -m pipelines.recipes      # prints the table
"""
from __future__ import annotations

from dataclasses import dataclass, field

# The 20 Wikipedia languages of LLaMA-1 (Latin or Cyrillic script).
WIKI_LANGUAGES = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu", "it", "nl", "pl", "pt", "ro",
                  "ru", "sl", "sr", "sv", "uk")
# lid.176 also predicts Serbo-Croatian and Bosnian for hr/sr text: the per-article check counts them as
# agreeing with an hr/sr/bs dump.
WIKI_LID_ALIASES = ("sh", "bs")
# SPEC §1: "we include data from the 28 largest websites" of StackExchange.
STACKEXCHANGE_SITES = 28

RAW, DEDUP, LID, QUALITY = "raw_documents", "deduplicated", "language_identified", "quality_filtered"
STAGES = (DEDUP, LID, QUALITY)  # the curation stages; RAW steps are applied by the readers


@dataclass(frozen=True)
class Step:
    stage: str
    name: str
    params: dict = field(default_factory=dict)
    why: str = ""


_EXACT = Step(DEDUP, "exact", {}, "identical text: keep the smallest id")
_EXACT_CODE = Step(DEDUP, "exact", {"strip_header": True},
                   "identical file once the licence/copyright header is removed (the paper dedups cleaned files)")
_NEAR = Step(DEDUP, "minhash", {"threshold": 0.8, "measure": "jaccard"},
             "MinHash LSH candidates with word n-gram Jaccard >= threshold (exact check near it); "
             "the best copy survives (pipelines/dedup/survivor.py)")
_LINE = Step(DEDUP, "line", {}, "CCNet: drop lines whose normalized SHA-1[:8] occurred earlier")
_LID_EN = Step(LID, "langid", {"keep": ["en"], "min_score": 0.5}, "fastText lid.176, CCNet threshold 0.5")
_LID_TAG = Step(LID, "langid", {"keep": None, "min_score": 0.0}, "label + score only, nothing dropped")

RECIPES: dict[str, tuple[Step, ...]] = {
    "commoncrawl": (
        _EXACT, _NEAR, _LINE, _LID_EN,
        Step(QUALITY, "perplexity", {"backend": "kenlm", "order": 5, "percentiles": [30, 60],
                                     "keep": ["head", "middle"]},
             "CCNet: 5-gram KenLM on SentencePiece pieces, both trained on Wikipedia; head/middle/tail "
             "by cut-offs at the 30th/60th percentile of the perplexity of the CommonCrawl pages (streaming "
             "quantiles, fixed with the model); tail (~40%) dropped"),
        Step(QUALITY, "wiki_classifier", {"min_score": 0.5, "folds": 2},
             "fastText: pages cited by Wikipedia vs random CC pages, cross-fitted; P(reference) < 0.5 dropped"),
    ),
    "c4": (
        _EXACT, _NEAR, _LID_EN,
        Step(QUALITY, "c4_heuristics", {"min_words_per_line": 5, "min_sentences": 3, "max_word_length": 1000},
             "the released C4's rules (tfds c4_utils): lines ending in . ? ! \" (not ...), of 5+ words, no "
             "javascript or policy/cookie lines; pages of 3+ sentences without lorem ipsum, { or a word of "
             "the English LDNOOBW bad-words list"),
    ),
    "github": (
        # Before dedup, as in the paper (keep permissive projects, then deduplicate): filtered after it, a
        # file in both a GPL and an MIT repository was lost whenever dedup kept the GPL copy.
        Step(RAW, "license", {"allow": ["Apache", "BSD", "MIT"]},
             "permissive licences only, by the repository's LICENSE; the reader skips the other repositories' "
             "files (license_not_permissive), so dedup only sees permissive copies"),
        _EXACT_CODE, _LID_TAG,
        Step(QUALITY, "github_heuristics", {"max_line_length": 1000, "max_mean_line_length": 100,
                                            "min_alnum_fraction": 0.25}, "SPEC §1 numbers"),
        Step(QUALITY, "header_boilerplate", {}, "licence/copyright header comments removed by regex"),
    ),
    "wikipedia": (
        _EXACT,
        Step(LID, "dump_language", {"keep": list(WIKI_LANGUAGES)},
             "the 20 Latin/Cyrillic languages of SPEC §1, by the dump's language (its file name)"),
        Step(LID, "langid", {"keep": None, "min_score": 0.0},
             "per-article fastText label reported as a check against the dump language, nothing dropped"),
    ),
    "books": (
        _EXACT,
        Step(DEDUP, "containment", {"threshold": 0.9},
             "book-level: drop the shorter book of a pair when > 90% of its shingles are in the other "
             "(sampled-shingle index, exact containment check)"),
        _LID_TAG,
    ),
    "arxiv": (_EXACT, _LID_TAG),
    "stackexchange": (
        Step(RAW, "top_sites", {"sites": STACKEXCHANGE_SITES, "by": "Posts.xml bytes"},
             "SPEC §1: the 28 largest sites of the dump; the reader skips the others (not_top_28_site)"),
        _EXACT, _LID_TAG),
}


# Dedup scope per source: "dump" matches documents within one dump (partition); "source" also against
# the source's earlier dumps, whose documents always win (so a partition depends only on itself and
# dumps before it, and a new dump never changes an old partition). LLaMA's choices: CCNet deduplicates
# each CommonCrawl snapshot on its own; books are deduplicated across the Gutenberg and Books3 dumps.
DEDUP_SCOPE = {"commoncrawl": "dump", "c4": "dump", "github": "dump", "wikipedia": "dump", "books": "source",
               "arxiv": "dump", "stackexchange": "dump"}


def dedup_scope(source: str) -> str:
    return DEDUP_SCOPE[source]


def stackexchange_sites() -> int:
    """How many StackExchange sites the reader keeps (the recipe's top_sites step)."""
    return int(step("stackexchange", RAW, "top_sites").params["sites"])


def github_licences() -> tuple[str, ...]:
    """The licence families the GitHub reader keeps (the recipe's raw licence step)."""
    return tuple(step("github", RAW, "license").params["allow"])


def steps(source: str, stage: str | None = None) -> tuple[Step, ...]:
    if source not in RECIPES:
        raise ValueError(f"no recipe for source {source!r}; recipes exist for {', '.join(RECIPES)}")
    return tuple(s for s in RECIPES[source] if stage is None or s.stage == stage)


def step(source: str, stage: str, name: str) -> Step | None:
    return next((s for s in steps(source, stage) if s.name == name), None)


def _fmt(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def markdown(stage: str | None = None, source: str | None = None) -> str:
    """The recipe table (optionally one stage / one source) as markdown."""
    lines = ["| source | stage | step | parameters | why |", "|---|---|---|---|---|"]
    for src in ([source] if source else RECIPES):
        for s in steps(src, stage):
            lines.append(f"| {src} | {s.stage} | {s.name} | {_fmt(s.params)} | {s.why} |")
    return "\n".join(lines)


def as_dict(source: str, stage: str | None = None) -> list[dict]:
    return [{"step": s.name, "stage": s.stage, **s.params} for s in steps(source, stage)]


if __name__ == "__main__":
    print(markdown())
