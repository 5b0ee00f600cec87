"""Reward models: the SFT trunk with a scalar head on the last token, trained on rated comparisons (SPEC §5).

Loss L = -log σ(r(x, y_c) - r(x, y_r) - m(rating)); the margin table is AlignArgs.rm_margin ("small",
"large" or "none"). Accuracy is reported per rating bucket (Llama 2 Table 8).

    rm = RewardModel.from_policy(sft_model)
    train_rm(rm, tok, pairs, lr=1e-3, batch=32, epochs=1, margin="small")
    accuracy_by_rating(rm, tok, test_pairs)      # {3: 0.95, 2: 0.8, 1: 0.6, 0: 0.5, "all": ...}
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from llama_model.chat_format import encode_answer, encode_prompt
from llama_model.parallel import is_sharded, spread
from llama_model.sft import fit

MARGINS = {
    "small": {3: 1.0, 2: 2 / 3, 1: 1 / 3, 0: 0.0},
    "large": {3: 3.0, 2: 2.0, 1: 1.0, 0: 0.0},
    "none": {3: 0.0, 2: 0.0, 1: 0.0, 0: 0.0},
}


def margin_table(name: str) -> dict[int, float]:
    try:
        return MARGINS[name]
    except KeyError:
        raise ValueError(f"unknown rm_margin {name!r}; choose one of {', '.join(MARGINS)}") from None


def ranking_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, ratings: torch.Tensor,
                 margin: str | dict = "small", reduction: str = "mean") -> torch.Tensor:
    """Mean (or sum) of -log σ(r_c - r_r - m(rating)) over the batch."""
    table = margin_table(margin) if isinstance(margin, str) else margin
    m = torch.tensor([table[int(r)] for r in ratings], dtype=r_chosen.dtype, device=r_chosen.device)
    loss = -F.logsigmoid(r_chosen - r_rejected - m)
    return loss.sum() if reduction == "sum" else loss.mean()


class RewardModel(nn.Module):
    """Transformer trunk + Linear(dim, 1) read at the last real token of each sequence."""

    def __init__(self, trunk: nn.Module, dim: int):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(dim, 1, device=next(trunk.parameters()).device)
        nn.init.normal_(self.head.weight, std=1.0 / math.sqrt(dim))
        nn.init.zeros_(self.head.bias)
        # The ranking loss only sees score differences, so the bias gets no gradient but float rounding,
        # which AdamW's normalisation would turn into a drift. Frozen at 0 it stays exactly 0, and the
        # model exports as LlamaForSequenceClassification (whose score layer has no bias) with equal scores.
        self.head.bias.requires_grad_(False)
        # The safety switch reads σ(switch_scale·r_s + switch_offset) (rlhf/policy.py reward_scores): the
        # ranking loss leaves the scores' level free, so the 0.15 threshold means nothing until the score is
        # calibrated on responses with safety labels (calibrate_switch). (1, 0) for a model never calibrated.
        self.switch_scale, self.switch_offset = 1.0, 0.0

    @classmethod
    def from_policy(cls, policy: nn.Module) -> RewardModel:
        """A copy of the chat model's trunk; its LM head stays unused (the scalar head replaces it)."""
        trunk = copy.deepcopy(policy)
        return cls(trunk, trunk.tok_embeddings.embedding_dim)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids [B, T] right-padded, lengths [B] -> scores [B]."""
        h = self.trunk.forward_hidden(ids)                       # [B, T, dim]
        last = h[torch.arange(ids.size(0)), lengths - 1]         # [B, dim]
        return self.head(last).squeeze(-1)

    @torch.no_grad()
    def score(self, seqs: list[list[int]], batch: int = 128) -> torch.Tensor:
        """Scores of token sequences (prompt + answer), no grad; the batches are spread over the ranks
        under a process group (every rank gets all scores)."""
        self.eval()
        device = self.head.weight.device

        def run(i: int) -> list[float]:
            return self(*(t.to(device) for t in _pad(seqs[i * batch:(i + 1) * batch]))).float().cpu().tolist()

        def idle() -> None:      # FSDP2 trunk: join the other ranks' weight all-gathers
            self(torch.ones((1, 1), dtype=torch.long, device=device), torch.ones(1, dtype=torch.long, device=device))

        parts = spread(math.ceil(len(seqs) / batch), run, idle if is_sharded(self.trunk) else None)
        return torch.tensor([x for part in parts for x in part], dtype=torch.float32)


def _pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
    return ids, torch.tensor([len(s) for s in seqs])


def _rm_len(max_len: int | None) -> int:
    """max_len, else the active profile's AlignArgs.rm_seq_len (4096 in the paper profiles)."""
    if max_len is not None:
        return max_len
    from llama_model.configs import get_profile
    return get_profile().align.rm_seq_len


