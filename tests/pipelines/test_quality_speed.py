"""The batched quality-filter text paths give exactly what the per-line / per-document code gave."""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.quality import classifier
from pipelines.quality.lm import _DIGIT, _SPACE, normalize, normalized_lines


def old_normalize(line: str) -> str:
    line = unicodedata.normalize("NFD", line.strip().lower())
    line = "".join(c for c in line if unicodedata.category(c) != "Mn")
    return _SPACE.sub(" ", _DIGIT.sub("0", line))


def old_classifier_normalize(text: str) -> str:
    return " ".join(re.sub(r"\s+", " ", (text or "").lower()).split(" ")[:classifier.MAX_WORDS]).strip()


TRICKY = ["Ça déjà vu 123\n\n  Naïve\t\tcafé  \u00a0x ", "a \u0301 \nb\r\n\x0b\x1c", "ΟΔΟΣ ΑΣ\nΣ.", "İstanbul ½ ٣",
          " leading space " + "w " * 300, "", "   ", "\n\n", "x" * 10 + "\u2028y"]
ascii_text = st.text(alphabet=st.sampled_from(list("aZ9 \t\r\n\x0b\x0c\x1c\x1f.-_")), max_size=80)
any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


def test_tricky_texts_normalize_as_before():
    for t in TRICKY:
        assert normalize(t) == old_normalize(t)
        assert normalized_lines(t) == [n for line in t.split("\n") if (n := old_normalize(line))]
        assert classifier.normalize(t) == old_classifier_normalize(t)
    assert classifier.normalize(None) == ""


@settings(max_examples=300, deadline=None)
@given(st.one_of(ascii_text, any_text))
def test_any_text_normalizes_as_before(t):
    assert normalized_lines(t) == [n for line in t.split("\n") if (n := old_normalize(line))]
    assert classifier.normalize(t) == old_classifier_normalize(t)
    assert classifier.normalize(t * 60) == old_classifier_normalize(t * 60)


def test_kenlm_id_path_scores_as_the_per_line_text_path(tmp_path):
    """perplexity() looks pieces up by id, and sends lines with an unknown piece through the text path:
    the same bits as encoding and scoring each line as text, including characters SentencePiece leaves
    unknown (a rare character seen in training is in KenLM's vocabulary under its surface form)."""
    pytest.importorskip("kenlm")
    from pipelines.quality.lm import KenLMModel, lmplz_path

    if lmplz_path() is None:
        pytest.skip("lmplz not built")
    train = [f"the {w} of the river {i} runs past the old mill and the town" for i, w in
             enumerate(["water", "stone", "bridge", "valley", "ferry"] * 40)] + ["a rare ж once"]
    lm = KenLMModel.train(train, tmp_path / "lm", vocab=120)
    texts = ["The water runs past 12 mills.\nThe town\t of ж and ѯ", "ѯѯ\nriver", "", "Ça déjà vu", "ж"]

    def per_line(t):
        logp, n = 0.0, 0
        for line in t.split("\n"):
            if (line := old_normalize(line)):
                pieces = " ".join(lm.sp.encode(line, out_type=str))
                logp += lm.model.score(pieces, bos=True, eos=True)
                n += len(pieces.split()) + 1
        return 10.0 ** (-logp / n) if n else np.inf

    assert lm.piece is not None and lm.sp.unk_id() in lm.sp.encode("ѯ")
    assert np.array_equal(lm.perplexity(texts), np.array([per_line(t) for t in texts]))
