"""Training-step and generation throughput of our model vs transformers' LlamaForCausalLM (same process).

    .venv/bin/python benchmarks/train.py                     # default: the `small` profile's shape, CPU
    .venv/bin/python benchmarks/train.py --dim 512 --layers 8 --batch 8 --seq 256 --threads 2

Both models get the same configuration, the same weights (our checkpoint converted with
llama_model.hf.to_hf_state_dict), the same batch and the same number of torch threads. One
training step = forward, mean cross-entropy over float32 logits, backward, fused AdamW step. Each model
computes the loss its own way: ours with `model(x, targets=y)` (fused with the output projection,
llama_model/loss.py, as llama_model/train.py does), HF the way LlamaForCausalLM does with labels
(float32 logits, then F.cross_entropy). Steps of the two models are
interleaved (ours, theirs, ours, ...) so background load hits both alike; the ratio is the median of
the back-to-back pairs' time ratios (tokens/s columns: medians).
Generation: greedy, a batch of prompts, a fixed number of new tokens (no early EOS), our KV cache vs
HF `generate` with its cache. Prints tokens/s of each and the ratios (goals: train ≥ 1.2x, generate ≥ 1.0x).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def build(args):
    import transformers

    from llama_model.configs import ModelArgs
    from llama_model.hf import hf_config, to_hf_state_dict
    from llama_model.model import Transformer

    margs = ModelArgs(dim=args.dim, n_layers=args.layers, n_heads=args.heads, n_kv_heads=args.kv_heads,
                      vocab_size=args.vocab, multiple_of=64, norm_eps=1e-5, max_seq_len=max(args.seq, 512))
    torch.manual_seed(0)
    ours = Transformer(margs)
    cfg = {k: v for k, v in hf_config(margs).items() if k not in ("architectures", "model_type", "torch_dtype")}
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg, attn_implementation="sdpa"))
    hf.load_state_dict(to_hf_state_dict(ours.state_dict(), margs))
    return margs, ours, hf


def train_step_fn(model, loss_of, x, y):
    # The fused AdamW kernel for both: what llama_model/train.py uses and transformers' Trainer default
    # (optim "adamw_torch_fused" for torch >= 2.8).
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1, fused=True)

    def step() -> float:
        t = time.perf_counter()
        loss_of(x, y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t
    return step


def hf_loss(logits, y):
    """What LlamaForCausalLM does with labels (ForCausalLMLoss): float32 logits, mean cross-entropy."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1))


def bench_train(args, margs, ours, hf) -> tuple[float, float]:
    g = torch.Generator().manual_seed(1)
    batch = torch.randint(0, margs.vocab_size, (args.batch, args.seq + 1), generator=g)
    x, y = batch[:, :-1], batch[:, 1:]
    ours.train()
    hf.train()
    a = train_step_fn(ours, lambda t, y: ours(t, targets=y), x, y)
    b = train_step_fn(hf, lambda t, y: hf_loss(hf(input_ids=t, use_cache=False).logits, y), x, y)
    for _ in range(args.warmup):
        a(), b()
    ta, tb = [], []
    for _ in range(args.steps):
        ta.append(a())
        tb.append(b())
    tokens = args.batch * args.seq
    return tokens / statistics.median(ta), tokens / statistics.median(tb), paired(ta, tb)


@torch.inference_mode()
def bench_generate(args, margs, ours, hf) -> tuple[float, float]:
    from llama_model.generation import generate

    ours.eval()
    hf.eval()
    g = torch.Generator().manual_seed(2)
    prompts = torch.randint(3, margs.vocab_size, (args.gen_batch, args.prompt_len), generator=g)
    n = args.new_tokens

    def run_ours() -> float:
        t = time.perf_counter()
        out = generate(ours, prompts.tolist(), n, eos_id=None)
        assert all(len(o) == n for o in out)
        return time.perf_counter() - t

    def run_hf() -> float:
        t = time.perf_counter()
        out = hf.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=n, min_new_tokens=n,
                          do_sample=False, pad_token_id=0, eos_token_id=None)
        assert out.shape[1] == args.prompt_len + n
        return time.perf_counter() - t

    run_ours(), run_hf()
    ta, tb = [], []
    for _ in range(args.gen_reps):
        ta.append(run_ours())
        tb.append(run_hf())
    tokens = args.gen_batch * n
    ratio = paired(ta, tb)
    # Same greedy tokens from both (same weights): checks the comparison is apples to apples.
    same = generate(ours, prompts[:1].tolist(), 8, eos_id=None)[0] == hf.generate(
        prompts[:1], attention_mask=torch.ones_like(prompts[:1]), max_new_tokens=8, min_new_tokens=8,
        do_sample=False, pad_token_id=0, eos_token_id=None)[0, args.prompt_len:].tolist()
    print(f"  greedy tokens identical to HF: {same}")
    return tokens / statistics.median(ta), tokens / statistics.median(tb), ratio


def paired(ours: list[float], theirs: list[float]) -> float:
    """Median over repetitions of theirs_i / ours_i: each pair ran back to back, so load drifts cancel."""
    return statistics.median(b / a for a, b in zip(ours, theirs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--gen-batch", type=int, default=4)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--gen-reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="glibc mallopt: never trim the heap nor mmap big blocks, so freed memory is reused "
                        "without page faults (what llama_model/train.py does on CPU); applies to both models")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        from llama_model.train import keep_freed_memory
        print(f"keep freed memory (mallopt): {keep_freed_memory()}")

    import transformers
    margs, ours, hf = build(args)
    print(f"config: dim {args.dim}, layers {args.layers}, heads {args.heads}/{args.kv_heads} kv, vocab {args.vocab}, "
          f"{margs.num_params():,} params; batch {args.batch} x {args.seq}; {args.threads} threads; "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    # Generation first: the training steps leave the allocator in a state that moves generation speed.
    ga, gb, gr = bench_generate(args, margs, ours, hf)
    a, b, r = bench_train(args, margs, ours, hf)
    print(f"train step  ours {a:10.0f} tok/s   HF {b:10.0f} tok/s   ratio {r:.2f}x (goal >= 1.2x)")
    print(f"generate    ours {ga:10.1f} tok/s   HF {gb:10.1f} tok/s   ratio {gr:.2f}x (goal >= 1.0x)")


if __name__ == "__main__":
    main()