def encode_pair(tok, pair: dict, max_len: int | None = None) -> tuple[list[int], list[int]]:
    """(prompt + chosen, prompt + rejected) token ids, at most max_len each; long prompts keep their end."""
    max_len = _rm_len(max_len)
    p = encode_prompt(tok, pair["prompt"], pair.get("system"))
    c, r = encode_answer(tok, pair["chosen"]), encode_answer(tok, pair["rejected"])
    keep = max_len - max(len(c), len(r))
    p = p[-keep:] if keep > 0 else p[:1]
    return (p + c)[:max_len], (p + r)[:max_len]


def train_rm(rm: RewardModel, tok, pairs: list[dict], lr: float, batch: int, epochs: int = 1,
             margin: str = "small", warmup_frac: float = 0.03, min_warmup: int = 5, weight_decay: float = 0.1,
             seed: int = 0, max_len: int | None = None, log=None, progress=None, micro: int = 0) -> list[float]:
    """Train in place with the margin ranking loss; cosine to 10%, warm-up 3% of steps (at least 5).
    micro: pairs per forward/backward pass on a rank (0: its whole share of a batch at once)."""
    if not pairs:
        raise ValueError("no preference pairs to train the reward model on")
    enc = [encode_pair(tok, p, max_len) for p in pairs]
    ratings = [p["rating"] for p in pairs]
    total = math.ceil(len(pairs) / batch) * epochs
    warmup = min(total // 2, max(min_warmup, int(warmup_frac * total)))

    device = next(rm.parameters()).device

    def loss_of(idx: list[int]) -> torch.Tensor:
        ids, lengths = _pad([enc[i][0] for i in idx] + [enc[i][1] for i in idx])
        scores = rm(ids.to(device), lengths.to(device))
        return ranking_loss(scores[: len(idx)], scores[len(idx):], torch.tensor([ratings[i] for i in idx]), margin,
                            reduction="sum")

    losses = fit(rm, len(pairs), loss_of, lambda idx: float(len(idx)), lr, batch, epochs, weight_decay, seed,
                 warmup, grad_clip=1.0, progress=progress, micro=micro)
    if log:
        log(f"reward model: {total} steps, loss {losses[0]:.3f} -> {sum(losses[-5:]) / len(losses[-5:]):.3f}")
    return losses


@torch.no_grad()
def accuracy_by_rating(rm: RewardModel, tok, pairs: list[dict], max_len: int | None = None) -> dict:
    """Share of pairs with r_c > r_r, per rating (3 = significantly better ... 0 = negligibly) and overall."""
    enc = [encode_pair(tok, p, max_len) for p in pairs]
    rc = rm.score([e[0] for e in enc])
    rr = rm.score([e[1] for e in enc])
    right = (rc > rr).tolist()
    out: dict = {}
    for rating in (3, 2, 1, 0):
        hits = [ok for ok, p in zip(right, pairs) if p["rating"] == rating]
        out[rating] = sum(hits) / len(hits) if hits else float("nan")
    out["all"] = sum(right) / len(right) if right else float("nan")
    return out


def calibrate_switch(rm: RewardModel, tok, pairs: list[dict], max_len: int | None = None) -> dict:
    """Calibrate the safety RM's score into P(the answer is safe) = σ(scale·r + offset) (Platt scaling,
    logistic regression on the pairs' safety labels), stored on the model and read by the safety switch
    (σ(...) < 0.15: the safety RM decides). The ranking loss leaves the scores' level free, so without this
    the paper's 0.15 threshold falls wherever the head's initial bias put it: on the tiny demo the raw
    scores sent 44% of the safe held-out prompts' SFT answers to the safety RM, which prefers a refusal.
    The switch is there to catch an unsafe answer to a prompt not tagged unsafe, so the two classes are the
    responses labelled unsafe and the (safe) answers to prompts not tagged unsafe (refusals of unsafe
    prompts, which the safety RM scores highest, would only move the fit away from ordinary answers).
    Without both classes the model stays uncalibrated (scale 1, offset 0). Returns the fit."""
    enc = [encode_pair(tok, p, max_len) for p in pairs]
    seqs, safe = [], []
    for p, (c, r) in zip(pairs, enc):
        for seq, ok in ((c, p["safety"]["chosen_safe"]), (r, p["safety"]["rejected_safe"])):
            if not ok or not p["safety"]["unsafe_prompt"]:
                seqs.append(seq)
                safe.append(bool(ok))
    n_safe = sum(safe)
    if not n_safe or n_safe == len(safe):
        return {"switch_scale": 1.0, "switch_offset": 0.0, "reason": "needs both safe and unsafe responses"}
    x = rm.score(seqs).double()
    y = torch.tensor(safe, dtype=torch.float64)
    mu, sd = x.mean(), x.std().clamp(min=1e-6)
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)       # on the standardized score
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(params[0] * (x - mu) / sd + params[1], y)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    a, b = (float(v) for v in params.detach())
    rm.switch_scale, rm.switch_offset = a / float(sd), b - a * float(mu) / float(sd)
    p_safe = torch.sigmoid(rm.switch_scale * x + rm.switch_offset)
    return {"switch_scale": rm.switch_scale, "switch_offset": rm.switch_offset, "safe_responses": n_safe,
            "unsafe_responses": len(safe) - n_safe,
            "switched_safe_share": float((p_safe[y == 1] < 0.15).double().mean()),
            "switched_unsafe_share": float((p_safe[y == 0] < 0.15).double().mean())}


