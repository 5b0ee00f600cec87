"""Supervised fine-tuning on chat dialogues, loss on answer tokens only (SPEC §4).

The training loop here (padding, masked next-token loss, AdamW with a cosine schedule) is also what
rejection-sampling fine-tuning and Ghost Attention use: they only change which dialogues go in and which
answers carry loss. With `pack_examples` (the paper profiles' sft_packing) dialogues are concatenated into
rows of sft_seq_len tokens: each dialogue starts with <s> and every answer ends with </s>, which separate
them; the mask keeps the loss on answer tokens only.

`fit` is data parallel when a process group is up (torchrun, llama_model/rlhf/job.py): each rank takes every
world-th item of a batch, its loss is its share of the batch's *sum* divided by the global count, and the
summed gradients are the 1-process gradients, so 1, 2 or 4 ranks train the same model.

    model, args = load_meta("data/base_model")
    examples = sft_examples(tok, align_data.sft_dialogues(3000), max_len=256)
    history = train_sft(model, examples, lr=1e-3, batch=16, epochs=2)
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

from llama_model.chat_format import encode_dialogue
from llama_model.parallel import (
    all_reduce_sum,
    clip_grad_norm,
    grads_all_reduce,
    is_sharded,
    local_part,
    rank_world,
    reshard,
)

Example = tuple[list[int], list[int]]      # token ids, loss mask (1 on answer tokens)


def sft_examples(tok, dialogues: list[dict], max_len: int, train_turns: str = "all") -> list[Example]:
    """Encode dialogues ({system?, turns}); longer ones are cut to max_len (their tail answers lose loss)."""
    out = []
    for d in dialogues:
        ids, mask = encode_dialogue(tok, d["turns"], d.get("system"), train_turns=d.get("train_turns", train_turns))
        ids, mask = ids[:max_len], mask[:max_len]
        if sum(mask[1:]):
            out.append((ids, mask))
    return out


def pack_examples(examples: list[Example], seq_len: int) -> list[Example]:
    """Concatenate examples, in order, into rows of at most seq_len tokens; an example that does not fit in
    the current row starts the next one (no example is split: an answer never loses its prompt)."""
    rows: list[Example] = []
    ids: list[int] = []
    mask: list[int] = []
    for x, m in examples:
        if ids and len(ids) + len(x) > seq_len:
            rows.append((ids, mask))
            ids, mask = [], []
        ids, mask = ids + list(x), mask + list(m)
    if ids:
        rows.append((ids, mask))
    return rows


def pad_batch(examples: list[Example], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded [B, T] ids and mask. Causal attention never lets a real token see the padding."""
    T = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), T), dtype=torch.float)
    for i, (x, m) in enumerate(examples):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(m)] = torch.tensor(m, dtype=torch.float)
    return ids, mask


def masked_lm_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the positions whose *target* token has mask 1.

    logits [B, T, V] from ids [B, T]; the token at t+1 is predicted from position t, so prompt tokens
    (mask 0) contribute exactly zero to the loss and to its gradient.
    """
    logits, targets, m = logits[:, :-1], ids[:, 1:], mask[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), reduction="none")
    return (ce * m.reshape(-1)).sum() / m.sum().clamp(min=1.0)


def answer_targets(ids: torch.Tensor, mask: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Next-token targets [B, T-1] for inputs ids[:, :-1]: the token at t+1, or ignore_index where that
    token is not an answer token (mask 0). `model(ids[:, :-1], targets=...)` is then masked_lm_loss
    without storing the logits."""
    return ids[:, 1:].masked_fill(mask[:, 1:] == 0, ignore_index)


def cosine_lr(step: int, total: int, peak: float, warmup: int = 0, min_ratio: float = 0.1) -> float:
    """Linear warm-up then cosine decay to min_ratio * peak (SPEC §4/§5 schedules)."""
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(params, lr: float, weight_decay: float = 0.1) -> torch.optim.Optimizer:
    """AdamW(0.9, 0.95, eps 1e-5); no weight decay on 1-D parameters (norms, heads' biases)."""
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95), eps=1e-5)


LossOf = Callable[[list[int]], torch.Tensor]
CountOf = Callable[[list[int]], float]


