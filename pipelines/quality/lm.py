"""The perplexity model of the CommonCrawl recipe, as CCNet builds it, and its fixed bucket cut-offs.

CCNet (Wenzek et al. 2020) per language: a SentencePiece model trained on Wikipedia, a 5-gram KenLM
model (`lmplz`) trained on the Wikipedia text in those pieces, and a document's perplexity
10^(-sum log10 P / (pieces + one </s> per line)) over its lines, each scored with <s> and </s>. Text is
normalized first (lower case, accents removed, digits to 0, whitespace folded). Documents are then put
in head / middle / tail by two perplexity cut-offs that are fixed per language (CCNet's English: 340 /
520) and do not depend on the crawl being filtered, so a clean crawl keeps more than a spammy one.
We fix them the same way, once, with the model: the 30th / 60th percentiles of the perplexity of the
CommonCrawl pages scored when the model is built (a streaming quantile sketch, pipelines/quality/quantiles.py),
as CCNet's cut-offs are percentiles of the crawl's perplexity per language.

Backends behind one interface (`perplexity(texts)`, `save(dir)`, `load(dir, manifest)`):
- "kenlm": SentencePiece + lmplz + the `kenlm` module (built by `make install`, see the Makefile);
- "kneser_ney": our word-trigram interpolated Kneser-Ney model in numpy (perplexity.py), used when
  KenLM is not installed; the manifest records which backend ran and why.
"""
from __future__ import annotations

import functools
import io
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.host import memory_limit
from pipelines.quality import native
from pipelines.quality.perplexity import KneserNeyLM

ORDER = 5
SP_VOCAB = 65_536          # CCNet's SentencePiece vocabulary; capped by what the text supports
SP_MIN_VOCAB = 64
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"[ \t\u00a0]+")
_ASCII_DIGIT_TAB = bytes.maketrans(b"0123456789\t", b"0000000000 ")
_SPACE_RUN = re.compile(rb" {2,}")


def normalize(line: str) -> str:
    """CCNet's text normalization before SentencePiece: lower case, no accents, digits to 0."""
    line = line.strip().lower()
    if not line.isascii():  # ASCII has no accents to remove (NFD leaves it as is): most English lines
        line = unicodedata.normalize("NFD", line).translate(_marks())
    return _SPACE.sub(" ", _DIGIT.sub("0", line))


def normalized_lines(text: str) -> list[str]:
    """The non-empty normalize(line) of a document's lines. An ASCII document is normalized whole, as
    bytes, and split after (the same lines: for ASCII, lower case, digits and space runs never cross a
    line end and commute with strip): a table lookup and one regex pass per document, not per line."""
    if not text.isascii():
        return [n for line in text.split("\n") if (n := normalize(line))]
    raw = _SPACE_RUN.sub(b" ", text.encode("ascii").lower().translate(_ASCII_DIGIT_TAB))
    return [n for line in raw.decode("ascii").split("\n") if (n := line.strip())]


