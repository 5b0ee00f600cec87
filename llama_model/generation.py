"""Sampling with a KV cache, and log-probabilities of given sequences.

    from llama_model.generation import generate, sequence_logprobs
    new = generate(model, [[1, 15, 27], [1, 9]], max_new_tokens=32)               # greedy
    new = generate(model, prompts, 32, temperature=1.2, top_p=0.9, generator=g)    # nucleus sampling
    lp = sequence_logprobs(model, tokens, mask)   # [B]: sum of log p(token_t | tokens_<t) where mask_t

Batched prompts of different lengths work like the reference generation.py: the batch is pre-filled up to
the shortest prompt in one forward pass, then advances one position at a time through the KV cache; where
a row still has prompt tokens the prompt token is kept instead of the sample. Every row therefore sees
exactly its own tokens at their own positions, so the result equals recomputing each prompt alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_top_p(probs: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample from the smallest set of tokens whose probability mass exceeds p (nucleus sampling). [B, V] -> [B]."""
    probs_sort, probs_idx = torch.sort(probs, dim=-1, descending=True)
    cum = torch.cumsum(probs_sort, dim=-1)
    probs_sort[(cum - probs_sort) > p] = 0.0        # drop tokens once the mass before them exceeds p
    probs_sort.div_(probs_sort.sum(dim=-1, keepdim=True))
    choice = torch.multinomial(probs_sort, num_samples=1, generator=generator)
    return torch.gather(probs_idx, -1, choice).squeeze(-1)


def next_token(logits: torch.Tensor, temperature: float = 0.0, top_p: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Greedy when temperature == 0, else temperature + top-p sampling. logits [B, V] -> [B]."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p >= 1.0:
        return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
    return sample_top_p(probs, top_p, generator)


# no_grad, not inference_mode: FSDP2 keeps its all-gather buffers across calls, and buffers first made in
# inference mode can no longer be written by the training steps that follow (rejection sampling, PPO).
@torch.no_grad()
def generate(model, prompts: list[list[int]], max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
             eos_id: int = 2, generator: torch.Generator | None = None, lockstep: bool = False) -> list[list[int]]:
    """Continue each prompt by up to max_new_tokens tokens; returns only the new tokens of each prompt,
    cut before the first eos_id (which is not included). eos_id=None never stops early.

    lockstep: the model is FSDP2-sharded and every rank is generating its own prompts: each forward pass
    all-gathers weights, so all ranks must make the same number of them. A rank that is done (or has no
    prompts) keeps making one-token passes until every rank is done."""
    if any(len(p) == 0 for p in prompts) or not (prompts or lockstep):
        raise ValueError("generate needs at least one prompt, and no empty prompt (start them with BOS)")
    device = next(model.parameters()).device
    if not prompts or max_new_tokens <= 0:
        if lockstep:
            _idle_until_all_done(model, device)
        return [[] for _ in prompts]
    B = len(prompts)
    lens = torch.tensor([len(p) for p in prompts], device=device)
    min_len, total = int(lens.min()), int(lens.max()) + max_new_tokens
    tokens = torch.zeros(B, total, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        tokens[i, : len(p)] = torch.as_tensor(p, dtype=torch.long)
    positions = torch.arange(total, device=device)
    is_prompt = positions[None, :] < lens[:, None]                  # [B, total]
    stop_at = lens + max_new_tokens                                 # first position a row must not fill
    done = torch.zeros(B, dtype=torch.bool, device=device)
    # The cache in the compute dtype: bf16 under the GPU jobs' autocast (half of an fp32 cache, which for a
    # 70B model's 4096-token rows is 2.7 GB per prompt), else the weights' dtype.
    amp = torch.is_autocast_enabled(device.type)
    cache = model.new_kv_cache(B, total, dtype=torch.get_autocast_dtype(device.type) if amp else None)

    prev = 0
    for cur in range(min_len, total):
        # Only the last position's logits are needed (saves the vocab projection of the whole prefill).
        _, logits = model.hidden_and_logits(tokens[:, prev:cur], start_pos=prev, kv_cache=cache, last_only=True)
        nxt = next_token(logits[:, -1], temperature, top_p, generator)
        nxt = torch.where(is_prompt[:, cur], tokens[:, cur], nxt)
        tokens[:, cur] = nxt
        if eos_id is not None:
            done |= ~is_prompt[:, cur] & (nxt == eos_id)
        done |= cur + 1 >= stop_at
        prev = cur
        if bool(done.all()):        # the last position always ends every row, so this always breaks
            if lockstep and not _all_done(True, device):
                _idle_until_all_done(model, device)
            break
        if lockstep:
            _all_done(False, device)

    out = []
    for i, p in enumerate(prompts):
        new = tokens[i, len(p): len(p) + max_new_tokens].tolist()
        if eos_id is not None and eos_id in new:
            new = new[: new.index(eos_id)]
        out.append(new)
    return out


def _all_done(mine: bool, device: torch.device) -> bool:
    """True when every rank is done (one all-reduce per generated position under lockstep)."""
    import torch.distributed as dist
    left = torch.tensor([0 if mine else 1], device=device)
    dist.all_reduce(left)
    return int(left.item()) == 0


def _idle_until_all_done(model, device: torch.device) -> None:
    """Join the other ranks' steps (a forward pass, whose weight all-gathers they wait on, then the
    all-reduce of who is done) with one-token passes until every rank is done."""
    one = torch.ones((1, 1), dtype=torch.long, device=device)
    while True:
        model.hidden_and_logits(one, last_only=True)
        if _all_done(True, device):
            return


def token_logprobs(model, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t+1] | tokens[:, :t+1]) for every t: [B, T] -> [B, T-1] (float32, with grad)."""
    logits = model(tokens[:, :-1])
    target = tokens[:, 1:]
    return -F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                            reduction="none").view_as(target)


def sequence_logprobs(model, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the log-probabilities of the tokens where mask is true (mask[:, 0] is ignored: the first
    token has no prediction). tokens, mask [B, T] -> [B]. Used for answer-only scores (RS, PPO, DPO-style)."""
    lp = token_logprobs(model, tokens)
    return (lp * mask[:, 1:].to(lp.dtype)).sum(dim=-1)
