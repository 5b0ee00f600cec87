"""PPO on top of the last rejection-sampling checkpoint (SPEC §6, RLHF V5).

Reward of an answer y to prompt x: R = whiten(logit(R_c)) - β·KL(π‖π0), with R_c the safety RM's score
σ(r_s) when the prompt is tagged unsafe or σ(r_s) < 0.15, else the helpfulness RM's σ(r_h). The KL to the
frozen reference policy π0 is paid per token (log π - log π0 of the sampled token); the RM reward arrives
at the last token. Advantages by GAE over a value head on the policy's hidden states; clipped surrogate
(ε = 0.2), mini-batches with one gradient step each. Rollouts use batched KV-cache generation.

    history = train_ppo(policy, tok, tasks, hrm, srm, ppo_args(profile.align), generator=g)
    history[-1]["kl"]     # KL to the reference, tracked every iteration
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from llama_model.parallel import (
    all_reduce_sum,
    clip_grad_norm,
    grads_all_reduce,
    is_sharded,
    local_part,
    rank_world,
    reshard,
)
from llama_model.rlhf.policy import reward_scores, sample_answers, task_prompts
from llama_model.sft import make_optimizer, passes


@dataclass(frozen=True)
class PPOArgs:
    lr: float = 1e-6
    batch: int = 512              # rollouts per iteration
    minibatch: int = 64           # one gradient step per mini-batch
    clip: float = 0.2             # PPO ratio clip
    beta: float = 0.01            # KL penalty
    iterations: int = 200
    temperature: float = 1.0      # rollout sampling
    max_new_tokens: int = 4096    # rollout length cap (the context; the prompt's length comes off it)
    safety_threshold: float = 0.15
    gamma: float = 1.0
    lam: float = 0.95
    vf_coef: float = 0.5
    grad_clip: float = 1.0
    weight_decay: float = 0.1
    micro: int = 0                # rollouts per forward/backward pass on a rank (0: its whole share at once)


def ppo_args(align) -> PPOArgs:
    """PPOArgs from a profile's AlignArgs."""
    return PPOArgs(lr=align.ppo_lr, batch=align.ppo_batch, minibatch=align.ppo_minibatch, clip=align.ppo_clip,
                   beta=align.ppo_beta, iterations=align.ppo_iterations, temperature=align.ppo_temperature,
                   max_new_tokens=align.max_new_tokens, safety_threshold=align.safety_threshold,
                   micro=align.micro_batch)


