"""Perplexity per source, win rates, RM bucket accuracy and the report writers."""
import math

import pytest
import torch
from eval_fakes import BigramLM

from llama_model.eval.perplexity import perplexity, perplexity_per_source, windows_from_tokens
from llama_model.eval.report import Section, bar_chart, markdown_table, png_markdown, scatter_chart, write_report
from llama_model.eval.winrate import bucket_accuracy, compare, rate, version_win_rates


def test_uniform_model_has_perplexity_equal_to_the_vocabulary():
    model = BigramLM(16)
    windows = list(windows_from_tokens(torch.arange(100) % 16, seq_len=8, batch_size=4))
    assert [w.shape for w in windows] == [(4, 9), (4, 9), (4, 9)]  # 12 windows of 8+1 tokens
    r = perplexity(model, windows)
    assert r["ppl"] == pytest.approx(16.0, rel=1e-5) and r["tokens"] == 12 * 8


def test_perplexity_per_source_pools_tokens_and_a_confident_model_is_better():
    seq = torch.tensor([[3, 4, 3, 4, 3]])
    model = BigramLM(8, {(3, 4): 0.9, (4, 3): 0.9})
    out = perplexity_per_source(model, {"c4": [seq], "books": [seq, seq]})
    assert out["c4"]["ppl"] == pytest.approx(1 / 0.9, rel=1e-5)
    assert out["books"]["tokens"] == 8 and out["all"]["tokens"] == 12
    assert out["all"]["loss"] == pytest.approx(-math.log(0.9), rel=1e-5)
    assert math.isnan(perplexity(model, [])["ppl"])


def test_compare_counts_wins_ties_losses_and_ties_count_half():
    o = compare([1.0, 0.5, 0.0, 0.3], [0.0, 0.5, 1.0, 0.0])
    assert (o.wins, o.ties, o.losses, o.n) == (2, 1, 1, 4)
    assert o.win_rate == pytest.approx(2.5 / 4)
    assert compare([0.1], [0.0], tie_margin=0.2).ties == 1
    with pytest.raises(ValueError, match="same prompts"):
        compare([1.0], [1.0, 2.0])


def test_version_win_rates_against_baseline_and_previous():
    scores = {"rm": {"sft": [0, 0], "v1": [1, 1], "v2": [1, 2]}}
    rows = version_win_rates(scores, ["sft", "v1", "v2"], baseline="sft")
    assert rows == [{"version": "v1", "rm vs sft": 1.0, "rm vs previous": 1.0},
                    {"version": "v2", "rm vs sft": 1.0, "rm vs previous": 0.75}]


def test_bucket_accuracy_is_table_8_shaped():
    acc = bucket_accuracy([1, 1, 0, 1], [0, 0, 1, 2], [3, 3, 2, 0])
    assert acc["significantly better"] == {"n": 2, "acc": 1.0}
    assert acc["better"] == {"n": 1, "acc": 0.0}
    assert math.isnan(acc["slightly better"]["acc"])
    assert acc["overall"] == {"n": 4, "acc": 0.5}
    assert rate([True, False, False, False]) == 25.0 and math.isnan(rate([]))


def test_report_page_tables_and_deterministic_plots(tmp_path):
    rows = [{"source": "c4", "init": 2048.0, "base": 312.456}, {"source": "books", "init": float("nan"), "base": 1.0}]
    md = markdown_table(rows)
    assert md.splitlines()[0] == "| source | init | base |" and "| c4 | 2048.000 | 312.456 |" in md and "–" in md
    png = bar_chart(tmp_path / "ppl.png", ["c4", "books"], {"init": [2048, 2000], "base": [312, 280]}, "ppl", log=True)
    first = png.read_bytes()
    bar_chart(tmp_path / "ppl.png", ["c4", "books"], {"init": [2048, 2000], "base": [312, 280]}, "ppl", log=True)
    assert png.read_bytes() == first and first[:8] == b"\x89PNG\r\n\x1a\n"
    sc = scatter_chart(tmp_path / "fig11.png", {"v1": (0.6, 0.55)}, "win rates", "helpful", "harmless")
    assert png_markdown(sc).startswith("![plot](data:image/png;base64,iVBOR")
    page = write_report(tmp_path / "index.html", "base_model_eval <x>",
                        [Section("Perplexity", rows, images=[png, sc], text="lower is better")])
    html = page.read_text()
    assert "<td>312.456</td>" in html and "<img src='ppl.png'" in html and "&lt;x&gt;" in html
    assert not list(tmp_path.glob(".*tmp*"))