@functools.lru_cache(maxsize=1)
def _marks() -> dict:
    """str.translate table deleting every nonspacing mark (category Mn): one C pass per line instead of
    a Python test per character (the filter's largest cost, profiled)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Mn"}


def lmplz_path() -> str | None:
    """lmplz next to this Python (the Makefile builds it into .venv/bin) or on PATH."""
    local = Path(sys.executable).parent / "lmplz"
    return str(local) if local.is_file() else shutil.which("lmplz")


def lmplz_memory(text_bytes: int) -> str:
    """lmplz's sorting memory (`-S`) for a pieces file of `text_bytes`: four times the text (its counts
    and sorts fit in memory; more spills to `-T` files), at least 256 MiB (its vocabulary hash alone is
    ~25 MB), at most a tenth of what this process may use (common/host.py). Not lmplz's own `-S 10%`:
    that is a tenth of the host's physical memory, more than a container on a large host may have, and
    lmplz touches about a fifth of what it is given however small the text (measured: 2.4 GB asked,
    451 MB resident for 2,000 lines). The model is the same bytes for any budget (tested)."""
    budget = min(max(256 << 20, 4 * text_bytes), max(256 << 20, memory_limit() // 10))
    return f"{budget >> 20}M"


def kenlm_missing() -> str | None:
    """Why the KenLM backend cannot run here, or None."""
    try:
        import kenlm  # noqa: F401
        import sentencepiece  # noqa: F401
    except ImportError as e:
        return f"python module missing: {e.name} (run `make install`)"
    if lmplz_path() is None:
        return "lmplz not found next to the Python executable nor on PATH (run `make install`)"
    return None


class KenLMModel:
    """SentencePiece pieces + a KenLM n-gram model (files `sp.model`, `lm.arpa` in one folder)."""

    backend = "kenlm"
    order = ORDER

    def __init__(self, directory: str | os.PathLike):
        import sentencepiece as spm

        self.dir = Path(directory)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.dir / "sp.model"))
        # id -> piece lookup for perplexity(), or None when some piece is empty or holds white space
        # (KenLM would split it differently: every line then goes through the text path).
        table = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        self.piece = table.__getitem__ if all(p.split() == [p] for p in table) else None
        # KenLM from ids (native.py) when the library is built, else the `kenlm` module (self.model).
        self.scorer = native.load(self.dir / "lm.arpa")
        if self.scorer is not None:
            self.kenlm_id = np.array([self.scorer.index(p.encode()) for p in table], dtype=np.uint32)
            self._word_ids = dict(zip((p.encode() for p in table), self.kenlm_id.tolist()))

    @functools.cached_property
    def model(self):
        """The `kenlm` module's model of the same file (the path without the native library)."""
        import kenlm

        return kenlm.Model(str(self.dir / "lm.arpa"))

    @classmethod
    def train(cls, texts: Sequence[str], directory: str | os.PathLike, seed: int = 0,
              vocab: int = SP_VOCAB, order: int = ORDER) -> KenLMModel:
        import sentencepiece as spm

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        lines = [n for t in texts for line in t.split("\n") if (n := normalize(line))]
        if not lines:
            raise ValueError("cannot train the perplexity model: no text")
        with tempfile.TemporaryDirectory() as tmp:
            # The vocabulary a small corpus supports is below CCNet's 65k: ask for what fits
            # (hard_vocab_limit off). Sentences come from an iterator and the model goes to memory, so
            # that no temporary path is recorded in it: the same text gives the same bytes.
            chars = len(set("".join(lines)))
            size = max(SP_MIN_VOCAB, min(vocab, len(lines) * 2, chars + 4_000))
            model = io.BytesIO()
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_writer=model, vocab_size=size, hard_vocab_limit=False,
                model_type="unigram", character_coverage=0.9999, num_threads=1, minloglevel=2,
                input_sentence_size=2_000_000, shuffle_input_sentence=False)
            (d / "sp.model").write_bytes(model.getvalue())
            sp = spm.SentencePieceProcessor(model_file=str(d / "sp.model"))
            pieces = Path(tmp) / "pieces.txt"
            with open(pieces, "w", encoding="utf-8") as fh:
                fh.writelines(" ".join(sp.encode(line, out_type=str)) + "\n" for line in lines)
            arpa = d / "lm.arpa"
            # --discount_fallback: small corpora have too few singletons for Kneser-Ney's discounts.
            memory = lmplz_memory(pieces.stat().st_size)
            cmd = [lmplz_path(), "-o", str(order), "--discount_fallback", "-S", memory, "-T", tmp,
                   "--text", str(pieces), "--arpa", str(arpa)]
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if r.returncode < 0:
                raise RuntimeError(f"lmplz (-S {memory}) was killed by signal {-r.returncode} (out of memory?): "
                                   f"{r.stderr[-2000:]}")
            if r.returncode != 0:
                raise RuntimeError(f"lmplz (-S {memory}) failed ({r.returncode}): {r.stderr[-2000:]}")
        return cls(d)

    def perplexity(self, texts: Sequence[str]) -> np.ndarray:
        """CCNet's document perplexity; inf for a document without text. The lines of all documents
        are encoded by SentencePiece in one call (one thread: per-core throughput), as ids, then scored
        by KenLM from ids (native.py) or, without the native library, looked up in the piece table and
        scored as strings by the `kenlm` module. A line with an unknown piece is encoded again as text,
        since KenLM must see the unknown surface string (it may be in KenLM's vocabulary: training
        text was encoded the same way). Both paths give the same bits."""
        lines, owner = [], []
        for i, t in enumerate(texts):
            doc = normalized_lines(t or "")
            lines += doc
            owner += [i] * len(doc)
        score = self._scores_by_module if self.scorer is None else self._scores_by_id
        logp, n = score(lines, owner, len(texts))
        # Python floats, as before: the same bits (a vectorized pow may differ in the last place).
        return np.array([10.0 ** (-lp / k) if k else np.inf for lp, k in zip(logp, n)], dtype=np.float64)

    def _text_pieces(self, line: str) -> tuple[str, int]:
        """A line's pieces as SentencePiece's text (unknown pieces as they are) and how many there are."""
        joined = " ".join(self.sp.encode(line, out_type=str))
        return joined, len(joined.split())

    def _scores_by_module(self, lines: list[str], owner: list[int], docs: int) -> tuple[list, list]:
        logp, n = [0.0] * docs, [0] * docs
        score, piece, unk = self.model.score, self.piece, self.sp.unk_id()
        for i, line, ids in zip(owner, lines, self.sp.encode(lines, num_threads=1)):
            if piece is None or unk in ids:
                joined, count = self._text_pieces(line)
            else:  # no piece holds white space (checked once): KenLM's split sees exactly these pieces
                joined, count = " ".join(map(piece, ids)), len(ids)
            logp[i] += score(joined, bos=True, eos=True)
            n[i] += count + 1
        return logp, n

    def _scores_by_id(self, lines: list[str], owner: list[int], docs: int) -> tuple[list, list]:
        ids = self.sp.encode(lines, num_threads=1)
        counts = np.fromiter(map(len, ids), np.int64, len(ids))
        ends = np.cumsum(counts)
        pieces = np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(ends[-1]) if len(ends) else 0)
        del ids
        scores = self.scorer.score(self.kenlm_id[pieces], ends)
        if self.piece is None:
            text = range(len(lines))
        else:  # the lines holding an unknown piece
            text = np.unique(np.searchsorted(ends, np.flatnonzero(pieces == self.sp.unk_id()), side="right"))
        if len(text):
            words, text_ends = [], []
            for j in text:
                joined, counts[j] = self._text_pieces(lines[j])
                # KenLM's own split: ASCII white space, as bytes.split() does
                for w in joined.encode("utf-8").split():
                    k = self._word_ids.get(w)
                    words.append(self.scorer.index(w) if k is None else k)
                text_ends.append(len(words))
            scores[np.asarray(text, dtype=np.int64)] = self.scorer.score(np.array(words, np.uint32), np.array(text_ends))
        # per document, in line order, as Python would add them (ufunc.at is sequential and unbuffered)
        owner_ = np.asarray(owner, dtype=np.int64)
        logp, n = np.zeros(docs), np.zeros(docs, dtype=np.int64)
        np.add.at(logp, owner_, scores.astype(np.float64))
        np.add.at(n, owner_, counts + 1)
        return logp.tolist(), n.tolist()

    def files(self) -> list[str]:
        return ["sp.model", "lm.arpa"]


