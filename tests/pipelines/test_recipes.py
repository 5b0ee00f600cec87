"""Each curation recipe pinned through the code path the stage runs (filter_file / identify_partition with
the real recipe table), at its limits: a wrong threshold or a wrong comparison fails here."""
import hashlib
import json
import math
import re

import numpy as np
import pyarrow as pa
import pytest

from pipelines import langid, quality, recipes
from pipelines.dedup import SCHEMA as DEDUP_SCHEMA
from pipelines.dedup.line import line_hash, normalize_line
from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.quality import MANIFEST, filter_file


def _table(texts, source, schema=LID_SCHEMA, **cols):
    rows = [{"id": f"d{i:03d}", "source": source, "text": t, "lid_lang": "en", "lid_score": 0.9,
             **{k: v[i] for k, v in cols.items()}} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=schema)


def _reasons(res) -> dict:
    return dict(zip(res.dropped.column("id").to_pylist(), res.dropped.column("reason").to_pylist()))


# ----------------------------------------------------------------------------- GitHub (SPEC §1)

def _code(lines):
    return "\n".join(lines)


GH = recipes.step("github", recipes.QUALITY, "github_heuristics").params


@pytest.mark.parametrize("text,reason", [
    # longest line: 1000 characters allowed, 1001 not (mean kept low by short lines)
    (_code(["a" * 1000] + ["x = 1"] * 20), None),
    (_code(["a" * 1001] + ["x = 1"] * 20), "github_long_line"),
    # mean line length: 100 allowed, 100.5 not (two lines of 100 / 101 characters)
    (_code(["b" * 100, "c" * 100]), None),
    (_code(["b" * 100, "c" * 101]), "github_mean_line_length"),
    # alphanumeric share: exactly 0.25 allowed, just under not (100 characters, 25 or 24 letters)
    ("a" * 25 + "+" * 75, None),
    ("a" * 24 + "+" * 76, "github_alphanumeric"),
])
def test_github_limits_through_the_stage(text, reason):
    assert GH == {"max_line_length": 1000, "max_mean_line_length": 100, "min_alnum_fraction": 0.25}
    res = filter_file(_table([text], "github", license=["MIT"]), "github", "")
    assert _reasons(res).get("d000") == reason


# ----------------------------------------------------------------------------- C4

C4 = recipes.step("c4", recipes.QUALITY, "c4_heuristics").params
S = "The old bridge was repaired last spring."            # 7 words, one sentence
PAGE = "\n".join([S] * 3)                                  # 3 sentences: the least a page may have


