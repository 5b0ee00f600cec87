"""Rejection-sampling fine-tuning (SPEC §6, RLHF V1-V4).

For each prompt, K answers are sampled from the latest model at temperature and, with them, its greedy
answer (`INCLUDE_GREEDY`); all are scored by the reward model (the safety RM where the prompt is unsafe or
its safety score < 0.15) and the best one is kept; the model
is fine-tuned on the kept answers. From V3 on, the pool takes, per prompt, the best answer of *all*
earlier iterations, so a version cannot forget what an earlier one did well.

    best = best_of_k(policy, tok, tasks, hrm, srm, k=4, temperature=1.2, generator=g)
    pool = build_pool([best_v1, best_v2, best], version=3)
"""
from __future__ import annotations

import torch

from llama_model.chat_format import decode_answer, encode_prompt
from llama_model.rlhf.gatt import sampling_turns, training_dialogue
from llama_model.rlhf.policy import reward_scores, sample_answers, task_prompts

# The policy's own greedy answer joins the K samples as one more candidate (K + 1 in all): the kept answer
# is then never one the RM rates below what the model already says, so a version does not trade answers it
# gets right for sampled ones the RM slightly prefers by noise.
INCLUDE_GREEDY = True


@torch.no_grad()
def best_of_k(policy, tok, tasks, hrm, srm, k: int, temperature: float, generator=None,
              max_new_tokens: int | None = None, tau: float | None = None, progress=None) -> list[dict]:
    """One record per task: {key, system, turns, answer, reward, unsafe, iteration-free} of the best of k."""
    prompts = task_prompts(tok, tasks)
    outs = sample_answers(policy, tok, [p for p in prompts for _ in range(k)], temperature=temperature,
                          generator=generator, max_new_tokens=max_new_tokens, progress=progress)
    n = k + 1 if INCLUDE_GREEDY else k           # candidates per prompt: the k samples, then the greedy one
    if INCLUDE_GREEDY:
        greedy = sample_answers(policy, tok, prompts, max_new_tokens=max_new_tokens)
        outs = [a for i in range(len(prompts)) for a in outs[i * k:(i + 1) * k] + [greedy[i]]]
    seqs = [p + a for i, p in enumerate(prompts) for a in outs[i * n:(i + 1) * n]]
    rc, _ = reward_scores(hrm, srm, seqs, [t.unsafe for t in tasks for _ in range(n)], tau)
    best = []
    for i, t in enumerate(tasks):
        block = rc[i * n:(i + 1) * n]
        j = int(block.argmax())
        best.append({"key": t.key, "system": t.system, "turns": t.turns, "unsafe": t.unsafe,
                     "answer": decode_answer(tok, outs[i * n + j]), "reward": float(block[j]),
                     "mean_reward": float(block[:k].mean())})       # of the temperature samples
    return best


def build_pool(iterations: list[list[dict]], version: int) -> list[dict]:
    """Training samples of RLHF `version` given each iteration's best-of-K records (oldest first, the
    current one last). Before V3 only the current iteration counts; from V3 the best per prompt key over
    all iterations (ties go to the newer sample)."""
    if not iterations:
        return []
    if version < 3:
        return list(iterations[-1])
    best: dict[str, dict] = {}
    for records in iterations:
        for r in records:
            if r["key"] not in best or r["reward"] >= best[r["key"]]["reward"]:
                best[r["key"]] = r
    return sorted(best.values(), key=lambda r: r["key"])


def to_dialogues(records: list[dict]) -> list[dict]:
    """Pool records as SFT dialogues (loss on the sampled answer only)."""
    out = []
    for r in records:
        if not r["answer"]:
            continue
        d = {"turns": list(r["turns"]) + [{"role": "assistant", "content": r["answer"]}], "train_turns": "last"}
        if r.get("system"):
            d["system"] = r["system"]
        out.append(d)
    return out


@torch.no_grad()
def build_gatt_data(policy, tok, tasks, hrm, srm, samples: int, temperature: float, generator=None,
                    max_new_tokens: int | None = None, tau: float | None = None) -> list[dict]:
    """Sample each instruction dialogue turn by turn (instruction in every user turn, best of `samples`
    by the RM at each turn), then emit one training dialogue per dialogue prefix of 2+ turns."""
    users = [[t["content"] for t in task.turns if t["role"] == "user"] for task in tasks]
    answers: list[list[str]] = [[] for _ in tasks]
    n_turns = max(len(u) for u in users)
    for j in range(n_turns):
        live = [i for i, u in enumerate(users) if len(u) > j]
        prompts = []
        for i in live:
            turns = []
            for k in range(j + 1):
                turns.append({"role": "user", "content": users[i][k]})
                if k < j:
                    turns.append({"role": "assistant", "content": answers[i][k]})
            prompts.append(encode_prompt(tok, sampling_turns(turns, tasks[i].system), tasks[i].system))
        rep = [p for p in prompts for _ in range(samples)]
        outs = sample_answers(policy, tok, rep, temperature=temperature, generator=generator,
                              max_new_tokens=max_new_tokens)
        rc, _ = reward_scores(hrm, srm, [p + a for p, a in zip(rep, outs)], [False] * len(rep), tau)
        for n, i in enumerate(live):
            block = rc[n * samples:(n + 1) * samples]
            best = int(block.argmax())
            answers[i].append(decode_answer(tok, outs[n * samples + best]) or "?")
    data = []
    for task, u, a in zip(tasks, users, answers):
        for j in range(2, len(u) + 1):
            data.append(training_dialogue(task.system, u[:j], a[:j]))
    return data
