"""The native KenLM scorer (native/kenlm_score.cc, built by `make install`) against the `kenlm` module."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.quality import native

kenlm = pytest.importorskip("kenlm")
if native.library_path() is None:
    from pipelines.quality.lm import lmplz_path

    # `make install` builds both from one KenLM build: lmplz without the scorer is a broken install
    if lmplz_path() is not None:
        raise RuntimeError(f"lmplz is built but not {native.LIBRARY}: run `make install`")
    pytest.skip("KenLM not built here (make install)", allow_module_level=True)

WORDS = ["the", "river", "runs", "past", "old", "mill", "town", "a", "of"]


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    """A trigram model by lmplz over a small text (back-offs at every order)."""
    from pipelines.quality.lm import lmplz_path

    d = tmp_path_factory.mktemp("lm")
    if lmplz_path() is None:
        pytest.skip("lmplz not built")
    import subprocess

    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(rng.choice(WORDS[:7], size=rng.integers(3, 12))) for _ in range(400))
    (d / "text.txt").write_text(text + "\n")
    subprocess.run([lmplz_path(), "-o", "3", "--discount_fallback", "-S", "64M", "-T", str(d),
                    "--text", str(d / "text.txt"), "--arpa", str(d / "lm.arpa")], check=True, capture_output=True)
    return d / "lm.arpa"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS + ["unseen", "<s>", "</s>"]), max_size=20), max_size=12))
def test_batches_score_as_the_module_per_line(arpa, lines):
    """Any batch of lines (empty ones, unknown words, <s> and </s> as words): each line's float has the
    bits of kenlm.Model.score(line, bos=True, eos=True)."""
    scorer, model = _scorer(arpa), _model(arpa)
    words = np.array([scorer.index(w.encode()) for line in lines for w in line], dtype=np.uint32)
    ends = np.cumsum([len(line) for line in lines]).astype(np.int64)
    got = scorer.score(words, ends)
    assert got.dtype == np.float32
    assert [float(x) for x in got] == [model.score(" ".join(line), bos=True, eos=True) for line in lines]


def test_index_is_kenlms_vocabulary(arpa):
    scorer = _scorer(arpa)
    assert scorer.index(b"unseen") == 0  # <unk>
    assert len({scorer.index(w.encode()) for w in WORDS[:7]}) == 7 and scorer.index(b"river") != 0


def test_errors_are_one_line(tmp_path, arpa):
    with pytest.raises(OSError, match=r"^KenLM cannot load .*missing\.arpa: [^\n]+$"):
        native.Scorer(tmp_path / "missing.arpa", native.library_path())
    (tmp_path / "bad.arpa").write_text("not an arpa file\n")
    with pytest.raises(OSError, match=r"^KenLM cannot load .*bad\.arpa: [^\n]+$"):
        native.Scorer(tmp_path / "bad.arpa", native.library_path())
    with pytest.raises(ValueError, match="line ends"):
        _scorer(arpa).score(np.zeros(2, np.uint32), np.array([3]))
    assert math.isfinite(float(_scorer(arpa).score(np.zeros(0, np.uint32), np.array([0]))[0]))


_cache: dict = {}


def _scorer(path):
    return _cache.setdefault(("native", path), native.load(path))


def _model(path):
    return _cache.setdefault(("module", path), kenlm.Model(str(path)))
