"""Greedy generation tokens/s on one CUDA device, bf16: our KV-cache loop vs transformers' `generate`, same
weights, same prompts, runs interleaved (benchmarks/gpu_check.sh part 3; the CPU version is benchmarks/train.py).

    .venv/bin/python benchmarks/gpu_generate.py --dim 2048 --layers 16 --batch 8 --new-tokens 128
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_generate: no CUDA device", file=sys.stderr)
        return 2
    import transformers

    from llama_model.configs import ModelArgs
    from llama_model.generation import generate
    from llama_model.hf import hf_config, to_hf_state_dict
    from llama_model.model import Transformer

    margs = ModelArgs(dim=args.dim, n_layers=args.layers, n_heads=args.heads, n_kv_heads=args.kv_heads,
                      vocab_size=32000, norm_eps=1e-5, max_seq_len=args.prompt_len + args.new_tokens)
    torch.manual_seed(0)
    ours = Transformer(margs)
    cfg = {k: v for k, v in hf_config(margs).items() if k not in ("architectures", "model_type", "torch_dtype")}
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg, attn_implementation="sdpa"))
    hf.load_state_dict(to_hf_state_dict(ours.state_dict(), margs))
    ours = ours.to("cuda", torch.bfloat16).eval()
    hf = hf.to("cuda", torch.bfloat16).eval()
    prompts = torch.randint(3, 32000, (args.batch, args.prompt_len), generator=torch.Generator().manual_seed(2))
    n = args.new_tokens

    @torch.inference_mode()
    def run_ours() -> float:
        torch.cuda.synchronize()
        t = time.perf_counter()
        generate(ours, prompts.tolist(), n, eos_id=None)
        torch.cuda.synchronize()
        return time.perf_counter() - t

    @torch.inference_mode()
    def run_hf() -> float:
        x = prompts.cuda()
        torch.cuda.synchronize()
        t = time.perf_counter()
        hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                    pad_token_id=0, eos_token_id=None)
        torch.cuda.synchronize()
        return time.perf_counter() - t

    run_ours(), run_hf()                                   # warm-up
    ta, tb = [], []
    for _ in range(args.reps):
        ta.append(run_ours())
        tb.append(run_hf())
    tokens = args.batch * n
    ratio = statistics.median(b / a for a, b in zip(ta, tb))
    print(f"generate bf16 {margs.num_params() / 1e9:.2f}B, batch {args.batch}, {args.prompt_len}+{n} tokens: "
          f"ours {tokens / statistics.median(ta):,.0f} tok/s, HF generate {tokens / statistics.median(tb):,.0f} tok/s, "
          f"ratio {ratio:.2f}x (reference: HF generate, goal >= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
