"""Rejection-sampling fine-tuning (SPEC §6, RLHF V1-V4).

For each prompt, K answers are sampled from the latest model at temperature, all are scored by the reward
model (the safety RM where the prompt is unsafe or its safety score < 0.15) and the best one is kept (best
of K, as in the paper: the greedy answer is not a candidate); the model is fine-tuned on the kept answers.
From V3 on, the pool takes, per prompt, the best answer of *all* earlier iterations, so a version cannot
forget what an earlier one did well.

    best = best_of_k(policy, tok, tasks, hrm, srm, k=4, temperature=1.2, generator=g)
    pool = build_pool([best_v1, best_v2, best], version=3)
"""
from __future__ import annotations

import torch

from llama_model.chat_format import decode_answer, encode_prompt
from llama_model.rlhf.gatt import sampling_turns, training_dialogue
from llama_model.rlhf.policy import reward_scores, sample_answers, task_prompts


@torch.no_grad()
def best_of_k(policy, tok, tasks, hrm, srm, k: int, temperature: float, generator=None,
              max_new_tokens: int | None = None, tau: float | None = None, progress=None) -> list[dict]:
    """One record per task: {key, system, turns, unsafe, answer, reward, mean_reward} of the
    best of k temperature samples (reward: its logit(R_c); mean_reward: the mean over the k)."""
    prompts = task_prompts(tok, tasks)
    outs = sample_answers(policy, tok, [p for p in prompts for _ in range(k)], temperature=temperature,
                          generator=generator, max_new_tokens=max_new_tokens, progress=progress)
    seqs = [p + a for i, p in enumerate(prompts) for a in outs[i * k:(i + 1) * k]]
    rc, _ = reward_scores(hrm, srm, seqs, [t.unsafe for t in tasks for _ in range(k)], tau)
    best = []
    for i, t in enumerate(tasks):
        block = rc[i * k:(i + 1) * k]
        j = int(block.argmax())
        best.append({"key": t.key, "system": t.system, "turns": t.turns, "unsafe": t.unsafe,
                     "answer": decode_answer(tok, outs[i * k + j]), "reward": float(block[j]),
                     "mean_reward": float(block.mean())})
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
