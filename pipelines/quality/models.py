"""`quality_models`: what the CommonCrawl quality step needs, trained from Parquet files in bounded memory.

Inputs are the committed `language_identified` files of every Wikipedia and CommonCrawl dump, read one
file (and only the needed columns) at a time:
- Wikipedia, one pass: the URLs every article cites (64-bit keys, references.py), and seeded reservoir
  samples of articles: English ones for the LM (all languages when there are fewer than MIN_LM_DOCS),
  and, held out by id hash (one in HELD_OUT), articles the LM does not see.
- CommonCrawl, one pass: every page is scored by the LM and its perplexity goes into a streaming
  quantile sketch (quantiles.py); the head/middle/tail cut-offs are its 30th/60th percentiles, as in
  CCNet, whose cut-offs are percentiles of the perplexity of the CommonCrawl documents of a language (so
  ~30% head, ~30% middle, ~40% tail of the scored pages). Percentiles of Wikipedia's own perplexity put
  most of the web in the tail instead (the bundled samples: 21% tail overall, the real wget pages all
  tail). The sketch is stored with the model (`cc_perplexity_sketch.json`). In the same pass, pages
  whose normalized URL Wikipedia cites are the classifier's positives, the other pages its negatives
  ("random CommonCrawl pages"); both are reservoir samples capped at `max_classifier_docs`, the
  negatives then cut to the positives' count (balanced classes, so that P(reference) = 0.5 is the
  decision boundary the recipe uses).
Fallbacks when the recipe cannot run as written — the word-trigram model when KenLM is missing, every
language when English Wikipedia is short, cut-offs from Wikipedia articles when no CommonCrawl page was
scored — are recorded in the manifest; with `allow_fallbacks=False` (paper profiles,
DataArgs.quality_fallbacks) each one fails the run with a QualityModelError saying what is missing.
Caps and the seed come from the profile (DataArgs.quality_*). Memory: the caps, plus 8 bytes per cited URL,
plus the sketch's counters.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pipelines import recipes
from pipelines.quality import classifier, references
from pipelines.quality import lm as lms
from pipelines.quality.perplexity import cutoffs
from pipelines.quality.quantiles import LogSketch

MANIFEST = "models.json"
SKETCH = "cc_perplexity_sketch.json"
MIN_LM_DOCS = 20      # fewer English Wikipedia articles than this: train the LM on every language
HELD_OUT = 10         # one Wikipedia article in HELD_OUT fixes the cut-offs instead of training the LM
MIN_HELD_OUT = 5      # fallback cut-offs: fewer held-out articles than this, the training articles (noted)
BATCH = 2_000


class Reservoir:
    """Algorithm R with its own seeded generator: a uniform sample of at most `cap` items of a stream."""

    def __init__(self, cap: int, seed: int):
        self.cap, self.seen, self.items, self.rng = cap, 0, [], random.Random(seed)

    def add(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.cap:
            self.items.append(item)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.cap:
                self.items[j] = item


def _rows(files: Iterable[str | os.PathLike], columns: Sequence[str]) -> Iterator[dict]:
    """Rows of the given columns, one record batch of one file at a time."""
    for f in files:
        pf = pq.ParquetFile(f)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(batch_size=BATCH, columns=cols):
            d = batch.to_pydict()
            for i in range(batch.num_rows):
                yield {c: d[c][i] if c in d else None for c in columns}


class QualityModelError(RuntimeError):
    """The CCNet recipe cannot run as written and the profile allows no fallback."""


def _fallback(allowed: bool, what: str) -> str:
    """`what` as the manifest's note, or a QualityModelError when fallbacks are not allowed."""
    if not allowed:
        raise QualityModelError(f"quality_models: {what}; the paper profiles do not fall back "
                                "(DataArgs.quality_fallbacks is False): fix the input or use a demo profile")
    return what


def _held_out(doc_id: str) -> bool:
    return int(hashlib.sha1(doc_id.encode()).hexdigest()[:8], 16) % HELD_OUT == 0


def _write(out_dir: Path, manifest: dict, t0: float) -> dict:
    """Write the manifest (without timings: the same inputs give the same bytes, and quality_filtered
    reruns a file only when the models changed); return it with the seconds taken."""
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return dict(manifest, seconds=round(time.perf_counter() - t0, 3))