@pytest.mark.parametrize("text,reason,kept", [
    # pages of 3 sentences are kept, 2 are not (the released C4: 3, not 5)
    (PAGE, None, PAGE),
    ("\n".join([S] * 2), "c4_too_few_sentences", None),
    ("The bridge was old. It was repaired. Then it opened.", None, None),   # 3 sentences on one line
    # 5 words per line kept, 4 dropped (the released C4: 5, not 3)
    (PAGE + "\nFive words make this line.", None, PAGE + "\nFive words make this line."),
    (PAGE + "\nFour words only here.", None, PAGE),
    # end marks . ? ! " keep a line; ' and \u201d do not; an ellipsis drops it
    (PAGE + "\nDid they repair the old bridge?", None, PAGE + "\nDid they repair the old bridge?"),
    (PAGE + "\nWhat a fine old bridge it is!", None, PAGE + "\nWhat a fine old bridge it is!"),
    (PAGE + '\nShe said "the bridge is open now."', None, PAGE + '\nShe said "the bridge is open now."'),
    (PAGE + "\nHe called it the 'old bridge'", None, PAGE),
    (PAGE + "\nHe called it the \u201cold bridge\u201d", None, PAGE),
    (PAGE + "\nAnd then the bridge was closed again...", None, PAGE),
    (PAGE + "\nNo end mark on this long line", None, PAGE),
    # javascript and policy/cookie lines are dropped, the page kept
    (PAGE + "\nPlease enable JavaScript to view this page.", None, PAGE),
    (PAGE + "\nBy using this site you accept our privacy policy.", None, PAGE),
    (PAGE + "\nThis website uses cookies to improve your experience.", None, PAGE),
    # lorem ipsum, a curly brace or a bad word in a kept line drops the page
    (PAGE + "\nLorem ipsum dolor sit amet, consectetur.", "c4_lorem_ipsum", None),
    (PAGE + "\nThe function returns { value: 1 } to callers.", "c4_curly_bracket", None),
    (PAGE + "\nThe sign said porn in big letters.", "c4_bad_words", None),
    (PAGE + "\nThe word sextant is not a bad word.", None, PAGE + "\nThe word sextant is not a bad word."),
    (PAGE + "\nThey saw 2 girls 1 cup on the list.", "c4_bad_words", None),   # a multi-word entry
    # ... but only in a line that is kept: a short line's bad word or brace does not count
    (PAGE + "\nporn {x}.", None, PAGE),
    # a word over 1000 characters drops its line; citations are removed
    (PAGE + "\nA line with " + "x" * 1001 + " in it.", None, PAGE),
    ("The old bridge was repaired last spring.[1]\n" + PAGE, None, S + "\n" + PAGE),
])
def test_c4_released_rules_through_the_stage(text, reason, kept):
    assert C4 == {"min_words_per_line": 5, "min_sentences": 3, "max_word_length": 1000}
    res = filter_file(_table([text], "c4"), "c4", "")
    assert _reasons(res).get("d000") == reason
    if reason is None and kept is not None:
        assert res.kept.column("text")[0].as_py() == kept


def test_c4_bad_words_are_the_full_published_english_list():
    from pipelines.quality import heuristics

    words = heuristics.bad_words()
    assert len(words) == 377 and words[0] == "2g1c" and words[-1] == "\U0001f595"       # LDNOOBW en at 25e679f
    folder = heuristics.BAD_WORDS_FILE.parent
    assert hashlib.sha256((folder / "en").read_bytes()).hexdigest() == \
        "a506cbcf8a31935b122299f3bb1d32be6db3d0ad498765d28f365dfc4f4d7b8c"
    assert "Attribution 4.0 International" in (folder / "LICENSE").read_text()
    assert "25e679f03d96baa721cde20db9944649e8d0a844" in (folder / "SOURCE.md").read_text()


# ----------------------------------------------------------------------------- language ID at 0.5

@pytest.mark.parametrize("lang,score,kept", [("en", 0.5, True), ("en", 0.5 + 1e-6, True), ("en", 0.5 - 1e-6, False),
                                             ("fr", 0.99, False)])
def test_lid_threshold_through_identify_partition(monkeypatch, lang, score, kept):
    assert recipes.step("commoncrawl", recipes.LID, "langid").params == {"keep": ["en"], "min_score": 0.5}
    monkeypatch.setattr(langid, "identify", lambda texts: ([lang] * len(texts), np.full(len(texts), score, np.float32)))
    res = langid.identify_partition(_table(["some page"], "commoncrawl", schema=DEDUP_SCHEMA), "commoncrawl")
    assert (res.kept.num_rows == 1) is kept
    # float32, as the column stores it: 0.5 - 1e-6 is still below 0.5 there
    assert np.float32(0.5 - 1e-6) < np.float32(0.5)


# ----------------------------------------------------------------------------- CC: buckets and classifier

class _FixedLM:
    """A model whose perplexity is written in the text ("ppl=123.4"): the cut-offs alone decide."""

    def perplexity(self, texts):
        return np.array([float(re.search(r"ppl=([\d.]+)", t).group(1)) for t in texts])


def _models(tmp_path, monkeypatch, cutoffs, scores=None):
    manifest = {"lm": "lm", "lm_backend": "kenlm", "cutoffs": cutoffs, "classifier": ["f0.bin"] if scores else []}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setattr(quality, "_models", lambda d, stamp: (json.loads(stamp), _FixedLM()))
    if scores is not None:
        monkeypatch.setattr(quality.classifier, "score_folds", lambda paths, ids, texts: np.array(
            [scores[t] for t in texts]))
    return str(tmp_path)