def whiten(x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std over the (masked) entries."""
    if mask is None:
        return (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps)
    n = mask.sum().clamp(min=1)
    mean = (x * mask).sum() / n
    var = (((x - mean) * mask) ** 2).sum() / n
    return (x - mean) * torch.rsqrt(var + eps) * mask


def logit(p: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def shaped_score(rc_prob: torch.Tensor) -> torch.Tensor:
    """R̃_c = whiten(logit(R_c)) over the batch of rollouts."""
    return whiten(logit(rc_prob))


def kl_per_token(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sampled-token estimate of KL(π‖π0): log π - log π0 on answer tokens (exactly 0 when π = π0)."""
    return (logp - logp_ref) * mask


def token_rewards(score: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-token rewards [B, T]: -β·KL on every answer token, + the shaped RM score on the last one."""
    r = -beta * kl
    last = (mask.cumsum(1) == mask.sum(1, keepdim=True)) & (mask > 0)
    return r + last.float() * score[:, None]


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalized advantage estimation over answer tokens (right-padded, contiguous mask)."""
    B, T = rewards.shape
    adv = torch.zeros_like(rewards)
    last = torch.zeros(B, device=rewards.device)
    next_v = torch.zeros(B, device=rewards.device)
    for t in reversed(range(T)):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_v - values[:, t]
        last = (delta + gamma * lam * last) * m
        adv[:, t] = last
        next_v = values[:, t] * m
    return adv, adv + values


class ValueHead(nn.Module):
    """V(s_t) from the policy's final-normed hidden state (detached: the value loss does not move the policy)."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(h.detach()).squeeze(-1)


def _batch(seqs: list[list[int]], prompt_lens: list[int]):
    """ids [B, T] and the action mask [B, T-1]: 1 where position t predicts an answer token."""
    T = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), T), dtype=torch.long)
    mask = torch.zeros((len(seqs), T - 1))
    for i, (s, p) in enumerate(zip(seqs, prompt_lens)):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, p - 1: len(s) - 1] = 1.0
    return ids, mask


def logprobs_and_hidden(model, ids: torch.Tensor):
    """log π(token_{t+1} | ≤t) [B, T-1] and the hidden states [B, T-1, dim] of the predicting positions."""
    h, logits = model.hidden_and_logits(ids[:, :-1])     # position t predicts token t+1
    logp = torch.gather(F.log_softmax(logits, -1), 2, ids[:, 1:, None]).squeeze(-1)
    return logp, h


def train_ppo(policy, tok, tasks, hrm, srm, args: PPOArgs, generator: torch.Generator | None = None,
              seed: int = 0, log=None, progress=None, ref=None) -> list[dict]:
    """Run `args.iterations` PPO iterations in place on `policy`; returns per-iteration stats.
    `progress(iterations done, iterations)` after each one. ref: the frozen reference policy (a copy of
    `policy` when None; pass one loaded with the same FSDP2 sharding when the policy is sharded).

    Under a process group the rollouts are generated chunk by chunk across the ranks and gathered on every
    rank (policy.sample_answers), and each mini-batch's gradient step is data parallel: rank r takes every
    world-th rollout, its loss is its share of the mini-batch's token sum over the global token count, and
    the gradients are summed."""
    rng = random.Random(seed)
    rank, world = rank_world()
    device = next(policy.parameters()).device
    sharded = world > 1 and is_sharded(policy)
    if sharded:
        reshard(policy)                # before the parameters are collected (parallel.reshard)
    ref = (ref if ref is not None else copy.deepcopy(policy)).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    dim = policy.tok_embeddings.embedding_dim
    value = ValueHead(dim).to(device)
    params = list(policy.parameters()) + list(value.parameters())
    opt = make_optimizer(params, args.lr, args.weight_decay)
    history = []
    for it in range(args.iterations):
        batch_tasks = rng.sample(tasks, min(args.batch, len(tasks)))
        prompts = task_prompts(tok, batch_tasks)
        answers = sample_answers(policy, tok, prompts, temperature=args.temperature, generator=generator,
                                 max_new_tokens=args.max_new_tokens)
        seqs = [p + a for p, a in zip(prompts, answers)]
        ids, mask = (t.to(device) for t in _batch(seqs, [len(p) for p in prompts]))
        with torch.no_grad():
            r_raw, switch = reward_scores(hrm, srm, seqs, [t.unsafe for t in batch_tasks], args.safety_threshold)
            score = shaped_score(torch.sigmoid(r_raw)).to(device)
            old_logp, h = logprobs_and_hidden(policy, ids)
            ref_logp, _ = logprobs_and_hidden(ref, ids)
            kl = kl_per_token(old_logp, ref_logp, mask)
            rewards = token_rewards(score, kl, mask, args.beta)
            values = value(h) * mask
            adv, returns = gae(rewards, values, mask, args.gamma, args.lam)
            adv = whiten(adv, mask)
        if sharded:
            reshard(policy)            # the rollouts' no-grad passes left the root gathered
        policy.train()
        order = list(range(len(seqs)))
        rng.shuffle(order)
        losses = []
        for s in range(0, len(order), args.minibatch):
            full = torch.tensor(order[s:s + args.minibatch], device=device)
            mine = full[local_part(list(range(len(full))), rank, world)]
            n = all_reduce_sum(mask[mine].sum().clone()).clamp(min=1)         # answer tokens of the mini-batch
            opt.zero_grad(set_to_none=True)
            loss = torch.zeros((), device=device)
            for part in passes(mine.tolist(), -(-len(full) // world), args.micro):
                if part:
                    idx = torch.tensor(part, device=device)
                    m = mask[idx]
                    logp, hh = logprobs_and_hidden(policy, ids[idx])
                    ratio = torch.exp(logp - old_logp[idx])
                    pg = torch.max(-adv[idx] * ratio, -adv[idx] * ratio.clamp(1 - args.clip, 1 + args.clip))
                    vf = (value(hh) - returns[idx]) ** 2
                    piece = (pg * m).sum() / n + args.vf_coef * (vf * m).sum() / n
                elif sharded:  # nothing for this rank in this pass: one rollout at zero weight, so FSDP2's
                    logp, hh = logprobs_and_hidden(policy, ids[full[:1]])      # collectives still match
                    piece = logp.sum() * 0.0 + value(hh).sum() * 0.0
                else:
                    continue
                piece.backward()
                loss += piece.detach()
            grads_all_reduce(params)
            clip_grad_norm(params, args.grad_clip)
            opt.step()
            losses.append(float(all_reduce_sum(loss)))
        policy.eval()
        stat = {"iteration": it + 1, "kl": float(kl.sum(1).mean()), "reward": float(r_raw.mean()),
                "total_reward": float((rewards.sum(1)).mean()), "safety_rm_share": float(switch.float().mean()),
                "loss": sum(losses) / len(losses), "answer_tokens": float(mask.sum(1).mean())}
        history.append(stat)
        if progress:
            progress(it + 1, args.iterations)
        if log:
            log(f"ppo {it + 1}/{args.iterations}: RM {stat['reward']:.3f} KL {stat['kl']:.4f} loss {stat['loss']:.3f}")
    return history
