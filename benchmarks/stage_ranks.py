"""Generation of an alignment stage on 1 process vs N gloo ranks (rejection sampling, PPO rollouts, evals).

    python benchmarks/stage_ranks.py [--ranks 2] [--prompts 4096] [--new-tokens 24] [--profile tiny]

policy.sample_answers deals prompt chunks round-robin over the ranks and gathers the answers; before, every
rank generated every answer. Prints the 1-process time (the reference, in this process), the N-rank time with
replicated and with FSDP2-sharded models (measured inside rank 0, after the process group is up), their
speed-ups, and checks the answers are the 1-process answers. One intra-op thread per process.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import tempfile
import time
from pathlib import Path

import torch

from llama_model.configs import get_profile
from llama_model.model import Transformer
from llama_model.parallel import shard_stage_model
from llama_model.rlhf.policy import sample_answers


class _Tok:                      # sample_answers needs only the end-of-sequence id
    eos_id = 2


def _setup(profile: str, n: int):
    torch.manual_seed(0)
    args = get_profile(profile).model
    rng = random.Random(0)
    prompts = [[1] + [rng.randrange(3, args.vocab_size) for _ in range(rng.randrange(20, 41))] for _ in range(n)]
    return Transformer(args).eval(), prompts


def _run(model, prompts, new_tokens: int) -> tuple[list, float]:
    g = torch.Generator().manual_seed(1)
    t = time.perf_counter()
    answers = sample_answers(model, _Tok(), prompts, temperature=1.0, generator=g, max_new_tokens=new_tokens)
    return answers, time.perf_counter() - t


def _rank(rank: int, world: int, port: int, a, mode: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model, prompts = _setup(a.profile, a.prompts)
        if mode == "fsdp":
            shard_stage_model(model, torch.device("cpu"))
        torch.distributed.barrier()
        answers, seconds = _run(model, prompts, a.new_tokens)
        if rank == 0:
            torch.save({"answers": answers, "seconds": seconds}, out)
    finally:
        torch.distributed.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=4096)
    ap.add_argument("--new-tokens", type=int, default=24)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, prompts = _setup(a.profile, a.prompts)
    one, t1 = _run(model, prompts, a.new_tokens)
    print(f"1 process: {t1:.1f} s for {len(prompts)} prompts x {a.new_tokens} new tokens")
    with tempfile.TemporaryDirectory() as d:
        for mode in ("replicate", "fsdp"):
            out = str(Path(d) / f"{mode}.pt")
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            torch.multiprocessing.spawn(_rank, args=(a.ranks, port, a, mode, out), nprocs=a.ranks, join=True)
            r = torch.load(out, weights_only=True)
            same = "same answers" if r["answers"] == one else "DIFFERENT answers"
            print(f"{a.ranks} ranks, {mode}: {r['seconds']:.1f} s, speed-up {t1 / r['seconds']:.2f}x ({same})")


if __name__ == "__main__":
    main()
