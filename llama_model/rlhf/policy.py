"""What every RLHF step does with a policy: sample answers (batched KV-cache generation), score them with
the reward models (the Llama 2 safety switch), and evaluate a version on the held-out tasks.

    answers = sample_answers(model, tok, prompts, temperature=1.2, generator=g)
    rc = reward_scores(hrm, srm, seqs, unsafe)          # logit(R_c): safety RM when it must decide
    evaluate(model, tok, eval_tasks(), hrm, srm)         # success rate, mean reward, violations, GAtt
"""
from __future__ import annotations

import os

import torch

from llama_model import align_data
from llama_model.chat_format import decode_answer, encode_prompt
from llama_model.configs import get_profile
from llama_model.generation import generate
from llama_model.parallel import is_sharded, rank_world, spread
from llama_model.rlhf.gatt import sampling_turns


def profile_align():
    """The AlignArgs of the active profile ($LLAMA_PROFILE): where a caller passes no length or threshold."""
    return get_profile().align


def with_eos(ids: list[int], eos_id: int, max_new_tokens: int) -> list[int]:
    """generate() drops the </s> it stopped at; put it back (the answer as the chat format trains it).
    An answer that ran to max_new_tokens never closed, and stays without it."""
    ids = list(ids)
    return ids + [eos_id] if len(ids) < max_new_tokens else ids


@torch.no_grad()
def sample_answers(model, tok, prompts: list[list[int]], temperature: float = 0.0, top_p: float = 1.0,
                   generator: torch.Generator | None = None, max_new_tokens: int | None = None,
                   chunk: int = 128, progress=None) -> list[list[int]]:
    """Answer token ids (cut after </s>) for every prompt, generated `chunk` prompts at a time; at most
    max_new_tokens (default: the profile's AlignArgs.max_new_tokens) and never past the model's context.
    `progress(prompts done, prompts)` after each round of chunks.

    Under a process group the chunks are dealt round-robin over the ranks and the answers gathered on
    every rank. Each chunk samples from its own generator, seeded from `generator` (one draw per chunk),
    so the answers do not depend on how many ranks there are."""
    model.eval()
    cap = profile_align().max_new_tokens if max_new_tokens is None else max_new_tokens
    chunk = rows_per_chunk(model.args, chunk)
    parts = [prompts[i:i + chunk] for i in range(0, len(prompts), chunk)]
    seeds = chunk_seeds(generator, len(parts)) if temperature > 0 and generator is not None else None
    lockstep = is_sharded(model) and rank_world()[1] > 1
    world, done = rank_world()[1], [0]

    def run(i: int) -> list[list[int]]:
        part = parts[i]
        g = torch.Generator(device=generator.device).manual_seed(seeds[i]) if seeds else None
        n = max(0, min(cap, model.args.max_seq_len - max(len(p) for p in part)))
        new = generate(model, part, n, temperature=temperature, top_p=top_p, eos_id=tok.eos_id, generator=g,
                       lockstep=lockstep)
        done[0] += len(part) * world
        if progress:
            progress(min(done[0], len(prompts)), len(prompts))
        return [with_eos(x, tok.eos_id, n) for x in new]

    def idle() -> None:            # a rank without a chunk this round joins the others' forward passes
        generate(model, [], 0, lockstep=True)

    return [a for answers in spread(len(parts), run, idle if lockstep else None) for a in answers]


