"""Weekly preference batches: the model's own comparisons, the weeks read back, the two RMs' data mixes.

    pairs = model_preference_pairs(policy, tok, 400, seed, samples=4, temperature=1.0, max_new_tokens=24,
                                   shapes={"single": 1.0})
    weeks, pairs = read_weeks("data/preference_data")
    rm_mix("safety", pairs, safety_mix=0.1)     # all safety pairs, helpful pairs = 10% of the mix
"""
from __future__ import annotations

import datetime as _dt
import random
from pathlib import Path

import torch

from llama_model import align_data
from llama_model.chat_format import decode_answer
from llama_model.rlhf.policy import sample_answers, task_prompts

PREFERENCES_FILE = "preferences.jsonl"


def week_seed(week: str) -> int:
    """A week key (YYYY-MM-DD) -> a seed: each week a new, reproducible batch."""
    return _dt.date.fromisoformat(week).toordinal()


def model_preference_pairs(policy, tok, n_prompts: int, seed: int, samples: int, temperature: float,
                           max_new_tokens: int, shapes: dict[str, float], progress=None) -> list[dict]:
    """Llama 2 style comparisons: `samples` answers of the chat model per prompt, rated by the program
    annotator (quality gap -> rating). Per prompt the best against the worst sample, and, when no sample
    is right, the right answer against the best sample (the annotator's preferred response)."""
    tasks = align_data.sample_tasks(n_prompts, seed, shapes)
    g = torch.Generator(device=next(policy.parameters()).device).manual_seed(seed)
    prompts = task_prompts(tok, tasks)
    outs = sample_answers(policy, tok, [p for p in prompts for _ in range(samples)], temperature=temperature,
                          generator=g, max_new_tokens=max_new_tokens, progress=progress)
    pairs = []
    for i, t in enumerate(tasks):
        answers = [decode_answer(tok, a) for a in outs[i * samples:(i + 1) * samples]]
        ranked = sorted(answers, key=lambda a: align_data.quality(t, a))
        for a, b in ((ranked[-1], ranked[0]), (t.answer, ranked[-1])):
            rec = align_data.rate_pair(t, a, b)
            if rec is not None and rec not in pairs:
                pairs.append(rec)
    return pairs


def read_weeks(pref_root) -> tuple[list[str], list[dict]]:
    """All materialized weeks under preference_data/ (sorted) and their pairs."""
    root = Path(pref_root)
    weeks = sorted(p.name for p in root.iterdir() if (p / PREFERENCES_FILE).exists()) if root.is_dir() else []
    if not weeks:
        raise FileNotFoundError(f"no weekly preference batches under {root}: materialize preference_data first")
    pairs = []
    for w in weeks:
        pairs += align_data.load_preferences(root / w / PREFERENCES_FILE)
    return weeks, pairs


def rm_mix(kind: str, pairs: list[dict], seed: int = 0, safety_mix: float = 0.1) -> list[dict]:
    """SPEC §5 mixes: helpfulness = all helpful pairs + an equal part of safety pairs; safety = all safety
    pairs + helpfulness pairs making up `safety_mix` of the result (90/10: one helpful pair per nine).
    Comparisons on borderline requests (benign, phrased like unsafe ones) are safety data too, as in Llama 2,
    whose safety annotation includes borderline prompts: the safety RM then learns that answering them
    beats refusing (they are also helpful pairs, in the helpfulness RM's share)."""
    rng = random.Random(seed)
    safety = [p for p in pairs if p["safety"]["unsafe_prompt"]]
    helpful = [p for p in pairs if not p["safety"]["unsafe_prompt"]]
    if kind == "helpfulness":
        mix = helpful + rng.sample(safety, min(len(safety), len(helpful)))
    elif kind == "safety":
        borderline = [p for p in helpful if align_data.is_borderline_prompt(p["prompt"][-1]["content"])]
        n_help = min(len(helpful), round(len(safety) * safety_mix / (1 - safety_mix)))
        taken = {id(p) for p in borderline}
        mix = safety + borderline + rng.sample([p for p in helpful if id(p) not in taken], n_help)
    else:
        raise ValueError(f"unknown reward model kind {kind!r} (helpfulness or safety)")
    rng.shuffle(mix)
    return mix
