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
    expected = np.array([per_line(t) for t in texts])
    assert np.array_equal(lm.perplexity(texts), expected)
    if lm.scorer is not None:  # the native library is built: the `kenlm` module path gives the same bits
        lm.scorer = None
        assert np.array_equal(lm.perplexity(texts), expected)


def old_c4_filter(text, min_words_per_line=5, min_sentences=3, max_word_length=1000):
    """heuristics.c4_filter as it was: the whole bad-words alternation searched on every kept line."""
    from pipelines.quality import heuristics as h

    kept, sentences = [], 0
    for line in text.splitlines():
        line = line.strip()
        if any(len(w) > max_word_length for w in line.split()):
            continue
        line = h._CITATION.sub("", line)
        if not line.endswith(h.END_MARKS) or line.endswith(h.ELLIPSIS):
            continue
        if len(line.split()) < min_words_per_line:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            return None, "c4_lorem_ipsum"
        if "javascript" in low:
            continue
        if "{" in line:
            return None, "c4_curly_bracket"
        if any(p in low for p in h.POLICY):
            continue
        if h._bad_words_regex().search(low):
            return None, "c4_bad_words"
        sentences += h._sentences(line)
        kept.append(line)
    if not kept:
        return None, "c4_no_valid_lines"
    if sentences < min_sentences:
        return None, "c4_too_few_sentences"
    return "\n".join(kept).strip(), None


def _list_words():
    from pipelines.quality.heuristics import bad_words

    return list(bad_words())


# Lines built from list entries, their pieces, letters and separators: matches at edges, inside longer
# words, next to digits and punctuation, multi-word entries broken by an extra space.
piece = st.one_of(st.sampled_from(_list_words()), st.sampled_from(["a", "s", "x", "2", "-", ".", " ", "  ", "é"]),
                  st.text(alphabet="abcgilmnorstuwy 12.!-", max_size=8))


@settings(max_examples=400, deadline=None)
@given(st.lists(piece, max_size=8).map("".join))
def test_bad_word_lookup_answers_as_the_alternation(line):
    from pipelines.quality.heuristics import _bad_words_regex, has_bad_word

    low = line.lower()
    assert has_bad_word(low) == bool(_bad_words_regex().search(low))


def test_every_list_entry_is_found_where_the_alternation_finds_it():
    from pipelines.quality.heuristics import _bad_words_regex, has_bad_word

    for w in _list_words():
        for line in (w, f"x {w}.", f"x{w}", f"{w}s", f"1{w}1", f"[{w}]"):
            assert has_bad_word(line.lower()) == bool(_bad_words_regex().search(line.lower())), line


line_piece = st.one_of(piece, st.sampled_from(["[1]", "[edit]", "[citation needed]", "lorem ipsum", "{", "javascript",
                                               "privacy policy", "...", "\n", "\n", "x" * 1001, "The cat sat on the mat.",
                                               "Cookie Policy", "\r", "\x1c", "He said \"yes\"", "Yes!"]),
                       # a list entry cut by a citation: removing it makes the entry (the page did not hold it)
                       st.sampled_from(_list_words()).map(lambda w: w[:1] + "[2]" + w[1:]),
                       st.sampled_from(_list_words()).map(str.upper))


@settings(max_examples=600, deadline=None)
@given(st.lists(line_piece, max_size=30).map(" ".join))
def test_c4_filter_decides_as_before(text):
    from pipelines.quality.heuristics import c4_filter

    assert c4_filter(text) == old_c4_filter(text)


def test_a_citation_that_joins_a_list_entry_drops_the_page():
    """The page-level shortcut (no entry anywhere in the page) must not skip a line whose citation removal
    makes one: C4 removes citations first, then searches."""
    from pipelines.quality.heuristics import _LETTERS, c4_filter, has_bad_word

    w = next(w for w in _list_words() if _LETTERS.fullmatch(w) and len(w) > 3)
    text = f"This line has {w[:2]}[1]{w[2:]} in it.\nAnother line of five words.\nA third line, with words."
    assert not has_bad_word(text.lower())
    assert c4_filter(text) == old_c4_filter(text) == (None, "c4_bad_words")
    clean = text.replace(f"{w[:2]}[1]{w[2:]}", "nothing")
    assert c4_filter(clean) == old_c4_filter(clean) and c4_filter(clean)[1] is None


def test_every_policy_phrase_holds_a_hint():
    from pipelines.quality.heuristics import POLICY, POLICY_HINTS

    assert all(any(h in p for h in POLICY_HINTS) for p in POLICY)