def train_models(wiki_files: Sequence[str | os.PathLike], cc_files: Sequence[str | os.PathLike],
                 out_dir: str | os.PathLike, seed: int = 0, max_lm_docs: int = 300_000,
                 max_classifier_docs: int = 100_000, allow_fallbacks: bool = True) -> dict:
    """Train the perplexity LM, fix its cut-offs on the CommonCrawl pages, train the cross-fitted
    reference classifier. allow_fallbacks=False: fail instead of any fallback (see the module doc)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ppl_step = recipes.step("commoncrawl", recipes.QUALITY, "perplexity")
    cls_step = recipes.step("commoncrawl", recipes.QUALITY, "wiki_classifier")

    en, every, held_en, held_every = (Reservoir(max_lm_docs, seed + k) for k in range(4))
    cited: list[int] = []
    cited_found = wiki_docs = 0
    for r in _rows(wiki_files, ("id", "text", "lid_lang", "cited_urls")):
        urls = r["cited_urls"] or []
        cited_found += len(urls)
        cited.extend(k for k in map(references.url_key, urls) if k is not None)
        text = r["text"]
        if not text or not text.strip():
            continue
        wiki_docs += 1
        held = _held_out(r["id"])
        (held_every if held else every).add(text)
        if r["lid_lang"] == "en":
            (held_en if held else en).add(text)
    cited_keys = np.unique(np.array(cited, dtype=np.int64))
    del cited
    manifest: dict = {"lm": None, "lm_backend": None, "lm_backend_note": None, "cutoffs": None,
                      "percentiles": ppl_step.params["percentiles"], "wiki_documents": wiki_docs,
                      "cited_urls_found": cited_found, "cited_urls_distinct": len(cited_keys),
                      "classifier": [], "seed": seed, "max_lm_docs": max_lm_docs,
                      "max_classifier_docs": max_classifier_docs}
    if not wiki_docs:
        manifest["skipped"] = _fallback(allow_fallbacks, "language_identified[wikipedia] has no text to train on")
        return _write(out_dir, manifest, t0)

    # ---- perplexity model
    use_en = en.seen >= MIN_LM_DOCS
    train, held = (en, held_en) if use_en else (every, held_every)
    notes = []
    if not use_en:
        notes.append(_fallback(allow_fallbacks, f"only {en.seen} English Wikipedia articles (fewer than "
                                                f"{MIN_LM_DOCS}): the LM trains on every language"))
    backend, note = lms.choose_backend(ppl_step.params["backend"])
    if note:
        notes.append(_fallback(allow_fallbacks, f"{note}: a word-trigram Kneser-Ney model instead of CCNet's "
                                                "5-gram KenLM on SentencePiece pieces"))
    lm_dir = out_dir / "lm"
    model = lms.BACKENDS[backend].train(train.items, lm_dir, seed=seed, order=ppl_step.params["order"])
    manifest.update({
        "lm": "lm", "lm_backend": backend, "lm_backend_note": note,
        "lm_order": ppl_step.params["order"] if backend == "kenlm" else lms.KneserNeyModel.order, "lm_language": "en" if use_en else "all",
        "lm_docs": len(train.items), "lm_docs_seen": train.seen,
    })

    # ---- one CC pass: every page's perplexity into the sketch; classifier samples (cited vs random pages)
    pos, neg = Reservoir(max_classifier_docs, seed + 10), Reservoir(max_classifier_docs, seed + 11)
    sketch = LogSketch()
    cc_pages = 0
    batch: list[str] = []
    for r in _rows(cc_files, ("id", "url", "text")):
        if not r["text"] or not r["text"].strip():
            continue
        cc_pages += 1
        batch.append(r["text"])
        if len(batch) == BATCH:
            sketch.add(model.perplexity(batch))
            batch = []
        item = (r["id"], classifier.normalize(r["text"]))
        (pos if references.contains(cited_keys, references.url_key(r["url"])) else neg).add(item)
    if batch:
        sketch.add(model.perplexity(batch))
    percentiles = ppl_step.params["percentiles"]
    if sketch.n:
        cuts, cut_docs, source = sketch.quantiles(percentiles), sketch.n, "commoncrawl documents scored"
        (out_dir / SKETCH).write_text(json.dumps(sketch.to_json(), sort_keys=True))
    else:
        cut_docs_list = held.items if len(held.items) >= MIN_HELD_OUT else train.items
        source = _fallback(allow_fallbacks, "no CommonCrawl page to score: cut-offs from "
                                            + ("held-out" if cut_docs_list is held.items else "training")
                                            + " Wikipedia articles")
        cuts, cut_docs = cutoffs(model.perplexity(cut_docs_list), percentiles), len(cut_docs_list)
        notes.append(source)
    manifest.update({"cutoffs": cuts, "cutoff_docs": cut_docs, "cutoff_source": source,
                     "cutoff_sketch": SKETCH if sketch.n else None, "fallbacks": notes})
    negatives = random.Random(seed + 12).sample(neg.items, min(len(neg.items), len(pos.items)))
    manifest.update({"cc_pages": cc_pages, "cited_pages_matched": pos.seen, "classifier_positives": len(pos.items),
                     "classifier_negatives": len(negatives), "random_pages_seen": neg.seen})
    folds = cls_step.params["folds"]
    why = classifier.cannot_train(pos.items, negatives, folds)
    if why:
        manifest["classifier_skipped"] = why
    else:
        paths, held_acc = classifier.train_folds(pos.items, negatives, folds, out_dir, seed)
        manifest["classifier"] = [p.name for p in paths]
        manifest["classifier_heldout"] = held_acc
    return _write(out_dir, manifest, t0)
