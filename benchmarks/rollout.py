"""PPO rollout speed: batched KV-cache generation vs one prompt at a time (same model, same prompts).

    python benchmarks/rollout.py [--prompts 64] [--new-tokens 24] [--profile tiny]

Prints tokens/s of both and their ratio. Rollouts in llama_model/rlhf/ppo.py generate a whole batch of
prompts at once through llama_model.generation.generate (one KV cache for the batch); the reference is the
same generate() called with one prompt per call.
"""
from __future__ import annotations

import argparse
import random
import time

import torch  # noqa: E402

from llama_model.configs import get_profile  # noqa: E402
from llama_model.generation import generate  # noqa: E402
from llama_model.model import Transformer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (1 is fastest for tiny on a shared CPU)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    args = get_profile(a.profile).model
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = Transformer(args).to(device).eval()
    rng = random.Random(0)
    # chat-like prompts of 20-40 tokens; eos_id=None so every row generates exactly new_tokens tokens
    prompts = [[1] + [rng.randrange(3, args.vocab_size) for _ in range(rng.randrange(20, 41))] for _ in range(a.prompts)]
    generate(model, prompts[:2], 2, eos_id=None)      # warm-up

    t = time.perf_counter()
    batched = generate(model, prompts, a.new_tokens, temperature=1.0, eos_id=None, generator=torch.Generator().manual_seed(0))
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    single = [generate(model, [p], a.new_tokens, temperature=1.0, eos_id=None)[0] for p in prompts]
    t_single = time.perf_counter() - t
    n_b, n_s = sum(map(len, batched)), sum(map(len, single))
    print(f"profile {a.profile} on {device}: {a.prompts} prompts x {a.new_tokens} new tokens")
    print(f"batched KV-cache generation : {n_b / t_batched:10.1f} tokens/s ({t_batched:.2f} s)")
    print(f"one prompt at a time        : {n_s / t_single:10.1f} tokens/s ({t_single:.2f} s)")
    print(f"ratio batched / one-at-a-time: {(n_b / t_batched) / (n_s / t_single):.1f}x")


if __name__ == "__main__":
    main()
