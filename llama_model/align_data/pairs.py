"""Rated comparisons of the bundled tasks: the program annotator (Llama 2 §3.2.1 ratings, safety labels).

Records are the internal comparison form of formats.py: {system?, prompt: turns, chosen, rejected, rating, safety}.

    pairs = preference_pairs(800, seed=week_seed)
"""
from __future__ import annotations

import random

from llama_model.align_data.judge import is_safe, quality
from llama_model.align_data.tasks import (
    BORDERLINE,
    OPEN_CATEGORIES,
    REFUSAL,
    WORDS,
    Task,
    reference_answer,
    sample_task,
    sample_tasks,
    true_value,
)


def _candidates(task: Task, rng: random.Random) -> tuple[list[str], list[str]]:
    """(attempts, junk) for one task: attempts are the right answer and near or far misses of it; junk
    (refusing a safe request, off-task words, complying with an unsafe one) is only ever compared with the
    right answer, so a low rating always means two similar attempts, never an easy tell."""
    right = task.answer
    if task.unsafe:     # graded by judge.unsafe_quality: 1, 0.5, 0.3, 0.1 | 0
        v = task.args["v"]
        return [right, "I would rather talk about something else.", "Sure.", f"Sure, to {v} you start slowly."], \
            [f"Sure, here is how to {v}: first get the tools."]
    if task.kind == "open":             # any right word beats a refusal, a word of another category less
        c = task.args["c"]
        others = sorted({w for k, ws in OPEN_CATEGORIES.items() if k != c for w in ws})
        rights = [w.capitalize() + "." for w in OPEN_CATEGORIES[c]]
        return [right, rng.choice(rights), rng.choice(others).capitalize() + "."], [REFUSAL, REFUSAL]
    if task.kind == "borderline":       # answering beats refusing; another request's answer is off-topic
        other = BORDERLINE[rng.choice(sorted(set(BORDERLINE) - {task.args["v"]}))]
        return [right, other], [REFUSAL, REFUSAL, rng.choice(WORDS) + " " + rng.choice(WORDS)]
    other = sample_task(rng, "single")            # an answer to some other request: on-topic it is not
    junk = [REFUSAL, rng.choice(WORDS) + " " + rng.choice(WORDS)] + ([other.answer] if other.kind != task.kind else [])
    c = [right]
    if task.kind in ("add", "sub"):
        truth = true_value(task.kind, task.args)
        for d in (1, 2, rng.choice((3, 4, 5))):
            x = truth + d if truth - d < 0 or rng.random() < 0.5 else truth - d
            c.append(reference_answer("add", {"a": x, "b": 0}, task.style) if x <= 18 else f"The answer is {x}.")
        if task.style != "default":
            c.append(f"The answer is {truth}.")   # right number, ignores the instruction
    elif task.kind == "cmp":
        a, b = task.args["a"], task.args["b"]
        truth = true_value("cmp", task.args)
        c.append({"default": f"No, {a} is not bigger than {b}." if truth else f"Yes, {a} is bigger than {b}.",
                  "one_word": "no" if truth else "yes", "french": "non" if truth else "oui"}[task.style])
        if task.style != "default":
            c.append(reference_answer("cmp", task.args, "default"))
    else:
        for n_typos in (1, 2):
            w = list(right)
            for i in rng.sample(range(len(w)), min(n_typos, len(w))):
                w[i] = rng.choice([ch for ch in "abcdefghijklmnopqrstuvwxyz" if ch != w[i].lower()])
            c.append("".join(w).upper() if task.kind == "upper" else "".join(w))
        c.append(task.args["w"])                  # the word unchanged
    return c, junk


def rate_pair(task: Task, a: str, b: str) -> dict | None:
    """The program annotator: a comparison record of two answers to a task (None for a tie)."""
    qa, qb = quality(task, a), quality(task, b)
    if qa == qb:
        return None
    if qb > qa:
        a, b, qa, qb = b, a, qb, qa
    rec = {"prompt": task.turns, "chosen": a, "rejected": b, "rating": rating_of_gap(qa - qb),
           "safety": {"unsafe_prompt": task.unsafe, "chosen_safe": is_safe(task, a), "rejected_safe": is_safe(task, b)}}
    return ({"system": task.system} | rec) if task.system else rec


def rating_of_gap(gap: float) -> int:
    """Map the quality gap to the Llama 2 rating: 3 significantly, 2 better, 1 slightly, 0 negligibly better."""
    return 3 if gap >= 0.75 else 2 if gap >= 0.5 else 1 if gap >= 0.25 else 0


# Annotators also compare answers late in dialogues whose first turn set an instruction (the gatt shape).
# Without those pairs the RM never learns that following the instruction there is better, and scores the
# GAtt-trained versions (V3+) lower exactly where the program judge says they improved.
# 30% of them: at 10% the tiny RM still preferred "The answer is 4." to "4" three turns after "Answer in one word.".
# Borderline and open requests, 7.5% each: annotators compare answering them with refusing them (Llama 2's
# borderline set; its helpfulness prompts of every kind).
PREFERENCE_SHAPES = {"single": 0.3, "system": 0.15, "multi": 0.1, "gatt": 0.3, "borderline": 0.075, "open": 0.075}


def preference_pairs(n: int, seed: int, split: str = "train") -> list[dict]:
    """n rated comparisons (the preferences JSONL format) from the training split; chosen has the higher
    program quality, the rating is the size of the gap, the safety labels come from the safety judge."""
    rng = random.Random(seed)
    tasks = sample_tasks(n, seed, PREFERENCE_SHAPES, split)
    out = []
    for t in tasks:
        attempts, junk = _candidates(t, rng)
        for _ in range(10):
            if rng.random() < 0.25 or len(attempts) < 2:
                a, b = t.answer, rng.choice(junk)
            else:
                a, b = rng.sample(attempts, 2)
            rec = rate_pair(t, a, b)
            if rec is not None:
                break
        else:
            continue
        out.append(rec)
    return out
