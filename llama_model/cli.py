"""CLI commands of the model package.

    llama-pipeline convert --to hf data/base_model /tmp/base_model_hf     # Meta layout -> Hugging Face
    llama-pipeline convert --to meta /tmp/base_model_hf /tmp/base_meta    # and back (layout detected)
"""
from __future__ import annotations

import argparse


def _cmd_convert(args: argparse.Namespace) -> int:
    from llama_model.checkpoint import convert

    out = convert(args.src, args.dst, to=args.to)
    print(f"wrote {args.to} checkpoint to {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint between the Meta and Hugging Face layouts")
    p.add_argument("--to", required=True, choices=["hf", "meta"], help="target layout")
    p.add_argument("src", help="checkpoint folder (Meta: params.json + consolidated.00.pth; HF: config.json + "
                               "model.safetensors)")
    p.add_argument("dst", help="output folder")
    p.set_defaults(func=_cmd_convert)