def test_eval_checks_on_summaries():
    from llama_model.eval.checks import (
        every_rating_bucket_evaluated,
        newest_version_beats_sft,
        perplexity_below_untrained,
    )

    ppl = {"init (untrained)": {"c4": {"ppl": 2000.0}, "all": {"ppl": 2000.0}},
           "base_model": {"c4": {"ppl": 300.0}, "all": {"ppl": 300.0}}}
    assert perplexity_below_untrained({"perplexity": ppl})[0]
    ppl["base_model"]["c4"]["ppl"] = 2500.0
    ok, why, _ = perplexity_below_untrained({"perplexity": ppl})
    assert not ok and "c4" in why

    full = {b: {"n": 3, "acc": 0.5} for b in ("significantly better", "better", "slightly better",
                                               "negligibly better / unsure", "overall")}
    acc = {"helpfulness RM": {"helpfulness test": full, "safety test": full | {"better": {"n": 0, "acc": None}}}}
    assert every_rating_bucket_evaluated({"accuracy": acc})[0]  # a safety test set may lack a bucket
    acc["helpfulness RM"]["helpfulness test"] = full | {"better": {"n": 0, "acc": None}}
    ok, why, _ = every_rating_bucket_evaluated({"accuracy": acc})
    assert not ok and "helpfulness test: better" in why

    rows = [{"version": "rlhf_v1", "program judge vs SFT": 0.5, "helpfulness RM vs SFT": 0.6},
            {"version": "rlhf_v5", "program judge vs SFT": 0.7, "helpfulness RM vs SFT": 0.8}]
    assert newest_version_beats_sft({"win_rates": rows})[0]
    assert not newest_version_beats_sft({"win_rates": rows[:1]})[0]
    assert not newest_version_beats_sft({"win_rates": []})[0]


def test_rm_scatter_merges_coincident_versions_and_stays_readable(tmp_path):
    from llama_model.eval.report import coincident_groups

    pts = {f"rlhf_v{i}": (0.5, 0.5) for i in range(1, 4)} | {"rlhf_v4": (0.496, 0.5), "rlhf_v5": (0.50004, 0.49999)}
    groups = coincident_groups(pts)      # equal to 3 decimals: one marker, one legend entry
    assert [g[0] for g in groups] == [["rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v5"], ["rlhf_v4"]]
    many = {f"v{i}": (0.4 + 0.01 * i, 0.6 - 0.01 * i) for i in range(12)}
    png = scatter_chart(tmp_path / "many.png", many, "win rates", "helpful", "harmless")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(coincident_groups(many)) == 12


def test_every_paper_profile_is_shown_beside_its_own_published_row():
    """The report's paper column (harness.paper_section) names each paper profile's own model: Llama 2 34B
    is not compared against LLaMA-1 7B. BoolQ's column reads the "Answer:"-normalized score."""
    from llama_model.configs import PROFILES
    from llama_model.eval.harness import paper_section

    for name in [n for n, p in PROFILES.items() if p.paper]:
        summary = {"results": {"boolq_mini": {"acc_mutual_info,none": 0.5, "acc,none": 0.5}},
                   "task_files": {"boolq_mini": {"layout": "boolq"}}, "n-shot": {"boolq_mini": 0}}
        _, table = paper_section({"base_model": summary}, {}, name)
        row = table["rows"][0]
        assert table["model"] == name and row["metric"] == "acc_mutual_info" and row["base_model %"] == 50.0
    _, t34 = paper_section({"m": summary}, {}, "llama2-34b")
    assert t34["rows"][0]["paper llama2-34b %"] == 83.7          # Llama 2 Table 20, BoolQ
