"""Activation recomputation on CPU: training-step time and peak memory of "none", "selective" and "full"
(llama_model/model.py enable_activation_checkpointing), as ratios to "none".

    .venv/bin/python benchmarks/recompute.py                      # dim 256, 4 layers, batch 4 x 256 tokens
    .venv/bin/python benchmarks/recompute.py --dim 512 --layers 8 --seq 1024 --threads 2

Time: forward + backward of the same model and batch in this process, the three modes interleaved
(none, selective, full, none, ...) so background load hits all alike; the median of each mode's steps.
Peak memory: each mode once more in a child process of its own, with glibc told to map every block over
64 KiB separately and unmap it when freed (mallopt), so the resident set follows the live tensors: after a
warm-up step the peak-RSS mark is reset (/proc/self/clear_refs, Linux) and the step's peak over the resident
set before it is what the step allocates: activations kept for backward, what recomputation allocates in
backward, and the gradients (the same in every mode). Selective keeps the matmul and
attention outputs and recomputes the norms, SiLU and RoPE: close to "none" in time, between the two in memory.
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import statistics
import subprocess
import sys
import time

import torch

MODES = ("none", "selective", "full")


def build(args, mode: str):
    from llama_model.configs import ModelArgs
    from llama_model.model import Transformer, enable_activation_checkpointing
    margs = ModelArgs(dim=args.dim, n_layers=args.layers, n_heads=args.heads, n_kv_heads=args.heads // 2,
                      vocab_size=args.vocab, multiple_of=64, max_seq_len=args.seq)
    torch.manual_seed(0)
    model = Transformer(margs)
    if mode != "none":
        enable_activation_checkpointing(model, mode)
    model.train()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, args.vocab, (args.batch, args.seq + 1), generator=g)
    return model, x[:, :-1], x[:, 1:]


def step(model, x, y) -> float:
    t = time.perf_counter()
    model(x, targets=y).backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - t


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_growth(args, mode: str) -> int:
    """Child process: bytes the resident set peaks above its level before one step (after a warm-up step)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt(-3, 64 << 10)            # M_MMAP_THRESHOLD: blocks > 64 KiB mmapped, unmapped when freed
    libc.mallopt(-1, 0)                   # M_TRIM_THRESHOLD: return the heap's free top at once
    model, x, y = build(args, mode)
    step(model, x, y)
    libc.malloc_trim(0)
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                      # reset the peak-RSS mark (VmHWM) to the current RSS
    step(model, x, y)
    return (_status_kib("VmHWM") - before) * 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--vocab", type=int, default=1024)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps({"peak_growth": peak_growth(args, args.child)}))
        return 0

    # Peak memory first, each mode in a fresh process, before this one allocates anything.
    mem = {}
    for mode in MODES:
        argv = [a for a in sys.argv[1:]] + ["--child", mode]
        out = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], check=True, capture_output=True,
                             text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=600)
        mem[mode] = json.loads(out.stdout.strip().splitlines()[-1])["peak_growth"]

    runs = {mode: build(args, mode) for mode in MODES}
    for mode in MODES:                      # warm-up
        step(*runs[mode])
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.steps):
        for mode in MODES:
            times[mode].append(step(*runs[mode]))
    med = {mode: statistics.median(t) for mode, t in times.items()}
    print(f"shape: dim {args.dim}, {args.layers} layers, batch {args.batch} x {args.seq} tokens, "
          f"{args.threads} thread(s), {args.steps} steps per mode (median)")
    print(f"{'mode':<10}{'step s':>9}{'time / none':>13}{'peak MiB':>10}{'memory / none':>15}")
    for mode in MODES:
        print(f"{mode:<10}{med[mode]:>9.3f}{med[mode] / med['none']:>13.2f}{mem[mode] / 2**20:>10.1f}"
              f"{mem[mode] / max(1, mem['none']):>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
