"""Quality filtering: LMs, buckets, cited-page reference classifier, C4 and GitHub heuristics."""
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.quality import MANIFEST, filter_file, filter_partition, train_models
from pipelines.quality import heuristics as H
from pipelines.quality.models import Reservoir
from pipelines.quality.perplexity import KneserNeyLM, buckets, cutoffs

rng = random.Random(0)
SUBJ = ["the river", "a small town", "the old harbour", "the museum", "the council", "a new bridge"]
VERB = ["was built", "is described", "was opened", "became known", "was studied", "is visited"]
TAIL = ["in the nineteenth century.", "by many travellers.", "during the war.", "for its history."]


def sentence(r=rng):
    return f"{r.choice(SUBJ).capitalize()} {r.choice(VERB)} {r.choice(TAIL)}"


def article(r=rng, n=12):
    return "\n".join(" ".join(sentence(r) for _ in range(3)) for _ in range(n // 3))


def gibberish(r=rng, n=60):
    return " ".join("".join(r.choices("qxzjkvwy", k=r.randint(3, 9))) for _ in range(n))


# ----------------------------------------------------------------------------- perplexity

def test_kneser_ney_is_a_distribution_and_prefers_in_domain_text(tmp_path):
    lm = KneserNeyLM.train([article() for _ in range(40)])
    # Sum of P(w | u v) over the whole vocabulary (plus <unk> and </s>) is 1 for seen and unseen contexts.
    ids = np.arange(1, lm.V)
    for u, v in [(0, 0), (lm.vocab["the"], lm.vocab["river"]), (lm.vocab["river"], lm.vocab["the"])]:
        p = np.exp(lm._logprob(np.full(len(ids), u), np.full(len(ids), v), ids))
        # Word ids never seen and never possible as unigrams are folded into <unk>.
        assert 0.98 < p.sum() <= 1.0 + 1e-6
    good, bad = lm.perplexity([article(), gibberish()])
    assert good < 20 < bad
    lm.save(tmp_path / "lm.npz")
    assert np.allclose(KneserNeyLM.load(tmp_path / "lm.npz").perplexity([article(random.Random(1))]),
                       lm.perplexity([article(random.Random(1))]))
    assert np.isinf(lm.perplexity([""])[0])


def test_buckets_by_percentile():
    p = np.arange(1, 11, dtype=float)
    cuts = cutoffs(p, (30, 60))
    assert buckets(p, cuts) == ["head"] * 3 + ["middle"] * 3 + ["tail"] * 4


# ----------------------------------------------------------------------------- heuristics

GOOD_C4 = "\n".join(sentence() + " " + sentence() for _ in range(4))


@pytest.mark.parametrize("text,reason", [
    (GOOD_C4 + "\nLorem ipsum dolor sit amet, consectetur adipiscing.", "c4_lorem_ipsum"),
    (GOOD_C4 + "\nThe function returns { value: 1 } to its callers.", "c4_curly_bracket"),
    (GOOD_C4 + "\nThe old sign said shit in red letters.", "c4_bad_words"),
    ("Menu\nHome\nContact", "c4_no_valid_lines"),
    ("One good sentence is here today.", "c4_too_few_sentences"),
])
def test_c4_rejects(text, reason):
    assert H.c4_filter(text) == (None, reason)


def test_c4_keeps_page_and_drops_bad_lines():
    text = GOOD_C4 + "\nPlease enable JavaScript to view this page.\nShare\nRead our privacy policy here today."
    out, reason = H.c4_filter(text)
    assert reason is None and out == GOOD_C4


@pytest.mark.parametrize("lic,ok", [("MIT", True), ("Apache-2.0", True), ("BSD-3-Clause", True),
                                    ("0BSD", True), ("GPL-3.0", False), (None, False), ("MIT-0", True),
                                    ("LGPL-2.1", False), ("AGPL-3.0", False)])
def test_license_filter(lic, ok):
    assert H.is_permissive(lic) is ok


def test_github_heuristics_spec_numbers():
    assert H.github_filter("x = 1\n" + "a" * 1001) == (None, "github_long_line")
    assert H.github_filter("\n".join(["b" * 150] * 5)) == (None, "github_mean_line_length")
    assert H.github_filter("{}[]();\n" * 10 + "ab") == (None, "github_alphanumeric")
    assert H.github_filter("def f(x):\n    return x + 1\n")[1] is None


def test_header_boilerplate_removed():
    src = "#!/usr/bin/env python\n# Copyright 2020 Someone\n# Licensed under the MIT License\n\nimport os\n"
    assert H.strip_header(src) == "#!/usr/bin/env python\nimport os\n"
    c = "/*\n * Copyright (c) 2019 X\n * SPDX-License-Identifier: BSD-3-Clause\n */\nint main() {}\n"
    assert H.strip_header(c) == "int main() {}\n"
    assert H.strip_header("# a normal comment\nx = 1\n") == "# a normal comment\nx = 1\n"


# ----------------------------------------------------------------------------- the stage

def _table(texts, source, **cols):
    rows = []
    for i, t in enumerate(texts):
        row = {"id": f"{source[:2]}{i:03d}", "source": source, "text": t, "cluster_id": f"d{i}",
               "duplicates": 0, "lines_removed": 0, "lid_lang": "en", "lid_score": 0.9}
        row.update({k: v[i] for k, v in cols.items()})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=LID_SCHEMA)


def _parquet(path, table):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


REFERENCE = ["Table {} lists the annual records of the survey office, revised in {}.",
             "Source: census archive, report {}, section {}.", "Data were collected between {} and {}."]


def reference_page(r):
    lines = [" ".join(r.choice(REFERENCE).format(r.randrange(1900, 2020), r.randrange(2, 99)) for _ in range(3))
             + " " + sentence(r) for _ in range(3)]
    return "\n".join(lines)


def _cc_and_wiki(tmp_path, r, n_cited=40, n_random=60, n_gibberish=10):
    """CC pages: reference-style ones that Wikipedia cites (URL spelled differently), ordinary ones, gibberish."""
    cc_texts = [reference_page(r) for _ in range(n_cited)] + [article(r) for _ in range(n_random)] + \
               [gibberish(r) for _ in range(n_gibberish)]
    urls = [f"https://site{i}.example.org/page/{i}" for i in range(len(cc_texts))]
    cited = [[f"http://www.SITE{i}.example.org/page/{i}/?utm_source=wiki#top" for i in range(k, n_cited, 10)]
             for k in range(10)]
    wiki = _table([article(r) for _ in range(10)], "wikipedia", cited_urls=cited + [None] * 0)
    wiki_more = _table([article(r) for _ in range(30)], "wikipedia")
    cc = _table(cc_texts, "commoncrawl", url=urls)
    files = ([_parquet(tmp_path / "w" / "a.parquet", wiki), _parquet(tmp_path / "w" / "b.parquet", wiki_more)],
             [_parquet(tmp_path / "c" / "a.parquet", cc.slice(0, 55)), _parquet(tmp_path / "c" / "b.parquet", cc.slice(55))])
    return files, cc


def test_models_from_files_cited_pages_and_per_document_filter(tmp_path):
    r = random.Random(5)
    (wiki_files, cc_files), cc = _cc_and_wiki(tmp_path, r)
    m = train_models(wiki_files, cc_files, tmp_path / "models", seed=0)
    assert m["cited_urls_found"] == 40 and m["cited_urls_distinct"] == 40
    assert m["cc_pages"] == 110 and m["cited_pages_matched"] == 40
    assert m["classifier_positives"] == 40 and m["classifier_negatives"] == 40   # balanced
    assert len(m["classifier"]) == 2 and m["classifier_heldout"]["accuracy"] >= 0.9
    assert m["cutoffs"][0] < m["cutoffs"][1] and m["lm_docs"] < 40           # 1 in 10 articles held out
    assert (m["cutoff_docs"], m["cutoff_source"], m["fallbacks"]) == (110, "commoncrawl documents scored", [])
    # The manifest on disk has no timings: the same inputs give the same bytes.
    assert "seconds" not in json.loads((tmp_path / "models" / MANIFEST).read_text())
    whole = filter_file(cc, "commoncrawl", str(tmp_path / "models"))
    reasons = dict(zip(whole.dropped.column("id").to_pylist(), whole.dropped.column("reason").to_pylist()))
    assert all(reasons.get(f"co{i:03d}") == "perplexity_tail" for i in range(100, 110))  # gibberish
    kept = set(whole.kept.column("id").to_pylist())
    assert sum(f"co{i:03d}" in kept for i in range(40)) >= 0.6 * 40 - sum(
        reasons.get(f"co{i:03d}", "").startswith("perplexity") for i in range(40))
    assert all(s >= 0.5 for s in whole.kept.column("wiki_score").to_pylist())
    assert all(r_ != "not_wiki_reference" or float(d) < 0.5 for r_, d in
               zip(whole.dropped.column("reason").to_pylist(), whole.dropped.column("detail").to_pylist()))
    # Per document: a file filtered alone gets exactly the decisions it gets inside a larger table.
    part = filter_file(cc.slice(0, 7), "commoncrawl", str(tmp_path / "models"))
    assert set(part.kept.column("id").to_pylist()) == kept & {f"co{i:03d}" for i in range(7)}


def test_training_samples_are_capped_and_seeded(tmp_path):
    r = random.Random(6)
    (wiki_files, cc_files), _ = _cc_and_wiki(tmp_path, r)
    a = train_models(wiki_files, cc_files, tmp_path / "a", seed=1, max_lm_docs=20, max_classifier_docs=15)
    b = train_models(wiki_files, cc_files, tmp_path / "b", seed=1, max_lm_docs=20, max_classifier_docs=15)
    assert a["lm_docs"] == 20 and a["lm_docs_seen"] > 20
    assert a["classifier_positives"] == 15 and a["cited_pages_matched"] == 40
    assert b["cutoffs"] == a["cutoffs"]
    # The manifest and the LM files are byte-identical on a rerun (fastText's binaries differ in a few
    # bytes of float noise; their scores do not).
    for f in (MANIFEST, "lm/sp.model", "lm/lm.arpa"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_reservoir_is_uniform_and_bounded():
    counts = np.zeros(100)
    for seed in range(400):
        res = Reservoir(10, seed)
        for i in range(100):
            res.add(i)
        assert len(res.items) == 10 and res.seen == 100
        counts[res.items] += 1
    assert counts.min() > 15 and counts.max() < 65   # expected 40 each


def test_no_cited_page_skips_the_classifier_only(tmp_path):
    r = random.Random(7)
    wiki = [_parquet(tmp_path / "w.parquet", _table([article(r) for _ in range(30)], "wikipedia"))]
    cc_t = _table([article(r) for _ in range(20)], "commoncrawl", url=[f"https://x{i}.org/" for i in range(20)])
    m = train_models(wiki, [_parquet(tmp_path / "c.parquet", cc_t)], tmp_path / "m")
    assert m["cited_pages_matched"] == 0 and m["classifier"] == [] and "too few cited" in m["classifier_skipped"]
    res = filter_file(cc_t, "commoncrawl", str(tmp_path / "m"))
    assert "not_wiki_reference" not in res.dropped.column("reason").to_pylist()


def test_github_stage():
    texts = ["# Copyright X\n# MIT License\nimport os\nprint(os.name)\n", "int x;\n" + "y" * 2000,
             "print('hello world')\n", "a = 1\n"]
    t = _table(texts, "github", license=["MIT", "Apache-2.0", "GPL-3.0", None])
    r = filter_partition(t, "github", None)
    reasons = dict(zip(r.dropped.column("id").to_pylist(), r.dropped.column("reason").to_pylist()))
    # The licence filter is the reader's (before dedup: test_paper_recipes.py); quality only has the heuristics.
    assert reasons == {"gi001": "github_long_line"}
    assert r.kept.column("text").to_pylist() == ["import os\nprint(os.name)\n", "print('hello world')\n", "a = 1\n"]


def test_other_sources_pass_through_and_empty_partition():
    r = filter_partition(_table(["A text.", ""], "arxiv"), "arxiv", None)
    assert r.kept.num_rows == 1 and r.dropped.column("reason").to_pylist() == ["empty_text"]
    r = filter_partition(_table([], "c4"), "c4", None)
    assert r.kept.num_rows == 0 and r.stats.balanced


def test_no_wikipedia_text_skips_cc_models_without_losing_pages(tmp_path):
    cc = _table([article(), gibberish()], "commoncrawl")
    wiki = [_parquet(tmp_path / "w.parquet", _table([""], "wikipedia"))]
    manifest = train_models(wiki, [_parquet(tmp_path / "c.parquet", cc)], tmp_path / "m")
    assert manifest["lm"] is None
    r = filter_partition(cc, "commoncrawl", tmp_path / "m")
    assert r.kept.num_rows == 2 and "skipped" in r.info["skipped"]


# ----------------------------------------------------------------------------- cited URLs

def test_cited_urls_from_wikitext():
    from pipelines.quality.references import cited_urls

    wt = ("'''X''' is a town.<ref>{{cite web |url=https://www.Example.com/a/b?x=1 |title=T}}</ref> See "
          "[http://site.org/page.html the page] and http://bare.net/p, also ''[https://it.org/q]''.\n"
          "<ref>{{cite news|url=https://web.archive.org/web/2019/http://old.com/story|title=S}}</ref>"
          "[[File:x.jpg]] [http://site.org/page.html again]")
    assert cited_urls(wt) == ["https://www.Example.com/a/b?x=1", "http://site.org/page.html", "http://bare.net/p",
                              "https://it.org/q", "http://old.com/story"]


@pytest.mark.parametrize("a,b", [
    ("http://www.Example.COM/path/", "https://example.com/path"),
    ("https://example.com/path?utm_source=wiki&b=2&a=1#frag", "http://example.com/path?a=1&b=2"),
    ("https://example.com:443/%7Euser", "http://example.com/~user"),
    ("https://example.com/?fbclid=xyz", "https://example.com"),
])
def test_url_normalization_joins_spellings_of_one_page(a, b):
    from pipelines.quality.references import normalize, url_key

    assert normalize(a) == normalize(b) and url_key(a) == url_key(b)


def test_url_normalization_keeps_pages_apart():
    from pipelines.quality.references import normalize

    assert normalize("https://example.com/a") != normalize("https://example.com/b")
    assert normalize("https://example.com/a?id=1") != normalize("https://example.com/a?id=2")
    assert normalize("https://example.com:8080/a") != normalize("https://example.com/a")
    assert normalize("ftp://example.com/a") is None and normalize("not a url") is None


def test_without_kenlm_the_kneser_ney_model_runs_with_the_same_fixed_cutoffs(tmp_path, monkeypatch):
    from pipelines.quality import lm as lms

    monkeypatch.setattr(lms, "kenlm_missing", lambda: "python module missing: kenlm")
    r = random.Random(8)
    (wiki_files, cc_files), cc = _cc_and_wiki(tmp_path, r)
    m = train_models(wiki_files, cc_files, tmp_path / "m")
    assert m["lm_backend"] == "kneser_ney" and m["lm_backend_note"] == "kenlm unavailable: python module missing: kenlm"
    assert m["cutoff_source"] == "commoncrawl documents scored" and m["cutoffs"][0] < m["cutoffs"][1]
    assert len(m["fallbacks"]) == 1 and "word-trigram" in m["fallbacks"][0]
    res = filter_file(cc, "commoncrawl", str(tmp_path / "m"))
    assert res.info["lm_backend"] == "kneser_ney" and res.info["perplexity_cutoffs"] == m["cutoffs"]


def test_cutoffs_are_percentiles_of_the_commoncrawl_pages_scored(tmp_path):
    """CCNet: head/middle/tail cut-offs at the 30th/60th percentile of the CC pages' perplexity, so ~40% of
    the scored pages are tail — also when one dump is far from Wikipedia (the real wget pages) and another
    close to it. Percentiles of held-out Wikipedia would put nearly all of the far dump in the tail."""
    from pipelines.quality.models import SKETCH

    r = random.Random(11)
    wiki = [_parquet(tmp_path / "w.parquet", _table([article(r) for _ in range(40)], "wikipedia"))]
    near = _table([article(r) for _ in range(60)], "commoncrawl", url=[f"https://a{i}.org/" for i in range(60)])
    far = _table([gibberish(r) if i % 2 else reference_page(r) for i in range(30)], "commoncrawl",
                 url=[f"https://b{i}.org/" for i in range(30)])
    cc = [_parquet(tmp_path / "c1.parquet", near), _parquet(tmp_path / "c2.parquet", far)]
    m = train_models(wiki, cc, tmp_path / "m")
    assert (m["cutoff_source"], m["cutoff_docs"]) == ("commoncrawl documents scored", 90)
    sketch = json.loads((tmp_path / "m" / SKETCH).read_text())
    assert sketch["n"] == 90 and sum(sketch["buckets"].values()) == 90          # stored with the model
    tails = 0
    for t in (near, far):
        res = filter_file(t, "commoncrawl", str(tmp_path / "m"))
        tails += res.dropped.column("reason").to_pylist().count("perplexity_tail")
    assert 0.35 <= tails / 90 <= 0.45            # ~40%: the 60th percentile of the same pages (37 of 90 at exact ranks)


@pytest.mark.parametrize("case", ["no_kenlm", "little_english", "no_commoncrawl", "no_wikipedia"])
def test_paper_profiles_fail_instead_of_falling_back(tmp_path, monkeypatch, case):
    from pipelines.quality import lm as lms
    from pipelines.quality.models import QualityModelError

    r = random.Random(12)
    (wiki_files, cc_files), _ = _cc_and_wiki(tmp_path, r)
    if case == "no_kenlm":
        monkeypatch.setattr(lms, "kenlm_missing", lambda: "python module missing: kenlm")
        match = "word-trigram"
    elif case == "little_english":
        t = _table([article(r) for _ in range(30)], "wikipedia")
        wiki_files = [_parquet(tmp_path / "fr.parquet", t.set_column(t.schema.get_field_index("lid_lang"),
                                                                     "lid_lang", pa.array(["fr"] * 30)))]
        match = "every language"
    elif case == "no_commoncrawl":
        cc_files = []
        match = "no CommonCrawl page"
    else:
        wiki_files = []
        match = "no text to train on"
    m = train_models(wiki_files, cc_files, tmp_path / "demo")            # demo profiles: noted, not fatal
    assert any(match in n for n in m.get("fallbacks", []) + [m.get("skipped") or ""])
    with pytest.raises(QualityModelError, match=match):
        train_models(wiki_files, cc_files, tmp_path / "paper", allow_fallbacks=False)
    from llama_model.configs import PROFILES
    assert all(not p.data.quality_fallbacks for p in PROFILES.values() if p.paper)
    assert PROFILES["tiny"].data.quality_fallbacks


def test_lmplz_memory_follows_the_text_within_the_process_limit(monkeypatch):
    from pipelines.quality import lm as lms

    monkeypatch.setattr(lms, "memory_limit", lambda: 24 << 30)
    assert lms.lmplz_memory(1_000) == "256M"                  # lmplz's floor, not a tenth of the host
    assert lms.lmplz_memory(200 << 20) == "800M"               # four times the pieces text
    assert lms.lmplz_memory(100 << 30) == f"{(24 << 30) // 10 >> 20}M"  # a tenth of what the process may use
    monkeypatch.setattr(lms, "memory_limit", lambda: 1 << 30)  # a small container: never below the floor
    assert lms.lmplz_memory(100 << 30) == "256M"


def test_the_kenlm_model_is_the_same_bytes_for_any_lmplz_memory(tmp_path, monkeypatch):
    pytest.importorskip("kenlm")
    from pipelines.quality import lm as lms

    if lms.lmplz_path() is None:
        pytest.skip("lmplz not built")
    r = random.Random(5)
    texts = [article(r) for _ in range(60)]
    arpas = []
    for memory in ("64M", "1G"):
        monkeypatch.setattr(lms, "lmplz_memory", lambda _n, m=memory: m)
        lms.KenLMModel.train(texts, tmp_path / memory, vocab=300)
        arpas.append((tmp_path / memory / "lm.arpa").read_bytes())
    assert arpas[0] == arpas[1] and arpas[0].startswith(b"\\data\\\nngram 1=")
