"""The quality filter's model scoring, per core: the per-document reference path vs the batched one.

    python benchmarks/quality_speed.py --work /tmp/quality-speed        # trains small models once, cached

Trains (once, cached under --work) a SentencePiece + 5-gram KenLM model on the bundled Wikipedia sample
and a fastText reference classifier, then scores the bundled StackExchange, C4 and CommonCrawl text
(repeated `--repeat` times) with the reference path (a copy of the per-document, per-line code this
replaced) and with the library's path; prints MB/s of each, the speed-up, and checks that the
perplexities and classifier scores are bit-identical.
"""
from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reference_normalize(line: str) -> str:
    """lm.normalize as it was: NFD, then a Python test per character."""
    from pipelines.quality.lm import _DIGIT, _SPACE

    line = unicodedata.normalize("NFD", line.strip().lower())
    line = "".join(c for c in line if unicodedata.category(c) != "Mn")
    return _SPACE.sub(" ", _DIGIT.sub("0", line))


def reference_wiki_probability(model, texts) -> np.ndarray:
    """classifier.wiki_probability as it was: each page lowered and split whole, then cut."""
    import re

    from pipelines.quality.classifier import MAX_WORDS, POS

    cut = [" ".join(re.sub(r"\s+", " ", (t or "").lower()).split(" ")[:MAX_WORDS]).strip() for t in texts]
    labels, probs = model.predict(cut, k=2)
    return np.array([dict(zip(labs, ps)).get(POS, 0.0) for labs, ps in zip(labels, probs)], dtype=np.float64)


def reference_perplexity(model, texts) -> np.ndarray:
    """KenLMModel.perplexity as it was: one SentencePiece call per line."""
    out = np.full(len(texts), np.inf)
    for i, t in enumerate(texts):
        logp, n = 0.0, 0
        for line in (t or "").split("\n"):
            line = reference_normalize(line)
            if not line:
                continue
            pieces = " ".join(model.sp.encode(line, out_type=str))
            logp += model.model.score(pieces, bos=True, eos=True)
            n += len(pieces.split()) + 1
        if n:
            out[i] = 10.0 ** (-logp / n)
    return out


def texts_of(root: Path, source: str) -> list[str]:
    import pyarrow.parquet as pq

    return [t for f in sorted((root / "raw_documents" / source).rglob("part-*.parquet"))
            for t in pq.read_table(f, columns=["text"]).column("text").to_pylist() if t]


def prepare(work: Path):
    from pipelines import curation
    from pipelines.engine import LocalEngine
    from pipelines.quality import classifier
    from pipelines.quality.lm import KenLMModel
    from pipelines.samples import bundled_dumps_dir

    data = work / "data"
    for s, d in [("wikipedia", "20220701"), ("stackexchange", "2024-04"), ("c4", "en"),
                 ("commoncrawl", "CC-MAIN-2023-50")]:
        if not (data / "raw_documents" / s / d / "_manifest.json").exists():
            curation.ingest(LocalEngine(1), data, bundled_dumps_dir(), s, d)
    wiki = texts_of(data, "wikipedia")
    other = texts_of(data, "stackexchange") + texts_of(data, "c4") + texts_of(data, "commoncrawl")
    if not (work / "lm" / "lm.arpa").exists():
        KenLMModel.train(wiki, work / "lm")
    if not (work / "clf.bin").exists():
        classifier.train(wiki, other, work / "clf.bin")
    return other


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/quality-speed"))
    ap.add_argument("--repeat", type=int, default=8)  # ~15 MB: a few seconds per path
    a = ap.parse_args()
    import fasttext

    from pipelines.quality import classifier
    from pipelines.quality.lm import KenLMModel

    texts = prepare(a.work) * a.repeat
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    lm = KenLMModel(a.work / "lm")
    clf = fasttext.load_model(str(a.work / "clf.bin"))
    lm.perplexity(texts[:50])  # warm: the accent table, first-call costs
    t = time.process_time()
    old_p = reference_perplexity(lm, texts)
    old_s = reference_wiki_probability(clf, texts)
    old = time.process_time() - t
    t = time.process_time()
    new_p = lm.perplexity(texts)
    new_s = classifier.wiki_probability(clf, texts)
    new = time.process_time() - t
    same = np.array_equal(old_p, new_p) and np.array_equal(old_s, new_s)
    print(f"{len(texts):,} documents, {mb:.2f} MB of text (CPU seconds of this process: per core)")
    print(f"reference (per line):  {old:6.2f} s  {mb / old:6.2f} MB/s")
    print(f"batched:               {new:6.2f} s  {mb / new:6.2f} MB/s")
    print(f"speed-up x{old / new:.2f} (goal >= 2); outputs bit-identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
