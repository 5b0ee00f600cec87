"""CLI commands of the model package.

    llama-pipeline convert --to hf data/rlhf_v5 /tmp/chat_hf           # + tokenizer and chat template
    llama-pipeline convert --to hf data/helpfulness_rm /tmp/rm_hf      # LlamaForSequenceClassification
    llama-pipeline convert --from hf /tmp/llama_hf /tmp/llama_ours     # HF -> Meta layout + tokenizer.model
    llama-pipeline convert --to meta /tmp/base_model_hf /tmp/base_meta # same as --from hf for a HF source
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_convert(args: argparse.Namespace) -> int:
    from common.destination import check_destination, output_folder
    from llama_model.hf_check import read_hf_folder

    if not Path(args.src).exists():
        raise FileNotFoundError(f"{args.src} does not exist")
    command = f"convert --{'from' if args.from_ else 'to'} {args.from_ or args.to}"
    check_destination(args.dst, command, args.force, [args.src])    # before torch is even imported
    if args.from_ == "hf" and (Path(args.src) / "config.json").is_file():
        read_hf_folder(Path(args.src))                              # a hostile config fails in a moment
    from llama_model.hf import (
        convert,
        detect_layout,
        export_hf,
        find_tokenizer,
        import_hf,
    )

    if args.from_ == "hf":
        if detect_layout(args.src) != "hf":
            raise ValueError(f"{args.src}: not a Hugging Face checkpoint (no config.json)")
        with output_folder(args.dst, command, force=args.force, sources=[args.src]) as out:
            info = import_hf(args.src, out)
        print(f"imported {info['architecture']} from {args.src} into {args.dst}"
              + ("" if info["tokenizer"] else " (the source has no tokenizer.model: weights only)"))
        return 0
    if args.to == "hf":
        tok = args.tokenizer or find_tokenizer(args.src)
        if tok is None:   # a usage error: status 2, one line like every other CLI error
            print(f"error: no tokenizer.model in {args.src} or beside it (../tokenizer/); pass --tokenizer PATH",
                  file=sys.stderr)
            return 2
        if not Path(tok).is_file():
            raise FileNotFoundError(f"--tokenizer {tok} does not exist")
        reward = {"auto": None, "causal-lm": False, "reward": True}[args.model_class]
        with output_folder(args.dst, command, force=args.force, sources=[args.src]) as out:
            export_hf(args.src, out, tokenizer=tok, reward=reward)
    else:
        with output_folder(args.dst, command, force=args.force, sources=[args.src]) as out:
            convert(args.src, out, to=args.to)
    print(f"wrote {args.to} checkpoint to {args.dst}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint between the Meta and Hugging Face layouts")
    way = p.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", choices=["hf", "meta"], help="target layout (the source layout is detected)")
    way.add_argument("--from", dest="from_", choices=["hf"], help="import a HF Llama folder into our layout")
    p.add_argument("--tokenizer", help="tokenizer.model to export with --to hf (default: the checkpoint's, "
                                       "else ../tokenizer/tokenizer.model); its size must equal the model's vocabulary")
    p.add_argument("--model-class", choices=["auto", "causal-lm", "reward"], default="auto",
                   help="--to hf: what to export; auto = LlamaForSequenceClassification for a reward model, "
                        "else LlamaForCausalLM")
    p.add_argument("src", help="checkpoint folder (Meta: params.json + consolidated.00.pth; HF: config.json + "
                               "model.safetensors)")
    p.add_argument("dst", help="output folder: new, empty, or an earlier output of the same conversion")
    p.add_argument("--force", action="store_true",
                   help="also write into a folder holding other files (they are kept; none is replaced)")
    p.set_defaults(func=_cmd_convert)
