"""Language identification with fastText's lid.176 (vendored in pipelines/langid_model/, CC BY-SA 3.0).

Every document gets two columns, `lid_lang` (ISO 639 code, e.g. "en") and `lid_score` (the top
label's probability); the source recipe then keeps documents whose label is in its list with a score
at or above its threshold (CCNet: English, 0.5). The model is loaded once per process and every
partition is predicted in one batched call, so the stage costs little more than the model itself
(benchmarks/langid.py measures the overhead).

The `lang` column of raw_documents (the tag a dump gives itself) is left untouched.

fastText sees normalized text (`normalize`): newlines and Unicode spaces become spaces (fastText itself
reads a run of ASCII whitespace as one separator, so doubled spaces change nothing), and a text that is
mostly capitals (more upper- than lower-case letters, or more than 60% of its words
capitalized, judged on its first 4096 characters) is lower-cased. lid.176 scores all-caps English news
at 0.2-0.5 (dropped at CCNet's 0.5) and the same text lower-cased at 0.96+; ordinary text is passed with
its case, so German nouns or names keep theirs. English recall on real text in upper, title and mixed
case is measured by benchmarks/langid_case.py (figures in docs/curation.md).

Wikipedia is not filtered by per-article LID: its recipe keeps the 20 languages of SPEC §1 by the dump's
language (`lang`, from the file name) and only reports how often LID agrees with it.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from pipelines import recipes
from pipelines.document import LID_COLUMNS, LID_SCHEMA
from pipelines.stage import DropLog, StageResult, add_columns, finish, text_bytes

MODEL_PATH = Path(__file__).resolve().parent / "langid_model" / "lid.176.ftz"
STAGE = recipes.LID
ADDED_COLUMNS = LID_COLUMNS
SCHEMA = LID_SCHEMA

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


CASE_SAMPLE_CHARS = 4096
# Every character str.isspace() calls whitespace beyond ASCII, and the newline.
_SPACES = re.compile("[\n\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
TITLE_WORDS_SHARE = 0.6


def _case_counts(sample: str) -> tuple[int, int]:
    """(upper-case letters, lower-case letters) of `sample`: the characters lower() / upper() change,
    compared as UTF-32 arrays (a Python loop per character would cost as much as the prediction)."""
    lo, up = sample.lower(), sample.upper()
    if len(lo) == len(sample) == len(up):
        try:
            a, b, c = (np.frombuffer(x.encode("utf-32-le", "surrogatepass"), np.uint32) for x in (sample, lo, up))
            return int((a != b).sum()), int((a != c).sum())
        except UnicodeEncodeError:
            pass
    return sum(map(str.isupper, sample)), sum(map(str.islower, sample))


def mostly_capitals(text: str) -> bool:
    """More upper- than lower-case letters, or more than 60% of the words capitalized (title case)."""
    sample = text[:CASE_SAMPLE_CHARS]
    upper, lower = _case_counts(sample)
    if upper > lower:
        return True
    if upper * 10 < upper + lower:  # ordinary prose has ~3-5% capitals, title case ~20%: skip the word loop
        return False
    words = [w for w in sample.split() if w[:1].isalpha()]
    return bool(words) and sum(w[0].isupper() for w in words) > TITLE_WORDS_SHARE * len(words)


def normalize(text: str | None) -> str:
    """What fastText sees: one line, whitespace runs as one space, lower-cased when mostly capitals."""
    if not text:
        return ""
    # fastText already treats a run of ASCII whitespace as one separator (a newline, though, is not
    # allowed in predict); Unicode spaces (no-break, ideographic, ...) it would read as letters.
    t = text.replace("\n", " ") if text.isascii() else _SPACES.sub(" ", text)
    return t.lower() if mostly_capitals(t) else t


def _prepare(texts: Sequence[str | None]) -> list[str]:
    return [normalize(t) for t in texts]


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


def lid_agreement(dump_langs: Sequence[str | None], langs: Sequence[str], scores, min_score: float = 0.5) -> dict:
    """How often per-article LID (label with score >= min_score) agrees with the dump's language, per
    dump language; lid.176's Serbo-Croatian/Bosnian labels count as agreeing with hr, sr and bs."""
    south_slavic = {"hr", "sr", "bs", *recipes.WIKI_LID_ALIASES}
    out: dict[str, dict] = {}
    for dump_lang, lang, score in zip(dump_langs, langs, scores):
        row = out.setdefault(dump_lang or "none", {"documents": 0, "agree": 0})
        row["documents"] += 1
        same = lang == dump_lang or (lang in south_slavic and dump_lang in south_slavic)
        row["agree"] += bool(same and score >= min_score)
    for row in out.values():
        row["share"] = round(row["agree"] / row["documents"], 4)
    return dict(sorted(out.items()))


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
    by_dump = recipes.step(source, STAGE, "dump_language")
    dump_langs = table.column("lang").to_pylist() if by_dump else None
    drops = DropLog(source, STAGE)
    keep = []
    for i, (lang, score) in enumerate(zip(langs, scores)):
        if by_dump and dump_langs[i] not in by_dump.params["keep"]:
            keep.append(False)  # the dump's language (Wikipedia: the file name) is not one of the recipe's
            drops.add(ids[i], "dump_language", nbytes[i], f"{lang or 'none'}:{score:.3f}")
            continue
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
    if by_dump:
        info["lid_check"] = lid_agreement(dump_langs, langs, scores, min_score=0.5)
    return finish(out, keep, drops, info, nbytes)
