"""Quality filtering: Kneser-Ney LM, buckets, reference classifier, C4 and GitHub heuristics."""
import random

import numpy as np
import pyarrow as pa
import pytest

from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.quality import filter_partition, train_models
from pipelines.quality import heuristics as H
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
    ("Lorem ipsum dolor sit amet. " * 5, "c4_lorem_ipsum"),
    (GOOD_C4 + "\nfunction() { return 1; }", "c4_curly_bracket"),
    (GOOD_C4 + "\nBuy viagra now.", "c4_bad_words"),
    ("Menu\nHome\nContact", "c4_no_valid_lines"),
    ("One good sentence here.", "c4_too_few_sentences"),
])
def test_c4_rejects(text, reason):
    assert H.c4_filter(text) == (None, reason)


def test_c4_keeps_page_and_drops_bad_lines():
    text = GOOD_C4 + "\nPlease enable JavaScript to view this page.\nShare\nRead our privacy policy here."
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


def test_commoncrawl_perplexity_and_classifier(tmp_path):
    r = random.Random(5)
    wiki = _table([article(r) for _ in range(30)], "wikipedia")
    cc_texts = [article(r) for _ in range(40)] + [gibberish(r) for _ in range(10)]
    cc = _table(cc_texts, "commoncrawl")
    manifest = train_models(wiki, cc, tmp_path / "models")
    assert len(manifest["classifier"]) == 2 and manifest["cutoffs"][0] < manifest["cutoffs"][1]
    res = filter_partition(cc, "commoncrawl", tmp_path / "models")
    assert res.stats.balanced and res.kept.num_rows + res.dropped.num_rows == 50
    dropped = dict(zip(res.dropped.column("id").to_pylist(), res.dropped.column("reason").to_pylist()))
    assert all(dropped.get(f"co{i:03d}") == "perplexity_tail" for i in range(40, 50))  # gibberish
    assert set(res.kept.column("bucket").to_pylist()) <= {"head", "middle"}
    assert all(s is not None for s in res.kept.column("wiki_score").to_pylist())


def test_github_stage():
    texts = ["# Copyright X\n# MIT License\nimport os\nprint(os.name)\n", "int x;\n" + "y" * 2000,
             "print('hello world')\n", "a = 1\n"]
    t = _table(texts, "github", license=["MIT", "Apache-2.0", "GPL-3.0", None])
    r = filter_partition(t, "github", None)
    reasons = dict(zip(r.dropped.column("id").to_pylist(), r.dropped.column("reason").to_pylist()))
    assert reasons == {"gi001": "github_long_line", "gi002": "github_license", "gi003": "github_license"}
    assert r.kept.column("text").to_pylist() == ["import os\nprint(os.name)\n"]


def test_other_sources_pass_through_and_empty_partition():
    r = filter_partition(_table(["A text.", ""], "arxiv"), "arxiv", None)
    assert r.kept.num_rows == 1 and r.dropped.column("reason").to_pylist() == ["empty_text"]
    r = filter_partition(_table([], "c4"), "c4", None)
    assert r.kept.num_rows == 0 and r.stats.balanced


def test_no_wikipedia_text_skips_cc_models_without_losing_pages(tmp_path):
    cc = _table([article(), gibberish()], "commoncrawl")
    manifest = train_models(_table([""], "wikipedia"), cc, tmp_path / "m")
    assert manifest["lm"] is None
    r = filter_partition(cc, "commoncrawl", tmp_path / "m")
    assert r.kept.num_rows == 2 and "skipped" in r.info["skipped"]
