"""Validation perplexity per source: exp of the token-weighted mean next-token cross-entropy.

    from llama_model.eval.perplexity import perplexity_per_source
    ppl = perplexity_per_source(model, {"wikipedia": windows, ...})   # windows: LongTensor [B, T+1] batches
    ppl["wikipedia"] -> {"loss": 3.1, "ppl": 22.2, "tokens": 8192}; ppl["all"] pools every source

Under a process group (torchrun) every rank passes the same windows: rank r scores batches r, r + world, ...
of the first max_batches, and the summed losses and token counts are added over ranks, so every rank gets
the 1-process numbers (up to the order of a float64 sum).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

import torch
import torch.nn.functional as F

from llama_model.parallel import all_reduce_sum, is_sharded, rank_world


@torch.no_grad()          # not inference_mode: FSDP2's reused all-gather buffers (generation.py)
def nll_sum(model: torch.nn.Module, windows: Iterable[torch.Tensor], max_batches: int | None = None,
            rank: int = 0, world: int = 1) -> tuple[float, int]:
    """(sum of next-token negative log-likelihoods, number of predicted tokens) over [B, T+1] windows;
    only the batches b < max_batches with b % world == rank (this rank's share)."""
    device = next(model.parameters()).device
    mine = (w for b, w in enumerate(_cut(windows, max_batches)) if b % world == rank)
    if world > 1 and is_sharded(model):
        # FSDP2 shards: every forward pass all-gathers weights, so all ranks must make the same number of
        # them; a rank with one batch fewer makes a one-token pass instead.
        mine = list(mine)
        most = torch.tensor([len(mine)], device=device)
        torch.distributed.all_reduce(most, op=torch.distributed.ReduceOp.MAX)
        mine += [None] * (int(most.item()) - len(mine))
    total, count = 0.0, 0
    for w in mine:
        if w is None:
            model(torch.ones((1, 1), dtype=torch.long, device=device))
            continue
        w = torch.as_tensor(w, dtype=torch.long).to(device)
        if w.dim() == 1:
            w = w.unsqueeze(0)
        x, y = w[:, :-1], w[:, 1:]
        logits = model(x).float()
        total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"))
        count += y.numel()
    return total, count


def _cut(windows: Iterable[torch.Tensor], max_batches: int | None):
    for b, w in enumerate(windows):
        if max_batches is not None and b >= max_batches:
            return
        yield w


def perplexity(model: torch.nn.Module, windows: Iterable[torch.Tensor], max_batches: int | None = None) -> dict:
    was_training = model.training
    model.eval()
    rank, world = rank_world()
    try:
        total, count = nll_sum(model, windows, max_batches, rank, world)
    finally:
        model.train(was_training)
    if world > 1:   # float64: token counts stay exact, the sum's rounding stays far below the reported digits
        both = all_reduce_sum(torch.tensor([total, count], dtype=torch.float64, device=next(model.parameters()).device))
        total, count = float(both[0]), int(both[1])
    if count == 0:
        return {"loss": float("nan"), "ppl": float("nan"), "tokens": 0}
    loss = total / count
    return {"loss": loss, "ppl": math.exp(min(loss, 700.0)), "tokens": count}


def perplexity_per_source(model: torch.nn.Module, windows_by_source: Mapping[str, Iterable[torch.Tensor]],
                          max_batches: int | None = None) -> dict[str, dict]:
    """{source: {"loss", "ppl", "tokens"}} plus "all", pooled over every source's tokens."""
    out: dict[str, dict] = {}
    total, count = 0.0, 0
    for source, windows in windows_by_source.items():
        r = perplexity(model, windows, max_batches)
        out[source] = r
        if r["tokens"]:
            total += r["loss"] * r["tokens"]
            count += r["tokens"]
    loss = total / count if count else float("nan")
    out["all"] = {"loss": loss, "ppl": math.exp(min(loss, 700.0)) if count else float("nan"), "tokens": count}
    return out


def windows_from_tokens(tokens: Iterable[int] | torch.Tensor, seq_len: int, batch_size: int = 8):
    """Cut one long token stream into non-overlapping [B, seq_len+1] windows (the last partial one dropped)."""
    t = torch.as_tensor(tokens, dtype=torch.long).flatten()
    n = (t.numel() - 1) // seq_len
    rows = [t[i * seq_len: i * seq_len + seq_len + 1] for i in range(n)]
    for i in range(0, len(rows), batch_size):
        yield torch.stack(rows[i:i + batch_size])