def test_perplexity_buckets_at_the_fixed_cutoffs(tmp_path, monkeypatch):
    assert recipes.step("commoncrawl", recipes.QUALITY, "perplexity").params["keep"] == ["head", "middle"]
    d = _models(tmp_path, monkeypatch, [340.0, 520.0])   # CCNet's English cut-offs
    texts = [f"page ppl={p}" for p in (339.9, 340.0, 519.9, 520.0, 5000.0)]
    res = filter_file(_table(texts, "commoncrawl"), "commoncrawl", d)
    assert res.kept.column("bucket").to_pylist() == ["head", "middle", "middle"]
    assert _reasons(res) == {"d003": "perplexity_tail", "d004": "perplexity_tail"}
    # Per document: the same page alone is bucketed the same way (no per-partition percentile).
    alone = filter_file(_table(texts[1:2], "commoncrawl"), "commoncrawl", d)
    assert alone.kept.column("bucket").to_pylist() == ["middle"]


def test_classifier_drops_below_one_half(tmp_path, monkeypatch):
    assert recipes.step("commoncrawl", recipes.QUALITY, "wiki_classifier").params["min_score"] == 0.5
    texts = [f"page {i} ppl=10" for i in range(4)]
    d = _models(tmp_path, monkeypatch, [340.0, 520.0], scores=dict(zip(texts, [0.4999, 0.5, 0.9, 0.01])))
    res = filter_file(_table(texts, "commoncrawl"), "commoncrawl", d)
    assert _reasons(res) == {"d000": "not_wiki_reference", "d003": "not_wiki_reference"}
    assert res.kept.column("wiki_score").to_pylist() == [0.5, 0.9]


@pytest.mark.parametrize("scorer", ["kenlm module", "native"])
def test_kenlm_perplexity_is_ccnets_formula(tmp_path, scorer):
    """A hand-written ARPA model (KenLM needs a bigram section; the one bigram "b a" is never used and
    every back-off is 1): P(a) = 1/2, P(b) = 1/4, P(</s>) = 1/4. The document "a b" scores
    log10(1/2 * 1/4 * 1/4) over 3 tokens (2 pieces + </s>): perplexity 32^(1/3). Through the `kenlm`
    module and through the native library (pipelines/quality/native.py), which `make install` builds."""
    kenlm = pytest.importorskip("kenlm")
    from pipelines.quality import native
    from pipelines.quality.lm import KenLMModel

    lg = math.log10
    arpa = ("\\data\\\nngram 1=4\nngram 2=1\n\n\\1-grams:\n"
            f"-99\t<s>\t0\n{lg(0.25):.7f}\t</s>\n{lg(0.5):.7f}\ta\t0\n{lg(0.25):.7f}\tb\t0\n\n"
            f"\\2-grams:\n{lg(0.5):.7f}\tb a\n\n\\end\\\n")
    (tmp_path / "lm.arpa").write_text(arpa)
    m = KenLMModel.__new__(KenLMModel)
    if scorer == "native":
        if native.library_path() is None:
            pytest.skip("native KenLM library not built (make install)")
        m.scorer = native.load(tmp_path / "lm.arpa")
        m.kenlm_id, m._word_ids = np.zeros(1, np.uint32), {}
    else:
        m.scorer, m.model = None, kenlm.Model(str(tmp_path / "lm.arpa"))
    # SentencePiece's encode (a line in, its pieces out; a list of lines, a list of id lists), on spaces
    m.sp = type("Split", (), {"encode": staticmethod(lambda lines, out_type=int, num_threads=1:
                                                     lines.split() if isinstance(lines, str)
                                                     else [[0] * len(line.split()) for line in lines]),
                              "unk_id": staticmethod(lambda: 0)})()
    m.piece = None  # no id table: every line takes the text path
    p = m.perplexity(["A b", "a b\nb", ""])
    assert p[0] == pytest.approx(32 ** (1 / 3), rel=1e-5)
    assert p[1] == pytest.approx((0.5 * 0.25 * 0.25 * 0.25 * 0.25) ** (-1 / 5), rel=1e-5)
    assert math.isinf(p[2])


