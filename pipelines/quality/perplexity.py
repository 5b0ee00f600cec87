"""Word trigram language model with interpolated Kneser-Ney smoothing, in numpy (CCNet's KenLM role).

Trained on the Wikipedia partition; documents are scored by perplexity and put into CCNet buckets
(head / middle / tail) by the 30th and 60th percentiles of the perplexities of the partition being
filtered (CCNet computes its cut-offs on CommonCrawl itself; for English they are 340 / 520 with
KenLM on SentencePiece tokens, so our word-level numbers differ in scale, not in meaning).

n-grams are int64 keys over word ids (vocabulary < 2^21): counts come from `np.unique`, look-ups are
`np.searchsorted` over sorted key arrays, so scoring a partition is a few vectorized passes.

    P3(w|u v) = max(c(uvw) - D, 0) / c(uv.) + D N1+(uv.) / c(uv.) P2(w|v)      (raw counts)
    P2(w|v)   = max(N1+(.vw) - D, 0) / N1+(.v.) + D N1+(v.)' / N1+(.v.) P1(w)   (continuation counts)
    P1(w)     = max(N1+(.w) - D, 0) / N1+(..) + D |{w}| / N1+(..) / V           (continuation, + uniform)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")
_DIGIT = re.compile(r"\d")
_TOKEN_NL = re.compile(r"\w+|[^\w\s]|\n")
BITS = 21
BOS, EOS, UNK = 0, 1, 2


def tokenize(text: str) -> list[list[str]]:
    """Lines of lower-cased word/punctuation tokens, digits folded to 0 (as CCNet normalizes)."""
    return [toks for line in text.split("\n") if (toks := _TOKEN.findall(_DIGIT.sub("0", line.lower())))]


def _trigrams(ids_lines: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, w, line_index) of every predicted position; each line is padded <s> <s> ... </s>."""
    flat: list[int] = []
    for ids in ids_lines:
        flat += (BOS, BOS)
        flat += ids
        flat.append(EOS)
    x = np.array(flat, dtype=np.int64)
    if len(x) < 3:
        e = np.zeros(0, np.int64)
        return e, e, e, e
    u, v, w = x[:-2], x[1:-1], x[2:]
    keep = w != BOS  # the two padding positions of each line are not predicted
    line = (np.cumsum(x == EOS) - (x == EOS))[2:]
    return u[keep], v[keep], w[keep], line[keep]


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, c = np.unique(keys, return_counts=True)
    return u, c.astype(np.float64)


