"""The `quality_filtered` stage and the models it needs (`quality_models`, trained in models.py).

- commoncrawl: perplexity bucket from a 5-gram KenLM on SentencePiece pieces trained on Wikipedia
  (CCNet; lm.py), cut-offs fixed with the model, tail dropped; then the reference classifier (cited
  vs random CommonCrawl pages), pages with P(reference) below 0.5 dropped.
- c4: C4 heuristics (lines dropped inside a page; pages dropped with a `c4_*` reason).
- github: licence filter, header boilerplate removal, line-length / alphanumeric heuristics.
- other sources: kept as they are (their recipes have no quality step).
Every decision is per document: a file is filtered the same way whatever else is in its partition.
"""
from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import pyarrow as pa

from pipelines import recipes
from pipelines.document import QUALITY_COLUMNS, QUALITY_SCHEMA
from pipelines.quality import classifier, heuristics
from pipelines.quality import lm as lms
from pipelines.quality.models import MANIFEST, train_models
from pipelines.quality.perplexity import buckets
from pipelines.stage import DropLog, StageResult, add_columns, finish, text_bytes

STAGE = recipes.QUALITY
ADDED_COLUMNS = QUALITY_COLUMNS
SCHEMA = QUALITY_SCHEMA
__all__ = ["MANIFEST", "SCHEMA", "filter_file", "filter_partition", "train_models"]


@functools.lru_cache(maxsize=2)
def _models(models_dir: str, stamp: str) -> tuple[dict, object]:
    """The manifest and LM of a models folder, once per process (`stamp`: the manifest's text)."""
    manifest = json.loads(stamp)
    lm = lms.load(Path(models_dir) / manifest["lm"], manifest["lm_backend"]) if manifest.get("lm") else None
    return manifest, lm


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
        manifest, lm = _models(str(models_dir), path.read_text())
    if step and n and lm is None:
        info["skipped"] = f"perplexity and classifier skipped: {manifest['skipped']}"
    elif step and n:
        live = [i for i in range(n) if keep[i]]
        p = lm.perplexity([texts[i] for i in live])
        b = buckets(p, manifest["cutoffs"])
        for i, pi, bi in zip(live, p, b):
            ppl[i], bucket[i] = float(pi), bi
            if bi not in step.params["keep"]:
                drop(i, f"perplexity_{bi}", f"{pi:.1f}")
        info.update(perplexity_cutoffs=manifest["cutoffs"], lm_backend=manifest["lm_backend"])
        cls = recipes.step(source, STAGE, "wiki_classifier")
        if cls and manifest["classifier"]:
            live = [i for i in range(n) if keep[i]]
            paths = [Path(models_dir) / m for m in manifest["classifier"]]
            scores = classifier.score_folds(paths, [ids[i] for i in live], [texts[i] for i in live])
            for i, s in zip(live, scores):
                wscore[i] = float(s)
                if s < cls.params["min_score"]:
                    drop(i, "not_wiki_reference", f"{s:.4f}")
            info["classifier_threshold"] = cls.params["min_score"]
        elif cls:
            info["classifier_skipped"] = manifest.get("classifier_skipped")

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
    """filter_partition over one file's table (`models_stamp` only marks which models the file saw:
    every decision is per document, so a file's result does not depend on the rest of its partition).
    Models on object storage are copied to a local cache first (keyed by the stamp): they load by path."""
    from pipelines.fs import is_remote, local_copy

    if models_dir and is_remote(models_dir) and models_stamp:
        models_dir = str(local_copy(models_dir, tag=models_stamp))
    return filter_partition(table, source, models_dir)