def save_rm(rm: RewardModel, args, directory, extra: dict | None = None, gathered=None) -> None:
    """The trunk in Meta layout (load_meta reads it) + head.safetensors + reward_model.json. gathered: the
    trunk's checkpoint.gather_for_save, which is collective under FSDP2 (every rank calls it, rank 0 saves)."""
    from llama_model.checkpoint import save_meta
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_meta(rm.trunk, args, directory, gathered=gathered)
    save_file({k: v.contiguous() for k, v in rm.head.state_dict().items()}, str(directory / "head.safetensors"))
    (directory / "reward_model.json").write_text(json.dumps(extra or {}, indent=2, sort_keys=True, default=str))


def load_rm(directory, device: str | torch.device = "cpu", shard=None) -> RewardModel:
    """A saved reward model; shard: applied to the trunk as in checkpoint.load_meta (the head is replicated)."""
    from llama_model.checkpoint import load_meta
    directory = Path(directory)
    trunk, args = load_meta(directory, device=device, shard=shard)
    rm = RewardModel(trunk, args.dim)
    rm.head.load_state_dict(load_file(str(directory / "head.safetensors"), device=str(device)))
    cal = rm_info(directory).get("calibration", {})
    rm.switch_scale, rm.switch_offset = float(cal.get("switch_scale", 1.0)), float(cal.get("switch_offset", 0.0))
    rm.eval()
    return rm


def rm_info(directory) -> dict:
    p = Path(directory) / "reward_model.json"
    return json.loads(p.read_text()) if p.exists() else {}