def _lookup(table_keys: np.ndarray, table_vals: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(table_keys) == 0:
        return np.zeros(len(keys))
    i = np.searchsorted(table_keys, keys)
    i = np.minimum(i, len(table_keys) - 1)
    return np.where(table_keys[i] == keys, table_vals[i], 0.0)


@dataclass
class KneserNeyLM:
    vocab: dict[str, int]
    discount: float
    tables: dict[str, np.ndarray]

    @property
    def V(self) -> int:
        return len(self.vocab) + 3

    @classmethod
    def train(cls, texts: Sequence[str], min_count: int = 2, discount: float = 0.75) -> "KneserNeyLM":
        lines = [l for t in texts for l in tokenize(t)]
        if not lines:
            raise ValueError("cannot train the perplexity model: no tokens in the training texts")
        counts: dict[str, int] = {}
        for line in lines:
            for w in line:
                counts[w] = counts.get(w, 0) + 1
        words = sorted(w for w, c in counts.items() if c >= min_count)
        if len(words) + 3 >= 1 << BITS:
            raise ValueError(f"vocabulary of {len(words)} words exceeds 2^{BITS}; raise min_count")
        lm = cls(vocab={w: i + 3 for i, w in enumerate(words)}, discount=discount, tables={})
        u, v, w, _ = _trigrams([lm._ids(line) for line in lines])
        S = np.int64(BITS)
        k3, c3 = _count((u << 2 * S) | (v << S) | w)
        ctx3, c_uv = _count(k3 >> S)                       # distinct (u, v, *) types per (u, v)
        c_uv_tot = np.bincount(np.searchsorted(ctx3, k3 >> S), weights=c3, minlength=len(ctx3))
        k2, cc2 = _count(k3 & ((1 << 2 * S) - 1))          # N1+(. v w): distinct u per (v, w)
        ctx2 = k2 >> S
        ctx2_u, n_vw = _count(ctx2)                        # N1+(v .) among continuation bigrams
        cc2_tot = np.bincount(np.searchsorted(ctx2_u, ctx2), weights=cc2, minlength=len(ctx2_u))
        k1, cc1 = _count(k2 & ((1 << S) - 1))               # N1+(. w): distinct v per w
        lm.tables = dict(k3=k3, c3=c3, ctx3=ctx3, ctx3_tot=c_uv_tot, ctx3_types=c_uv,
                         k2=k2, cc2=cc2, ctx2=ctx2_u, ctx2_tot=cc2_tot, ctx2_types=n_vw,
                         k1=k1, cc1=cc1, n1_tot=np.array([cc1.sum()]), n1_types=np.array([len(k1)]))
        return lm

    def _ids(self, tokens: list[str]) -> list[int]:
        get = self.vocab.get
        return [get(t, UNK) for t in tokens]

    def _logprob(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        t, D, S = self.tables, self.discount, np.int64(BITS)
        p1 = (np.maximum(_lookup(t["k1"], t["cc1"], w) - D, 0) + D * t["n1_types"][0] / self.V) / t["n1_tot"][0]
        tot2 = _lookup(t["ctx2"], t["ctx2_tot"], v)
        typ2 = _lookup(t["ctx2"], t["ctx2_types"], v)
        cc2 = _lookup(t["k2"], t["cc2"], (v << S) | w)
        safe2 = np.maximum(tot2, 1)
        p2 = np.where(tot2 > 0, np.maximum(cc2 - D, 0) / safe2 + D * typ2 / safe2 * p1, p1)
        uv = (u << S) | v
        tot3 = _lookup(t["ctx3"], t["ctx3_tot"], uv)
        typ3 = _lookup(t["ctx3"], t["ctx3_types"], uv)
        c3 = _lookup(t["k3"], t["c3"], (uv << S) | w)
        safe3 = np.maximum(tot3, 1)
        p3 = np.where(tot3 > 0, np.maximum(c3 - D, 0) / safe3 + D * typ3 / safe3 * p2, p2)
        return np.log(p3)

    def _doc_ids(self, text: str) -> list[list[int]]:
        """Token ids per non-empty line, in one regex pass over the whole document."""
        get, lines, cur = self.vocab.get, [], []
        for tok in _TOKEN_NL.findall(_DIGIT.sub("0", text.lower())):
            if tok == "\n":
                if cur:
                    lines.append(cur)
                    cur = []
            else:
                cur.append(get(tok, UNK))
        if cur:
            lines.append(cur)
        return lines

    def perplexity(self, texts: Sequence[str]) -> np.ndarray:
        """Per-document perplexity exp(-mean log p) over all tokens and line ends; inf for no tokens."""
        doc_lines = [self._doc_ids(t or "") for t in texts]
        line_doc = np.repeat(np.arange(len(texts)), [len(lines) for lines in doc_lines])
        u, v, w, line = _trigrams([l for lines in doc_lines for l in lines])
        # Score each distinct trigram once (text repeats a lot of them), then scatter back.
        S = np.int64(BITS)
        keys, inv = np.unique((u << 2 * S) | (v << S) | w, return_inverse=True)
        mask = (np.int64(1) << S) - 1
        lp = self._logprob(keys >> 2 * S, (keys >> S) & mask, keys & mask)[inv]
        doc = line_doc[line] if len(line) else np.zeros(0, np.int64)
        total = np.bincount(doc, weights=lp, minlength=len(texts))
        n = np.bincount(doc, minlength=len(texts))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, np.exp(-total / np.maximum(n, 1)), np.inf)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        np.savez(path, discount=np.array([self.discount]), **self.tables)
        path.with_suffix(".vocab.json").write_text(json.dumps(sorted(self.vocab, key=self.vocab.get)))

    @classmethod
    def load(cls, path: str | Path) -> "KneserNeyLM":
        path = Path(path)
        with np.load(path if path.suffix == ".npz" else path.with_suffix(".npz")) as z:
            tables = {k: z[k] for k in z.files if k != "discount"}
            discount = float(z["discount"][0])
        words = json.loads(Path(path).with_suffix(".vocab.json").read_text())
        return cls(vocab={w: i + 3 for i, w in enumerate(words)}, discount=discount, tables=tables)


def cutoffs(perplexities: np.ndarray, percentiles: Sequence[float] = (30, 60)) -> list[float]:
    """CCNet bucket boundaries: the given percentiles of the finite perplexities."""
    finite = perplexities[np.isfinite(perplexities)]
    if len(finite) == 0:
        return [float("inf")] * len(percentiles)
    return [float(x) for x in np.percentile(finite, percentiles)]


def buckets(perplexities: np.ndarray, cuts: Sequence[float]) -> list[str]:
    """head (< first cut), middle (< second cut), tail (the rest, including no tokens)."""
    head, middle = cuts
    return ["head" if p < head else "middle" if p < middle else "tail" for p in perplexities]
