"""LLaMA's reference classifier: a fastText linear model telling pages Wikipedia cites from random
CommonCrawl pages; CommonCrawl pages with P(reference) < 0.5 are discarded (SPEC §1).

Positives: CommonCrawl pages whose normalized URL a Wikipedia article cites (references.py, joined in
models.py). Negatives: random CommonCrawl pages that are not cited, as many as there are positives.

Both classes are pages we later score, so the model is cross-fitted: pages are split into `folds` by
a hash of their id; the model for fold f is trained on the other folds and scores only fold f. No
page is scored by a model that saw it, and each fold's pages are a held-out test set of its model
(`heldout` in the manifest: accuracy on cited vs random pages at the 0.5 threshold).
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_WORDS = 200  # a page's first words are enough and keep training fast
POS, NEG = "__label__wiki", "__label__cc"
RETRIES = 4
MIN_UPDATES, MAX_EPOCHS = 5_000, 100  # a few dozen pages need ~100 passes at lr 1.0 to separate


def fold_of(doc_id: str, folds: int) -> int:
    return int(hashlib.sha1(doc_id.encode()).hexdigest()[:8], 16) % folds


def normalize(text: str) -> str:
    """The first MAX_WORDS words, lower case, single spaces. Only the words kept are touched (a long
    page is not lowered and scanned whole); a leading space takes one word's place, as it always has."""
    text = text or ""
    keep = MAX_WORDS - text[:1].isspace()
    return " ".join(text.split(None, keep)[:keep]).lower()


def epochs_for(examples: int) -> int:
    """fastText's 5 epochs for large sets; a small set gets more passes (about MIN_UPDATES examples seen)."""
    return int(min(MAX_EPOCHS, max(5, -(-MIN_UPDATES // max(examples, 1)))))


def train(positives: Sequence[str], negatives: Sequence[str], path: str | os.PathLike, seed: int = 0,
          epoch: int | None = None, dim: int = 32, lr: float = 1.0):
    """Train one fastText classifier (single thread: deterministic) and save it to `path`."""
    import fasttext

    if not positives or not negatives:
        raise ValueError(f"classifier needs both classes: {len(positives)} positives, {len(negatives)} negatives")
    epoch = epoch or epochs_for(len(positives) + len(negatives))
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
                model = fasttext.train_supervised(input=train_path, epoch=epoch, dim=dim, lr=lr, wordNgrams=2,
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


def cannot_train(positives: Sequence, negatives: Sequence, folds: int) -> str | None:
    """Why the cross-fitted classifier cannot be trained on these (id, text) pages, or None."""
    for name, items in (("cited CommonCrawl pages (positives)", positives), ("random pages (negatives)", negatives)):
        seen = {fold_of(i, folds) for i, _ in items}
        if folds > 1 and len(seen) < 2 or not items:
            return f"too few {name}: {len(items)} (each fold's model needs some from another fold)"
    return None


def _split(items: Sequence[tuple[str, str]], f: int, folds: int) -> tuple[list[str], list[str]]:
    """Texts of the other folds (training) and of fold f (its held-out test); one fold trains on all."""
    return ([t for i, t in items if fold_of(i, folds) != f or folds == 1],
            [t for i, t in items if fold_of(i, folds) == f and folds > 1])


def train_folds(positives: Sequence[tuple[str, str]], negatives: Sequence[tuple[str, str]], folds: int,
                directory: str | os.PathLike, seed: int = 0) -> tuple[list[Path], dict]:
    """One model per fold, trained on the other folds' (id, text) pages; returns their paths and the
    held-out accuracy of each model on its own fold's pages at P(reference) >= 0.5."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths, right_pos, right_neg, n_pos, n_neg = [], 0, 0, 0, 0
    for f in range(folds):
        (pos_train, pos_test), (neg_train, neg_test) = (_split(positives, f, folds), _split(negatives, f, folds))
        p = directory / f"wiki_classifier_fold{f}.bin"
        model = train(pos_train, neg_train, p, seed=seed + f)
        paths.append(p)
        right_pos += int((wiki_probability(model, pos_test) >= 0.5).sum())
        right_neg += int((wiki_probability(model, neg_test) < 0.5).sum())
        n_pos, n_neg = n_pos + len(pos_test), n_neg + len(neg_test)
    acc = {"cited_pages": n_pos, "random_pages": n_neg,
           "cited_recall": round(right_pos / n_pos, 4) if n_pos else None,
           "random_rejected": round(right_neg / n_neg, 4) if n_neg else None,
           "accuracy": round((right_pos + right_neg) / (n_pos + n_neg), 4) if n_pos + n_neg else None}
    return paths, acc


def score_folds(model_paths: Sequence[str | os.PathLike], ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """P(reference) of each page from the model of its own fold."""
    folds = len(model_paths)
    scores = np.zeros(len(texts))
    assign = np.array([fold_of(i, folds) for i in ids], dtype=np.int64)
    for f, p in enumerate(model_paths):
        idx = np.flatnonzero(assign == f)
        if len(idx):
            st = os.stat(p)
            scores[idx] = wiki_probability(_load(str(p), st.st_size, st.st_mtime_ns), [texts[i] for i in idx])
    return scores


@functools.lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int):
    """A fastText model, loaded once per process and file version (size and mtime in the key: a model
    trained again at the same path is loaded again). Loading took ~70 ms a model, paid per input file."""
    import fasttext

    return fasttext.load_model(path)
