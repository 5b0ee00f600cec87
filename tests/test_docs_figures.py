"""Figures quoted in README.md and docs/*.md are the blocks of docs/figures.md, which
`llama-pipeline docs-figures` generates from a run's report JSON files (no demo run needed here)."""
import json
from pathlib import Path

from common.figures import blocks, quote_blocks, quoting_files, read_blocks, write_figures

ROOT = Path(__file__).resolve().parents[1]


def test_every_quoted_figure_equals_the_generated_file():
    generated = read_blocks((ROOT / "docs" / "figures.md").read_text())
    assert {"headline", "chat_eval", "reward_model_eval", "base_model_eval"} <= set(generated)
    quoted = {}
    for f in quoting_files(ROOT):
        for name, body in read_blocks(f.read_text()).items():
            assert name in generated, f"{f.name} quotes a block docs/figures.md does not have: {name}"
            assert body == generated[name], (f"{f.name}: the '{name}' figures differ from docs/figures.md; "
                                             "run `llama-pipeline docs-figures data` after `make demo`")
            quoted.setdefault(name, []).append(f.name)
    assert "README.md" in quoted["headline"] and "alignment.md" in quoted["chat_eval"]


def test_the_readme_quotes_no_stale_figure():
    readme = (ROOT / "README.md").read_text()
    outside = quote_blocks(readme, {name: "" for name in read_blocks(readme)})
    assert "0.543" not in outside and "89.3%" not in outside


def _summaries(d: Path) -> None:
    def put(rel: str, obj) -> None:
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(obj))

    bucket = lambda acc, n: {"acc": acc, "n": n}  # noqa: E731
    acc = {b: bucket(0.75, 4) for b in ["significantly better", "better", "slightly better",
                                        "negligibly better / unsure", "overall"]}
    put("reports/reward_model_eval/summary.json", {"accuracy": {"helpfulness RM": {"helpfulness test": acc},
                                                                "safety RM": {"safety test": acc}}})
    put("reports/base_model_eval/summary.json", {
        "models": ["init", "base_model"],
        "perplexity": {m: {"all": {"ppl": p, "tokens": 10}} for m, p in (("init", 2000.0), ("base_model", 300.04))},
        "tasks": {m: {"piqa": {"n": 4, "chance": 0.5, "acc_norm": 0.5}} for m in ("init", "base_model")}})
    put("base_model/summary.json", {"steps": 10, "first_loss": 7.0, "final_loss": 3.25})
    row = {"success %": 80.0, "safety violation %": 0.0, "multi-turn adherence %": 20.0, "mean helpfulness RM": 1.0}
    put("reports/chat_eval/summary.json", {
        "versions": ["sft_model", "rlhf_v5"], "baseline": "sft_model", "tasks": 10, "safe_prompts": 8,
        "unsafe_prompts": 2, "multi_turn_with_instruction": 1,
        "per_version": [{"version": "sft_model"} | row, {"version": "rlhf_v5"} | row | {"success %": 90.0}],
        "win_rates": [{"version": "rlhf_v5", "program judge vs SFT": 0.55, "helpfulness RM vs SFT": 0.5,
                       "program judge vs previous": 0.55}]})


def test_docs_figures_writes_the_file_and_rewrites_the_quotes(tmp_path):
    _summaries(tmp_path / "data")
    b = blocks(tmp_path / "data")
    assert b["headline"].startswith("RLHF v5 against SFT on 10 held-out prompts: program-judged win rate 0.550, "
                                    "success 80.0% → 90.0%")
    assert "| all | 2000.0 | 300.0 | 10 |" in b["base_model_eval"]
    assert "| helpfulness RM | helpfulness test | 75.0 (4) |" in b["reward_model_eval"]
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("x\n<!-- figures:headline -->\nwin rate 0.543\n<!-- /figures:headline -->\ny\n")
    write_figures(tmp_path / "data", root / "docs" / "figures.md", root)
    readme = (root / "README.md").read_text()
    assert "0.543" not in readme and readme.startswith("x\n<!-- figures:headline -->\nRLHF v5") and readme.endswith("y\n")
    assert read_blocks(readme)["headline"] == read_blocks((root / "docs" / "figures.md").read_text())["headline"]
