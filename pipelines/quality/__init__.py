"""The `quality_filtered` stage and the models it needs (`quality_models`).

- commoncrawl: perplexity bucket (tail dropped) from a Kneser-Ney LM trained on Wikipedia, then the
  Wikipedia-reference classifier (pages below its threshold dropped).
- c4: C4 heuristics (lines dropped inside a page; pages dropped with a `c4_*` reason).
- github: licence filter, header boilerplate removal, line-length / alphanumeric heuristics.
- other sources: kept as they are (their recipes have no quality step).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines import recipes
from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.quality import classifier, heuristics
from pipelines.quality.perplexity import KneserNeyLM, buckets, cutoffs
from pipelines.stage import DropLog, StageResult, add_columns, finish, text_bytes

STAGE = recipes.QUALITY
ADDED_COLUMNS = [("perplexity", pa.float64()), ("bucket", pa.string()), ("wiki_score", pa.float64())]
SCHEMA = pa.schema(list(LID_SCHEMA) + [pa.field(n, t) for n, t in ADDED_COLUMNS])
MANIFEST = "models.json"
MIN_LM_DOCS = 20  # fewer English Wikipedia articles than this: train the LM on every language


def train_models(wiki: pa.Table, cc: pa.Table, out_dir: str | os.PathLike, seed: int = 0) -> dict:
    """Train the perplexity LM and the cross-fitted classifier; write them and a manifest to out_dir."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wiki_texts = [t for t in wiki.column("text").to_pylist() if t and t.strip()]
    if not wiki_texts:
        # Nothing to train on: write a manifest that says so; quality_filtered[commoncrawl] then keeps
        # every page and reports the skip instead of failing the whole graph.
        manifest = {"lm": None, "skipped": "language_identified[wikipedia] has no text to train on",
                    "lm_docs": 0, "lm_vocab": 0, "lm_language": None, "cutoffs": None, "classifier": [],
                    "classifier_positives": 0, "classifier_negatives": 0, "seconds": 0.0}
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
        return manifest
    langs = wiki.column("lid_lang").to_pylist() if "lid_lang" in wiki.column_names else [None] * wiki.num_rows
    en = [t for t, lang in zip(wiki.column("text").to_pylist(), langs) if lang == "en" and t and t.strip()]
    lm_texts = en if len(en) >= MIN_LM_DOCS else wiki_texts
    lm = KneserNeyLM.train(lm_texts)
    lm.save(out_dir / "lm.npz")

    ppl_step = recipes.step("commoncrawl", STAGE, "perplexity")
    cls_step = recipes.step("commoncrawl", STAGE, "wiki_classifier")
    cc_ids = cc.column("id").to_pylist()
    cc_texts = [t or "" for t in cc.column("text").to_pylist()]
    cuts = cutoffs(lm.perplexity(cc_texts), ppl_step.params["percentiles"]) if cc_texts else [float("inf")] * 2
    folds = cls_step.params["folds"]
    model_paths = []
    if cc_texts:
        model_paths = [p.name for p in classifier.train_folds(lm_texts,
                                                              cc_ids, cc_texts, folds, out_dir, seed)]
    manifest = {"lm": "lm.npz", "lm_docs": len(lm_texts), "lm_vocab": len(lm.vocab),
                "lm_language": "en" if lm_texts is en else "all",
                "cutoffs": cuts, "percentiles": ppl_step.params["percentiles"],
                "classifier": model_paths, "classifier_positives": len(lm_texts),
                "classifier_negatives": len(cc_texts), "seconds": round(time.perf_counter() - t0, 3)}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def filter_partition(table: pa.Table, source: str, models_dir: str | os.PathLike | None,
                     schema: pa.Schema = SCHEMA) -> StageResult:
    """Apply the source's quality steps to one partition."""
    t0 = time.perf_counter()
    n = table.num_rows
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    nbytes = text_bytes(table.column("text"))
    drops = DropLog(source, STAGE)
    keep = [True] * n
    ppl = [None] * n
    bucket = [None] * n
    wscore = [None] * n
    info: dict = {"steps": recipes.as_dict(source, STAGE)}

    def drop(i: int, reason: str, detail: str | None = None) -> None:
        keep[i] = False
        drops.add(ids[i], reason, nbytes[i], detail)

    for i, t in enumerate(texts):
        if t is None or not t.strip():
            drop(i, "empty_text")

    step = recipes.step(source, STAGE, "perplexity")
    if step and n:
        path = Path(models_dir) / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: materialize quality_models first")
        manifest = json.loads(path.read_text())
    if step and n and manifest["lm"] is None:
        info["skipped"] = f"perplexity and classifier skipped: {manifest['skipped']}"
    elif step and n:
        lm = KneserNeyLM.load(Path(models_dir) / manifest["lm"])
        live = [i for i in range(n) if keep[i]]
        p = lm.perplexity([texts[i] for i in live])
        b = buckets(p, manifest["cutoffs"])
        for i, pi, bi in zip(live, p, b):
            ppl[i], bucket[i] = float(pi), bi
            if bi not in step.params["keep"]:
                drop(i, f"perplexity_{bi}", f"{pi:.1f}")
        info["perplexity_cutoffs"] = manifest["cutoffs"]
        cls = recipes.step(source, STAGE, "wiki_classifier")
        if cls and manifest["classifier"]:
            live = [i for i in range(n) if keep[i]]
            paths = [Path(models_dir) / m for m in manifest["classifier"]]
            scores = classifier.score_folds(paths, [ids[i] for i in live], [texts[i] for i in live])
            # Held-out CC pages look like the classifier's negatives, so most score low: a fixed
            # cut would empty the partition. Drop the pages least like references instead: below
            # the `drop_quantile` of this partition's scores (pages scored >= 0.5 are always kept).
            cut = min(0.5, float(np.quantile(scores, cls.params["drop_quantile"]))) if len(scores) else 0.0
            for i, s in zip(live, scores):
                wscore[i] = float(s)
                if s < cut:
                    drop(i, "not_wiki_reference", f"{s:.4f}")
            info["classifier_threshold"] = cut

    def check_each(check, rewrite: bool) -> None:
        """check(text) -> (text', reason) on every kept document: dropped with the reason, else (rewrite) text'."""
        for i in range(n):
            if keep[i]:
                out, reason = check(texts[i])
                if reason:
                    drop(i, reason)
                elif rewrite:
                    texts[i] = out

    step = recipes.step(source, STAGE, "c4_heuristics")
    if step:
        check_each(lambda t: heuristics.c4_filter(t, **step.params), rewrite=True)

    lic = recipes.step(source, STAGE, "license")
    if lic:
        licenses = table.column("license").to_pylist()
        for i in range(n):
            if keep[i] and not heuristics.is_permissive(licenses[i]):
                drop(i, "github_license", licenses[i] or "unknown")
    if recipes.step(source, STAGE, "header_boilerplate"):
        stripped = 0
        for i in range(n):
            if keep[i]:
                new = heuristics.strip_header(texts[i])
                stripped += new != texts[i]
                texts[i] = new
                if not new.strip():
                    drop(i, "github_only_header")
        info["headers_removed"] = stripped
    gh = recipes.step(source, STAGE, "github_heuristics")
    if gh:
        check_each(lambda t: heuristics.github_filter(t, **gh.params), rewrite=False)

    out = add_columns(table, {"text": pa.array(texts, pa.string()),
                              "perplexity": pa.array(ppl, pa.float64()),
                              "bucket": pa.array(bucket, pa.string()),
                              "wiki_score": pa.array(wscore, pa.float64())}, schema)
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return finish(out, keep, drops, info, nbytes)


def filter_file(table: pa.Table, source: str, models_dir: str, models_stamp: str = "") -> StageResult:
    """filter_partition over one file's table (`models_stamp` only marks which models the file saw)."""
    return filter_partition(table, source, models_dir)
