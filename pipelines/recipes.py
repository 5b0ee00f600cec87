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
# lid.176 also predicts Serbo-Croatian and Bosnian for hr/sr text; they count as the listed languages.
WIKI_LID_ALIASES = ("sh", "bs")

DEDUP, LID, QUALITY = "deduplicated", "language_identified", "quality_filtered"
STAGES = (DEDUP, LID, QUALITY)


@dataclass(frozen=True)
class Step:
    stage: str
    name: str
    params: dict = field(default_factory=dict)
    why: str = ""


_EXACT = Step(DEDUP, "exact", {}, "identical text: keep the smallest id")
_NEAR = Step(DEDUP, "minhash", {"threshold": 0.8, "measure": "jaccard"},
             "MinHash LSH candidates with word n-gram Jaccard >= threshold (exact check near it)")
_LINE = Step(DEDUP, "line", {}, "CCNet: drop lines whose normalized SHA-1[:8] occurred earlier")
_LID_EN = Step(LID, "langid", {"keep": ["en"], "min_score": 0.5}, "fastText lid.176, CCNet threshold 0.5")
_LID_TAG = Step(LID, "langid", {"keep": None, "min_score": 0.0}, "label + score only, nothing dropped")

RECIPES: dict[str, tuple[Step, ...]] = {
    "commoncrawl": (
        _EXACT, _NEAR, _LINE, _LID_EN,
        Step(QUALITY, "perplexity", {"percentiles": [30, 60], "keep": ["head", "middle"]},
             "Wikipedia-trained Kneser-Ney LM; CCNet buckets by CC percentile; tail dropped"),
        Step(QUALITY, "wiki_classifier", {"drop_quantile": 0.1, "folds": 2},
             "fastText: Wikipedia-like (reference) vs random CC page, cross-fitted; drop the pages "
             "least like references (below the 10% quantile of P(ref), never P(ref) >= 0.5)"),
    ),
    "c4": (
        _EXACT, _NEAR, _LID_EN,
        Step(QUALITY, "c4_heuristics", {"min_words_per_line": 3, "min_sentences": 5},
             "terminal punctuation, words, sentences, bad words, javascript, lorem ipsum, curly braces"),
    ),
    "github": (
        _EXACT, _LID_TAG,
        Step(QUALITY, "license", {"allow": ["Apache", "BSD", "MIT"]}, "permissive licences only"),
        Step(QUALITY, "github_heuristics", {"max_line_length": 1000, "max_mean_line_length": 100,
                                            "min_alnum_fraction": 0.25}, "SPEC §1 numbers"),
        Step(QUALITY, "header_boilerplate", {}, "licence/copyright header comments removed by regex"),
    ),
    "wikipedia": (
        _EXACT,
        Step(LID, "langid", {"keep": list(WIKI_LANGUAGES) + list(WIKI_LID_ALIASES), "min_score": 0.0},
             "the 20 Latin/Cyrillic languages"),
    ),
    "books": (
        _EXACT,
        Step(DEDUP, "minhash", {"threshold": 0.9, "measure": "containment"},
             "book-level: drop books with > 90% content overlap (shingle containment)"),
        _LID_TAG,
    ),
    "arxiv": (_EXACT, _LID_TAG),
    "stackexchange": (_EXACT, _LID_TAG),
}


# Dedup scope per source: "dump" matches documents within one dump (partition); "source" also against
# the source's earlier dumps, whose documents always win (so a partition depends only on itself and
# dumps before it, and a new dump never changes an old partition). LLaMA's choices: CCNet deduplicates
# each CommonCrawl snapshot on its own; books are deduplicated across the Gutenberg and Books3 dumps.
DEDUP_SCOPE = {"commoncrawl": "dump", "c4": "dump", "github": "dump", "wikipedia": "dump", "books": "source",
               "arxiv": "dump", "stackexchange": "dump"}


def dedup_scope(source: str) -> str:
    return DEDUP_SCOPE[source]


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
