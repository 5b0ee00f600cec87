"""Our HF export is trl-ready: trl's SFTTrainer(assistant_only_loss=True) puts the loss on exactly the tokens
our SFT loss mask marks, the pad token is set, and the recipe in examples/trl_finetune.py runs SFT then DPO
on our own SFT dialogues and preference pairs."""
import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")          # nothing here may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
trl = pytest.importorskip("trl")
pytest.importorskip("datasets")

from assets.cli import main  # noqa: E402 (after the importorskip above)
from llama_model import align_data as ad  # noqa: E402 (after the importorskip above)
from llama_model.chat_format import encode_dialogue  # noqa: E402 (after the importorskip above)
from llama_model.checkpoint import save_meta  # noqa: E402 (after the importorskip above)
from llama_model.configs import ModelArgs  # noqa: E402 (after the importorskip above)
from llama_model.model import Transformer  # noqa: E402 (after the importorskip above)
from llama_model.tokenizer import Tokenizer  # noqa: E402 (after the importorskip above)
from pipelines.tokenizer_training import train_tokenizer  # noqa: E402 (after the importorskip above)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
import trl_finetune  # noqa: E402 (examples/ is not a package)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A tiny SFT-like model and our tokenizer (trained on our SFT dialogues), exported to HF."""
    root = tmp_path_factory.mktemp("trl")
    texts = [ad.sft_to_jsonl(ad.sft_dialogues(200, seed=s)) for s in range(3)]
    model_bytes, _ = train_tokenizer(texts, vocab_size=600)
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.model").write_bytes(model_bytes)
    args = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=600, multiple_of=16,
                     norm_eps=1e-5, max_seq_len=512)
    torch.manual_seed(0)
    save_meta(Transformer(args).eval(), args, root / "sft_model")
    (root / "sft_model" / "tokenizer.model").write_bytes(model_bytes)
    assert main(["convert", "--to", "hf", str(root / "sft_model"), str(root / "hf"),
                 "--tokenizer", str(root / "tokenizer" / "tokenizer.model")]) == 0
    return root


def _sft_file(root: Path, n: int = 12) -> tuple[Path, list[dict]]:
    dialogues = ad.sft_dialogues(n, seed=5)
    f = root / "sft.jsonl"
    f.write_text(ad.sft_to_jsonl(dialogues), encoding="utf-8")
    return f, dialogues


def test_the_export_has_a_pad_token_and_a_training_chat_template(export):
    from transformers import AutoTokenizer
    from trl.chat_template_utils import (
        has_generation_markers,
        is_chat_template_stop_token_trained,
    )

    tok = AutoTokenizer.from_pretrained(export / "hf")
    assert (tok.pad_token, tok.pad_token_id) == ("<unk>", 0)
    assert has_generation_markers(tok.chat_template) and is_chat_template_stop_token_trained(tok)


def test_trl_assistant_only_loss_masks_exactly_our_sft_tokens(export, tmp_path):
    f, dialogues = _sft_file(tmp_path)
    trainer = trl_finetune.sft(export / "hf", f, tmp_path / "out", steps=2)
    assert trainer.chat_template is None           # our own template is used, not one trl swaps in
    ours = Tokenizer(export / "tokenizer" / "tokenizer.model")
    masked = 0
    for row, d in zip(trainer.train_dataset, dialogues):
        ids, mask = encode_dialogue(ours, d["turns"], d.get("system"))
        assert row["input_ids"] == ids
        # trl folds its assistant mask into the labels (-100 off the answers): token by token, our mask
        assert [int(t != -100) for t in row["labels"]] == mask
        batch = trainer.data_collator([row])           # and the labels the loss sees
        assert [int(t != -100) for t in batch["labels"][0].tolist()] == mask
        masked += sum(mask)
    assert masked > 0 and len(trainer.train_dataset) == len(dialogues)
    trainer.train()
    loss = trainer.state.log_history[-1]["train_loss"]
    assert 0 < loss < 20


@pytest.mark.slow
def test_the_recipe_runs_sft_then_dpo_on_our_data(export, tmp_path, capsys):
    f, _ = _sft_file(tmp_path, n=8)
    prefs = tmp_path / "preferences.jsonl"
    prefs.write_text(ad.preferences_to_jsonl(ad.preference_pairs(8, seed=3)), encoding="utf-8")
    assert trl_finetune.main([str(export / "hf"), "--out", str(tmp_path / "run"), "--sft", str(f),
                              "--prefs", str(prefs), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "SFT: 2 steps" in out and "DPO: 2 steps" in out
    assert (tmp_path / "run" / "dpo" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "dpo" / "tokenizer.json").is_file()


def test_the_export_has_a_model_card_with_lineage_and_figures(tmp_path):
    """The card lists the stages up to the checkpoint with their figures, and the eval report's numbers."""
    import json

    from llama_model.model_card import finish_export

    data = tmp_path / "data"
    (data / "base_model").mkdir(parents=True)
    (data / "base_model" / "summary.json").write_text(json.dumps(
        {"steps": 200, "tokens_seen": 409600, "first_loss": 7.6338, "final_loss": 2.8133,
         "val": {"all": {"loss": 4.56, "ppl": 95.8}}}))
    (data / "sft_model").mkdir()
    (data / "sft_model" / "alignment.json").write_text(json.dumps(
        {"version": "sft", "data": "bundled", "steps": 1000, "eval": {"success_rate": 0.7667, "n": 300}}))
    (data / "reports" / "base_model_eval").mkdir(parents=True)
    (data / "reports" / "base_model_eval" / "summary.json").write_text(json.dumps(
        {"perplexity": {"base_model": {"all": {"ppl": 170.84, "tokens": 87808}}}, "scorer": "lm-eval",
         "tasks": {"base_model": {"piqa_mini": {"acc": 0.5333, "acc_norm": 0.3667, "chance": 0.5, "n": 30}}}}))
    out = tmp_path / "hf"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}))
    finish_export(out, data / "base_model")
    card = (out / "README.md").read_text()
    assert json.loads((out / "config.json").read_text())["pad_token_id"] == 0
    assert ("- `base_model` — pretraining: 200 steps, 409600 tokens, loss 7.634 → 2.813; validation perplexity "
            "(8 batches per source): all 95.8") in card
    assert "- full validation perplexity (every held-out token, token-weighted): 170.8 over 87808 tokens" in card
    assert "- piqa_mini: acc 0.533, acc_norm 0.367 (chance 0.5, n=30, lm-eval)" in card
    finish_export(out, data / "sft_model")
    card = (out / "README.md").read_text()
    assert "- `sft_model` — sft: data bundled, steps 1000, success_rate 0.7667, n 300" in card and "`base_model` —" in card
