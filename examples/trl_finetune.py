"""Fine-tune our Hugging Face export with trl: SFT with the loss on the answers only, then DPO, on our own data.

    llama-pipeline convert --to hf data/sft_model /tmp/sft_hf
    python examples/trl_finetune.py /tmp/sft_hf --out /tmp/trl_run \\
        --sft data/rlhf_v1/best_samples.jsonl \\
        --prefs data/preference_data/2026-10-25/preferences.jsonl --steps 20

`--sft`: any JSONL of trl "messages" rows (an RLHF version's best_samples.jsonl, or an SFT set written by
`align_data.sft_to_jsonl`); `--prefs`: preference_data's JSONL (trl's conversational prompt / chosen /
rejected rows, with our rating and safety columns beside them). The export's chat template marks each answer
with {% generation %}, so `assistant_only_loss=True` puts the loss on exactly the tokens our own SFT does
(tests/llama_model/test_trl_export.py checks it token by token). Writes OUT/sft and OUT/dpo (HF folders).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def _datasets(path: str | Path, columns: list[str]):
    import datasets

    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    return ds.select_columns(columns)


def sft(export: str | Path, data: str | Path, out: str | Path, steps: int, max_length: int = 512, lr: float = 1e-4):
    """trl SFT on `data` ("messages" rows), loss on the assistant tokens only; returns the trainer."""
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=2, learning_rate=lr,
                     assistant_only_loss=True, max_length=max_length, logging_steps=1, save_strategy="no",
                     report_to=[], use_cpu=not _cuda(), seed=0)
    trainer = SFTTrainer(model=str(export), args=args, train_dataset=_datasets(data, ["messages"]))
    return trainer


def dpo(model: str | Path, data: str | Path, out: str | Path, steps: int, max_length: int = 512,
        lr: float = 1e-5, beta: float = 0.1):
    """trl DPO on preference_data's pairs (prompt / chosen / rejected); returns the trainer."""
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=2, learning_rate=lr,
                     beta=beta, max_length=max_length, logging_steps=1, save_strategy="no", report_to=[],
                     use_cpu=not _cuda(), seed=0)
    return DPOTrainer(model=str(model), args=args,
                      train_dataset=_datasets(data, ["prompt", "chosen", "rejected"]))


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", help="our HF export (llama-pipeline convert --to hf)")
    p.add_argument("--out", required=True)
    p.add_argument("--sft", help="JSONL of trl messages rows")
    p.add_argument("--prefs", help="preference_data's preferences.jsonl")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")     # local folders only
    model = Path(args.export)
    if args.sft:
        trainer = sft(model, args.sft, Path(args.out) / "sft", args.steps)
        trainer.train()
        trainer.save_model(str(Path(args.out) / "sft"))
        model = Path(args.out) / "sft"
        print(f"SFT: {args.steps} steps, last loss {trainer.state.log_history[-1].get('train_loss')}, saved {model}")
    if args.prefs:
        trainer = dpo(model, args.prefs, Path(args.out) / "dpo", args.steps)
        trainer.train()
        trainer.save_model(str(Path(args.out) / "dpo"))
        print(f"DPO: {args.steps} steps, saved {Path(args.out) / 'dpo'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