# ----------------------------------------------------------------------------- CCNet line hash

# CCNet (cc_net/text_normalizer.py, normalize_for_dedup): strip; empty stays empty; lower-case; every
# digit -> "0"; remove the Unicode punctuation of its UNICODE_PUNCT table and the non-printing
# characters 0-31 and 127-159. cc_net/dedup.py str_hash: the first 8 bytes of SHA-1 of the UTF-8
# line, read as a little-endian uint64. Written out here from that description, not from our code.
CCNET_UNICODE_PUNCT = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"


def ccnet_normalize(line: str) -> str:
    line = line.strip()
    if not line:
        return line
    out = []
    for ch in line.lower():
        if ch.isdigit():
            ch = "0"
        if ch in CCNET_UNICODE_PUNCT or ord(ch) < 32 or 127 <= ord(ch) < 160:
            continue
        out.append(ch)
    return "".join(out)


def ccnet_hash(line: str) -> int:
    return int.from_bytes(hashlib.sha1(line.encode("utf-8")).digest()[:8], "little")


KNOWN = [
    # (line, CCNet-normalized): digits become 0 before punctuation is removed, so CCNet's "１"
    # (listed as punctuation) survives as "0"
    ("Hello World 2024", "hello world 0000"),
    ("  Ｃａｆé «１２３»\x07 ", "ｃａｆé 000"),
    ("Über 5 Größen", "über 0 größen"),
]


@pytest.mark.parametrize("line,normalized", KNOWN)
def test_line_normalization_and_hash_match_ccnet(line, normalized):
    assert ccnet_normalize(line) == normalized
    assert normalize_line(line) == normalized
    assert line_hash(normalize_line(line)) == ccnet_hash(normalized)


def test_line_hash_known_values():
    # sha1("hello world 0000")[:8] little-endian, and of the empty string (da39a3ee5e6b4b0d...).
    assert ccnet_hash("") == int.from_bytes(bytes.fromhex("da39a3ee5e6b4b0d"), "little")
    assert line_hash("") == ccnet_hash("")
    assert line_hash("hello world 0000") == int.from_bytes(
        hashlib.sha1(b"hello world 0000").digest()[:8], "little")


def test_line_normalization_keeps_ascii_punctuation_as_ccnet():
    weird = "０２３´∶：\x10 | ;012 hèllo"
    assert ccnet_normalize(weird) == "000 | ;000 hèllo"
    assert normalize_line(weird) == ccnet_normalize(weird)


# ----------------------------------------------------------------------------- curation_report

def test_rule_shares_follow_the_order_rules_run(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from pipelines import curation_report as cr

    pq.write_table(pa.table({"id": [f"d{i}" for i in range(100)]}), tmp_path / "raw.parquet")
    monkeypatch.setattr(cr, "_files", lambda d, which="output": [str(tmp_path / "raw.parquet")]
                        if "raw_documents" in str(d) else [])
    monkeypatch.setattr(cr, "drop_table", lambda root: [
        ("commoncrawl", "quality_filtered", "not_wiki_reference", 30, 0),
        ("commoncrawl", "quality_filtered", "perplexity_tail", 40, 0),
        ("commoncrawl", "deduplicated", "exact_duplicate", 10, 0),
        ("c4", "quality_filtered", "c4_bad_words", 5, 0)])
    assert cr.rule_shares(tmp_path) == [
        ("deduplicated", "exact_duplicate", 100, 90, 0.9),
        ("quality_filtered", "perplexity_tail", 90, 50, 0.5556),   # perplexity runs before the classifier
        ("quality_filtered", "not_wiki_reference", 50, 20, 0.4)]