def passes(mine: list[int], share: int, micro: int) -> list[list[int]]:
    """This rank's items of a batch in passes of at most `micro` items (0: one pass). Every rank makes the
    same number of passes, ceil(share / micro) with `share` the largest rank's share, because under FSDP2
    each forward and backward is collective; a rank short of items gets empty passes."""
    if not micro or micro >= share:
        return [mine]
    return [mine[i * micro:(i + 1) * micro] for i in range(-(-share // micro))]


def fit(model, n_items: int, loss_of: LossOf, count_of: CountOf, lr: float, batch: int, epochs: int,
        weight_decay: float = 0.1, seed: int = 0, warmup: int = 0, grad_clip: float = 1.0,
        log: Callable[[str], None] | None = None,
        progress: Callable[[int, int], None] | None = None, micro: int = 0) -> list[float]:
    """The loop SFT and the reward models share: each epoch a seeded shuffle of the item indices cut into
    batches; `loss_of(indices)` gives the sum of the per-unit losses of a batch part and `count_of(indices)`
    its number of units (answer tokens, pairs); AdamW with a cosine LR after `warmup` steps and gradient
    clipping. Data parallel over the process group, if any, with each rank's share of a batch in passes
    of at most `micro` items whose gradients accumulate (0: one pass). Trains `model` in place and returns
    the (global) loss of every step. `progress(steps done, total steps)` is called after every step."""
    rng = random.Random(seed)
    rank, world = rank_world()
    sharded = world > 1 and is_sharded(model)
    if sharded:
        reshard(model)        # before the parameters are collected: parallel.reshard
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device
    opt = make_optimizer(params, lr, weight_decay)
    steps_per_epoch = math.ceil(n_items / batch)
    total = steps_per_epoch * epochs
    losses: list[float] = []
    model.train()
    step = 0
    for epoch in range(epochs):
        order = list(range(n_items))
        rng.shuffle(order)
        for s in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, lr, warmup)
            items = order[s * batch:(s + 1) * batch]
            mine = local_part(items, rank, world)
            # The global count first: each pass's loss is its share of the batch's sum over it.
            n = all_reduce_sum(torch.tensor(count_of(mine) if mine else 0.0, device=device)).clamp(min=1.0)
            opt.zero_grad(set_to_none=True)
            loss = torch.zeros((), device=device)
            for part in passes(mine, -(-len(items) // world), micro):
                if part:
                    piece = loss_of(part) / n
                elif sharded:     # nothing left for this rank: one item at zero weight, for FSDP2's collectives
                    piece = loss_of(items[:1]) * 0.0
                else:
                    continue
                piece.backward()
                loss += piece.detach()
            grads_all_reduce(params)
            clip_grad_norm(params, grad_clip)
            opt.step()
            losses.append(float(all_reduce_sum(loss)))
            step += 1
            if progress:
                progress(step, total)
        if log:
            k = steps_per_epoch
            log(f"epoch {epoch + 1}/{epochs}: loss {sum(losses[-k:]) / k:.4f}")
    model.eval()
    return losses


def train_sft(model, examples: list[Example], lr: float, batch: int, epochs: int, weight_decay: float = 0.1,
              seed: int = 0, warmup: int = 0, grad_clip: float = 1.0,
              log: Callable[[str], None] | None = None,
              progress: Callable[[int, int], None] | None = None, micro: int = 0) -> list[float]:
    """Fine-tune `model` in place on the answer tokens of `examples`; returns the loss of every step.
    micro: rows per forward/backward pass on a rank (0: its whole share of a batch at once)."""
    if not examples:
        raise ValueError("no training examples (every dialogue was empty or cut away)")

    device = next(model.parameters()).device

    def count_of(idx: list[int]) -> float:       # answer tokens that carry loss (a target after position 0)
        return float(sum(sum(examples[i][1][1:]) for i in idx))

    def loss_of(idx: list[int]) -> torch.Tensor:
        ids, mask = pad_batch([examples[i] for i in idx])
        ids, mask = ids.to(device), mask.to(device)
        # masked_lm_loss (times its token count: the sum), fused with the output projection: the
        # [B, T, vocab] logits are never stored
        return model(ids[:, :-1], targets=answer_targets(ids, mask)) * float(mask[:, 1:].sum())

    return fit(model, len(examples), loss_of, count_of, lr, batch, epochs, weight_decay, seed, warmup, grad_clip,
               log, progress, micro=micro)
