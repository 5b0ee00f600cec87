"""English recall of language ID on real English text in upper, title and mixed case (issue 13).

    python benchmarks/langid_case.py

Texts: the real English documents of the bundled samples (the enwiki articles, 300 beer.stackexchange
questions, 150 paragraphs of > 300 characters from each of pg11, pg1513 and pg84). Each is scored as
is, upper-cased, title-cased and in mixed case (every word upper-cased with probability 1/2, seed 0),
by raw lid.176 on the text with newlines replaced (what the stage did before) and by
`pipelines.langid.identify` (normalized text). Recall = share labelled `en` with score >= 0.5 (CCNet).
The planted foreign documents of the ground truth are scored the same way (accuracy = right label,
score >= 0.5) to show normalization does not cost other languages.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipelines.langid import identify, load_model  # noqa: E402
from pipelines.readers import read_source  # noqa: E402

B = ROOT / "pipelines" / "samples" / "bundled"


def english_texts() -> list[str]:
    texts = [d.text for d in read_source("wikipedia", B / "wikipedia" / "20220701") if d.lang == "en"]
    texts += [d.text for d in read_source("stackexchange", B / "stackexchange" / "2024-04")
              if d.repo.startswith("beer")][:300]
    for d in read_source("books", B / "books" / "gutenberg"):
        if d.origin.rsplit("/", 1)[-1] in ("pg11.txt", "pg1513.txt", "pg84.txt"):
            texts += [p for p in d.text.split("\n\n") if len(p) > 300][:150]
    return texts


def foreign_texts() -> tuple[list[str], list[str]]:
    truth = json.loads((B / "ground_truth.json").read_text())["languages"]
    texts, langs = [], []
    for src in ("commoncrawl", "c4", "wikipedia"):
        for dump in sorted((B / src).iterdir()):
            for d in read_source(src, dump):
                if d.id in truth:
                    texts.append(d.text)
                    langs.append(truth[d.id])
    return texts, langs


def score(texts: list[str], want: list[str]) -> tuple[float, float]:
    raw_labels, raw_p = load_model().predict([t.replace("\n", " ") for t in texts], k=1)
    raw = np.mean([lab[0][9:] == w and p[0] >= 0.5 for lab, p, w in zip(raw_labels, raw_p, want)])
    langs, scores = identify(texts)
    ours = np.mean([lang == w and s >= 0.5 for lang, s, w in zip(langs, scores, want)])
    return float(raw), float(ours)


def main() -> None:
    rng = random.Random(0)
    cases = {"as is": lambda t: t, "upper": str.upper, "title": str.title,
             "mixed": lambda t: " ".join(w.upper() if rng.random() < 0.5 else w for w in t.split(" "))}
    en = english_texts()
    print(f"English: {len(en)} real texts; recall = labelled en with score >= 0.5")
    print(f"{'case':8s} {'raw lid.176':>12s} {'normalized':>11s}")
    for name, f in cases.items():
        raw, ours = score([f(t) for t in en], ["en"] * len(en))
        print(f"{name:8s} {raw:12.3f} {ours:11.3f}")
    texts, langs = foreign_texts()
    print(f"\nPlanted foreign documents: {len(texts)} ({' '.join(sorted(set(langs)))}); accuracy")
    for name in ("as is", "upper", "title"):
        raw, ours = score([cases[name](t) for t in texts], langs)
        print(f"{name:8s} {raw:12.3f} {ours:11.3f}")


if __name__ == "__main__":
    main()