def rows_per_chunk(args, most: int = 128) -> int:
    """Prompts generated together: at most `most`, and no more than a KV cache of $LLAMA_KV_CACHE_GB
    (default 16) GiB holds at full context in bf16 (a 70B model: 1.25 GiB a row, so 12 rows). It depends on
    the model only, so the chunks, and with them the samples, are the same on any number of ranks."""
    budget = float(os.environ.get("LLAMA_KV_CACHE_GB") or 16) * 2 ** 30
    row = 2 * args.n_layers * args.kv_heads * args.head_dim * args.max_seq_len * 2
    return max(1, min(most, int(budget // row)))


def chunk_seeds(generator: torch.Generator, n: int) -> list[int]:
    """n seeds drawn from `generator`, the same on every rank (every rank holds the same generator)."""
    return torch.randint(0, 2 ** 62, (n,), generator=generator, device=generator.device).tolist()


def use_safety(unsafe: torch.Tensor, safety_prob: torch.Tensor, tau: float | None = None) -> torch.Tensor:
    """SPEC §6: the safety RM decides when the prompt is tagged unsafe or its score σ(r_s) < 0.15
    (tau: the profile's AlignArgs.safety_threshold unless given)."""
    tau = profile_align().safety_threshold if tau is None else tau
    return unsafe | (safety_prob < tau)


@torch.no_grad()
def reward_scores(hrm, srm, seqs: list[list[int]], unsafe: list[bool], tau: float | None = None):
    """(logit(R_c), used-safety mask): per sequence the helpfulness or the safety RM's raw score. The switch
    reads the safety RM's calibrated score σ(scale·r_s + offset) (reward.calibrate_switch)."""
    h = hrm.score(seqs)
    s = srm.score(seqs) if srm is not None else torch.zeros_like(h)
    scale, offset = float(getattr(srm, "switch_scale", 1.0)), float(getattr(srm, "switch_offset", 0.0))
    switch = use_safety(torch.tensor(unsafe, dtype=torch.bool), torch.sigmoid(scale * s + offset), tau) if srm is not None \
        else torch.zeros_like(h, dtype=torch.bool)
    return torch.where(switch, s, h), switch


def task_prompts(tok, tasks, every_turn_system: bool = False) -> list[list[int]]:
    return [encode_prompt(tok, sampling_turns(t.turns, t.system) if every_turn_system else t.turns,
                          None if every_turn_system else t.system) for t in tasks]


@torch.no_grad()
def evaluate(model, tok, tasks, hrm=None, srm=None, max_new_tokens: int | None = None, tau: float | None = None) -> dict:
    """Greedy answers to held-out tasks, judged by the program (and the RMs when given).

    success_rate: right answers (content, form, safety) over all tasks; safety_violations: unsafe requests
    not refused; false_refusal_rate: safe requests refused (Llama 2's false refusal; the borderline ones
    are align_data.borderline_tasks()); gatt_follow_rate: on dialogues whose first turn set a system
    instruction, the share of last-turn answers that still follow it; mean_reward: mean logit(R_c) with
    the safety switch.
    """
    prompts = task_prompts(tok, tasks)
    answers = sample_answers(model, tok, prompts, max_new_tokens=max_new_tokens)
    texts = [decode_answer(tok, a) for a in answers]
    ok = [align_data.judge(t, a) for t, a in zip(tasks, texts)]
    gatt = [(t, a) for t, a in zip(tasks, texts) if t.system and len(t.turns) > 1]
    single = [o for t, o in zip(tasks, ok) if not (t.system and len(t.turns) > 1)]
    out = {
        "n": len(tasks),
        "success_rate": sum(ok) / len(ok),
        "success_rate_single": sum(single) / max(1, len(single)),
        "safety_violations": sum(not align_data.is_safe(t, a) for t, a in zip(tasks, texts)),
        "unsafe_prompts": sum(t.unsafe for t in tasks),
        "false_refusal_rate": sum(align_data.is_false_refusal(t, a) for t, a in zip(tasks, texts))
        / max(1, sum(not t.unsafe for t in tasks)),
        "gatt_follow_rate": (sum(align_data.follows_instruction(t, a) for t, a in gatt) / len(gatt)) if gatt else float("nan"),
        "gatt_success_rate": (sum(align_data.judge(t, a) for t, a in gatt) / len(gatt)) if gatt else float("nan"),
    }
    if hrm is not None:
        rc, switch = reward_scores(hrm, srm, [p + a for p, a in zip(prompts, answers)], [t.unsafe for t in tasks], tau)
        out["mean_reward"] = rc.mean().item()
        out["safety_rm_used"] = int(switch.sum())
    out["examples"] = [{"prompt": t.turns[-1]["content"], "system": t.system, "answer": a, "ok": o}
                       for t, a, o in list(zip(tasks, texts, ok))[:: max(1, len(tasks) // 8)]]
    return out
