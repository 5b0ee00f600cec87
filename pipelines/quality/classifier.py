"""LLaMA's reference classifier: a fastText linear model telling "Wikipedia reference" pages from random
CommonCrawl pages; CommonCrawl pages it does not classify as references are discarded.

Positives (documented stand-in): the text of Wikipedia articles. The paper's positives are the pages
that Wikipedia articles cite; our raw Wikipedia text has its links stripped by the reader and the
sample CommonCrawl holds few cited pages, so article text stands in for "the kind of page Wikipedia
would cite" - the same signal the real classifier approximates. Negatives: random CommonCrawl pages.

The negatives are the very pages we later score, so the model is cross-fitted: CommonCrawl pages are
split into `folds` by a hash of their id; the model for fold f is trained on the other folds (plus
all positives) and scores only fold f. No page is scored by a model that saw it.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

_WS = re.compile(r"\s+")
MAX_WORDS = 200  # a page's first words are enough and keep training fast
POS, NEG = "__label__wiki", "__label__cc"
RETRIES = 4


def fold_of(doc_id: str, folds: int) -> int:
    return int(hashlib.sha1(doc_id.encode()).hexdigest()[:8], 16) % folds


def normalize(text: str) -> str:
    return " ".join(_WS.sub(" ", (text or "").lower()).split(" ")[:MAX_WORDS]).strip()


def train(positives: Sequence[str], negatives: Sequence[str], path: str | os.PathLike, seed: int = 0,
          epoch: int = 5, dim: int = 32):
    """Train one fastText classifier (single thread: deterministic) and save it to `path`."""
    import fasttext

    if not positives or not negatives:
        raise ValueError(f"classifier needs both classes: {len(positives)} positives, {len(negatives)} negatives")
    rng = np.random.default_rng(seed)
    lines = [f"{POS} {normalize(t)}" for t in positives] + [f"{NEG} {normalize(t)}" for t in negatives]
    order = rng.permutation(len(lines))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines[i] for i in order) + "\n")
        train_path = f.name
    try:
        # loss="ns": this fastText build's softmax loss often stops with "Encountered NaN" on small
        # two-label sets; negative sampling is far more reliable (P(label) is its sigmoid score), but
        # the error still shows up now and then, so a failed run is retried with the next seed.
        for attempt in range(RETRIES):
            try:
                model = fasttext.train_supervised(input=train_path, epoch=epoch, dim=dim, lr=0.1, wordNgrams=2,
                                                  loss="ns", minCount=1, bucket=200_000, thread=1,
                                                  seed=seed + 101 * attempt, verbose=0)
                break
            except RuntimeError as e:
                if "NaN" not in str(e) or attempt == RETRIES - 1:
                    raise RuntimeError(f"fastText classifier training failed {attempt + 1} times: {e}") from e
    finally:
        os.unlink(train_path)
    model.save_model(str(path))
    return model


def wiki_probability(model, texts: Sequence[str]) -> np.ndarray:
    """P(reference) per text."""
    if len(texts) == 0:
        return np.zeros(0)
    labels, probs = model.predict([normalize(t) for t in texts], k=2)
    out = np.zeros(len(texts))
    for i, (labs, ps) in enumerate(zip(labels, probs)):
        for lab, p in zip(labs, ps):
            if lab == POS:
                out[i] = float(p)
    return out


def train_folds(positives: Sequence[str], cc_ids: Sequence[str], cc_texts: Sequence[str], folds: int,
                directory: str | os.PathLike, seed: int = 0) -> list[Path]:
    """One model per fold, trained on the other folds' CommonCrawl pages; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    assign = [fold_of(i, folds) for i in cc_ids]
    for f in range(folds):
        negatives = [t for t, a in zip(cc_texts, assign) if a != f or folds == 1]
        p = directory / f"wiki_classifier_fold{f}.bin"
        train(positives, negatives, p, seed=seed + f)
        paths.append(p)
    return paths


def score_folds(model_paths: Sequence[str | os.PathLike], ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """P(reference) of each page from the model of its own fold."""
    import fasttext

    folds = len(model_paths)
    scores = np.zeros(len(texts))
    assign = np.array([fold_of(i, folds) for i in ids], dtype=np.int64)
    for f, p in enumerate(model_paths):
        idx = np.flatnonzero(assign == f)
        if len(idx):
            model = fasttext.load_model(str(p))
            scores[idx] = wiki_probability(model, [texts[i] for i in idx])
    return scores
