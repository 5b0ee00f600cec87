"""Language identification with fastText's lid.176 (vendored in pipelines/langid_model/, CC BY-SA 3.0).

Every document gets two columns, `lid_lang` (ISO 639 code, e.g. "en") and `lid_score` (the top
label's probability); the source recipe then keeps documents whose label is in its list with a score
at or above its threshold (CCNet: English, 0.5). The model is loaded once per process and every
partition is predicted in one batched call, so the stage costs little more than the model itself
(benchmarks/langid.py measures the overhead).

The `lang` column of raw_documents (the tag a dump gives itself) is left untouched.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from pipelines import recipes
from pipelines.dedup import SCHEMA as DEDUP_SCHEMA
from pipelines.stage import DropLog, StageResult, add_columns, finish, text_bytes

MODEL_PATH = Path(__file__).resolve().parent / "langid_model" / "lid.176.ftz"
STAGE = recipes.LID
ADDED_COLUMNS = [("lid_lang", pa.string()), ("lid_score", pa.float32())]
SCHEMA = pa.schema(list(DEDUP_SCHEMA) + [pa.field(n, t) for n, t in ADDED_COLUMNS])

_model = None
_lock = threading.Lock()


def load_model(path: str | Path = MODEL_PATH):
    """The fastText model, loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            import fasttext  # imported lazily: only this stage needs it

            if not Path(path).is_file():
                raise FileNotFoundError(f"fastText language-ID model missing: {path} (see langid_model/README.md)")
            # fasttext prints a deprecation warning on stderr for load_model; the model is a supervised one.
            fasttext.FastText.eprint = lambda *a, **k: None
            _model = fasttext.load_model(str(path))
        return _model


def _prepare(texts: Sequence[str | None]) -> list[str]:
    # fastText predicts one line at a time: newlines become spaces; None becomes "".
    return [t.replace("\n", " ") if t else "" for t in texts]


def identify(texts: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """(labels, scores) of every text in one batched predict; an empty text gets ("", 0.0)."""
    if len(texts) == 0:
        return [], np.zeros(0, np.float32)
    labels, probs = load_model().predict(_prepare(texts), k=1)
    langs = [lab[0][9:] if lab else "" for lab in labels]  # strip "__label__"
    scores = np.fromiter((p[0] if len(p) else 0.0 for p in probs), dtype=np.float32, count=len(texts))
    for i, t in enumerate(texts):
        if not t or not t.strip():
            langs[i], scores[i] = "", 0.0
    return langs, scores


def identify_partition(table: pa.Table, source: str, schema: pa.Schema = SCHEMA) -> StageResult:
    """Label every document; drop those the source's recipe does not keep (reason `language`)."""
    t0 = time.perf_counter()
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    nbytes = text_bytes(table.column("text"))
    langs, scores = identify(texts)
    seconds = time.perf_counter() - t0
    step = recipes.step(source, STAGE, "langid")
    keep_langs = set(step.params["keep"]) if step and step.params.get("keep") else None
    min_score = float(step.params.get("min_score", 0.0)) if step else 0.0
    drops = DropLog(source, STAGE)
    keep = []
    for i, (lang, score) in enumerate(zip(langs, scores)):
        ok = keep_langs is None or (lang in keep_langs and score >= min_score)
        keep.append(ok)
        if not ok:
            drops.add(ids[i], "language", nbytes[i], f"{lang or 'none'}:{score:.3f}")
    out = add_columns(table, {"lid_lang": pa.array(langs, pa.string()),
                              "lid_score": pa.array(scores, pa.float32())}, schema)
    counts: dict[str, int] = {}
    for lang in langs:
        counts[lang or "none"] = counts.get(lang or "none", 0) + 1
    info = {"steps": recipes.as_dict(source, STAGE), "predict_seconds": round(seconds, 3),
            "languages": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:20])}
    return finish(out, keep, drops, info, nbytes)