class KneserNeyModel:
    """Our word-trigram Kneser-Ney LM behind the same interface (file `lm.npz` + `lm.vocab.json`)."""

    backend = "kneser_ney"
    order = 3

    def __init__(self, directory: str | os.PathLike):
        self.lm = KneserNeyLM.load(Path(directory) / "lm.npz")

    @classmethod
    def train(cls, texts: Sequence[str], directory: str | os.PathLike, seed: int = 0,
              order: int = 3) -> KneserNeyModel:
        """`order` is accepted for the common interface; this model is always a trigram model."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        KneserNeyLM.train(texts).save(d / "lm.npz")
        return cls(d)

    def perplexity(self, texts: Sequence[str]) -> np.ndarray:
        return self.lm.perplexity(texts)

    def files(self) -> list[str]:
        return ["lm.npz", "lm.vocab.json"]


BACKENDS = {"kenlm": KenLMModel, "kneser_ney": KneserNeyModel}


def choose_backend(wanted: str) -> tuple[str, str | None]:
    """(backend to use, why it differs from `wanted` or None)."""
    if wanted == "kenlm":
        why = kenlm_missing()
        if why:
            return "kneser_ney", f"kenlm unavailable: {why}"
    return wanted, None


def load(directory: str | os.PathLike, backend: str):
    return BACKENDS[backend](directory)
