"""The README.md model card of a Hugging Face export: what the checkpoint is, where it came from, its figures.

`finish_export(dst, src)` (called by hf.export_hf) writes README.md and sets `pad_token_id` (the tokenizer's
pad, <unk> = 0) in config.json and generation_config.json, so generation and trl's collators find a pad token.
The card is built only from files of the run that wrote the checkpoint — the source folder and its siblings
in the data folder (the stages before it) and reports/*/summary.json — so it is the same bytes for the
same run (no dates, no host names).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from common.io import write_text

PAD_ID = 0   # <unk>: llama_model.hf_tokenizer sets it as the pad token
# The chain of checkpoints in a data folder, in training order; a card lists the stages up to its own.
CHAIN = ["base_model", "sft_model", "rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v4", "rlhf_v5"]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _stage_line(folder: Path) -> str | None:
    """One line of figures for a checkpoint folder of the chain (None when it has no record)."""
    s = _json(folder / "summary.json")
    if s:     # pretraining (assets/pretrain.py)
        val = s.get("val", {})
        ppl = ", ".join(f"{k} {v['ppl']:.1f}" for k, v in sorted(val.items()) if isinstance(v, dict) and "ppl" in v)
        return (f"pretraining: {s.get('steps')} steps, {_fmt(s.get('tokens_seen'))} tokens, loss "
                f"{_fmt(s.get('first_loss'))} → {_fmt(s.get('final_loss'))}"
                + (f"; validation perplexity (8 batches per source): {ppl}" if ppl else ""))
    a = _json(folder / "alignment.json")
    if a:     # SFT, rejection sampling, PPO (llama_model/rlhf)
        parts = [f"{a.get('version', folder.name)}: data {a.get('data', '?')}"]
        for k in ("dialogues", "steps", "loss_first", "loss_last"):
            if k in a:
                parts.append(f"{k} {_fmt(a[k])}")
        ev = a.get("eval") or {}
        parts += [f"{k} {_fmt(ev[k])}" for k in ("success_rate", "safety_violations", "n") if k in ev]
        return ", ".join(parts)
    return None


def _lineage(src: Path) -> list[str]:
    lines = []
    if src.name in CHAIN:
        for name in CHAIN[:CHAIN.index(src.name) + 1]:
            line = _stage_line(src.parent / name)
            if line:
                lines.append(f"- `{name}` — {line}")
    elif (line := _stage_line(src)):
        lines.append(f"- `{src.name}` — {line}")
    imported = _json(src / "hf_import.json")
    if imported:
        lines.insert(0, f"- imported from a Hugging Face checkpoint ({imported.get('architecture')})")
    tok = src.parent / "tokenizer"
    if (tok / "tokenizer.model").is_file():
        lines.insert(0, "- `tokenizer` — SentencePiece BPE trained on the curated corpus (`tokenizer` asset)")
    return lines


def _evals(data_dir: Path, name: str) -> list[str]:
    out = []
    base = _json(data_dir / "reports" / "base_model_eval" / "summary.json")
    if base and name == "base_model":
        ppl = base.get("perplexity", {}).get("base_model", {}).get("all", {})
        if ppl:
            out.append(f"- full validation perplexity (every held-out token, token-weighted): {ppl['ppl']:.1f} "
                       f"over {ppl.get('tokens')} tokens (`base_model_eval`)")
        for task, r in sorted(base.get("tasks", {}).get("base_model", {}).items()):
            out.append(f"- {task}: acc {r['acc']:.3f}, acc_norm {r['acc_norm']:.3f} (chance {r['chance']}, "
                       f"n={r['n']}, {base.get('scorer', 'ours')})")
    chat = _json(data_dir / "reports" / "chat_eval" / "summary.json")   # per version: success %, win rates
    for table in ("per_version", "win_rates"):
        for row in chat.get(table) or []:
            if isinstance(row, dict) and row.get("version") == name:
                out += [f"- {k}: {_fmt(v)} (`chat_eval`, {chat.get('tasks', '?')} held-out prompts)"
                        for k, v in row.items() if isinstance(v, (int, float))]
    return out


def model_card(dst: Path, src: Path) -> str:
    cfg = _json(dst / "config.json")
    arch = (cfg.get("architectures") or ["LlamaForCausalLM"])[0]
    size = ", ".join(f"{k} {cfg[k]}" for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                               "num_key_value_heads", "vocab_size", "max_position_embeddings")
                     if k in cfg)
    lineage = _lineage(src) or ["- (no training record beside the checkpoint)"]
    evals = _evals(src.parent, src.name) or ["- (no evaluation report for this checkpoint in its data folder)"]
    if arch == "LlamaForCausalLM":
        use = ("from transformers import AutoModelForCausalLM, AutoTokenizer\n"
               "tok = AutoTokenizer.from_pretrained(\"path/to/this/folder\")\n"
               "model = AutoModelForCausalLM.from_pretrained(\"path/to/this/folder\")\n"
               "ids = tok.apply_chat_template([{\"role\": \"user\", \"content\": \"Hi\"}], return_tensors=\"pt\")\n"
               "print(tok.decode(model.generate(ids, max_new_tokens=32)[0][ids.shape[1]:]))")
    else:     # a reward model: one scalar per sequence, read at the last non-pad token
        use = ("from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
               "tok = AutoTokenizer.from_pretrained(\"path/to/this/folder\")\n"
               "rm = AutoModelForSequenceClassification.from_pretrained(\"path/to/this/folder\")\n"
               "ids = tok.apply_chat_template([{\"role\": \"user\", \"content\": \"Hi\"},\n"
               "                               {\"role\": \"assistant\", \"content\": \"Hello!\"}], return_tensors=\"pt\")\n"
               "print(rm(ids).logits[0, 0].item())")
    return "\n".join([
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags:", "- llama", "- llama-pipeline",
        "---", "", f"# {src.name}", "",
        f"A `{arch}` checkpoint written by llama-pipeline (the LLaMA-1 / Llama 2 recipe as a Dagster asset "
        f"graph) from the `{src.name}` asset. {size}.", "",
        "## Lineage", "", *lineage, "",
        "## Evaluation", "", *evals, "",
        "## Use", "",
        "The chat template is Llama 2's (`[INST] ... [/INST]`, `<<SYS>>` in the first turn); answers sit in "
        "`{% generation %}` blocks, so trl's `SFTTrainer(assistant_only_loss=True)` trains on the answer tokens "
        "only, as our SFT does. The pad token is `<unk>` (id 0).", "",
        "```python", use, "```", "",
        "Fine-tuning with trl SFT and DPO on the pipeline's own data: `examples/trl_finetune.py` "
        "(docs/model.md).", ""])


def finish_export(dst: str | os.PathLike, src: str | os.PathLike) -> None:
    """README.md model card and pad_token_id in the configs of the export folder `dst` from checkpoint `src`."""
    dst, src = Path(dst), Path(src)
    for name in ("config.json", "generation_config.json"):
        cfg = _json(dst / name)
        if cfg and cfg.get("pad_token_id") is None:
            cfg["pad_token_id"] = PAD_ID
            write_text(dst / name, json.dumps(cfg, indent=2) + "\n")
    write_text(dst / "README.md", model_card(dst, src))
