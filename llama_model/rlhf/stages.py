"""The alignment chain, one function per asset: SFT -> weekly preferences -> RMs -> RLHF V1..V4 -> PPO V5.

Each function reads its inputs from folders, writes one output folder (Meta-layout checkpoint + json
side files) and returns the metadata the asset reports. No Dagster here; assets/align.py calls these.

    run_sft(base_dir, tokenizer_path, out_dir, profile.align)
    write_preferences("2026-11-15", out_dir)
    run_reward_model("helpfulness", sft_dir, tokenizer_path, [week_dirs...], out_dir, profile.align)
    run_rejection(1, parent_dir, [], tokenizer_path, hrm_dir, srm_dir, out_dir, profile.align)
    run_ppo(v4_dir, tokenizer_path, hrm_dir, srm_dir, out_dir, profile.align)
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import random
import time
from pathlib import Path

import torch

from common.progress import progress_for
from llama_model import align_data
from llama_model.rlhf import gatt, ppo, rejection
from llama_model.rlhf.policy import evaluate
from llama_model.sft import sft_examples, train_sft
from pipelines.io import atomic_path, write_text

# Sizes of the bundled (generated) data; user data replaces them. Chosen so the tiny chain runs in minutes.
# 8000 SFT dialogues rather than 4000: with 4000 the tiny SFT model gets half its French arithmetic wrong,
# and Ghost Attention then turns right-number-wrong-language answers into French wrong numbers (RLHF v5 vs
# SFT program-judged win rate 0.498; with 8000: 0.548; the variants tried are in docs/alignment.md).
BUNDLED = {"sft": 8000, "pairs_per_week": 800, "model_pair_prompts": 400, "rm_test_pairs": 600, "rs_prompts": 800, "gatt_dialogues": 160,
           "ppo_prompts": 600}
# Rejection-sampling fine-tuning takes a fraction of the SFT learning rate: each version starts from the last
# one and should move it only towards its best samples, not away from what SFT taught (tiny models forget fast).
RS_LR_SCALE = 0.05
PREFERENCES_FILE = "preferences.jsonl"
SAMPLES_FILE = "best_samples.jsonl"       # each RLHF version's best-of-K records (the pool of later ones)
META_FILE = "alignment.json"


@contextlib.contextmanager
def torch_threads(n: int):
    """Run with n intra-op threads (restored after). A dim-64 model on 2 shared cores runs ~20x faster on
    one thread than on several fighting for the cores: its matmuls are too small to split."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def small_model_threads(fn):
    """Decorator: run the stage on $LLAMA_ALIGN_THREADS intra-op threads (default 1, right for the tiny and
    small profiles on a shared CPU; a GPU run does not care)."""
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        with torch_threads(int(os.environ.get("LLAMA_ALIGN_THREADS") or 1)):
            return fn(*a, **kw)
    return wrapper


def _load_tok(tokenizer_path):
    from llama_model.tokenizer import Tokenizer
    return Tokenizer(str(tokenizer_path))


def _seed(tag: str) -> int:
    return sum(ord(c) * 31 ** i for i, c in enumerate(tag)) % (2 ** 31)


# Shapes of the prompts the policy is sampled on (rejection sampling, PPO, the model's own comparisons).
PROMPT_SHAPES = {"single": 0.6, "system": 0.25, "multi": 0.15}


def _policy_setup(tag: str, parent_dir, tokenizer_path, hrm_dir, srm_dir, n_prompts: int, prompts_tag: str):
    """What every RLHF stage starts from: tokenizer, a seeded RNG, the parent policy, both RMs, its prompts."""
    from llama_model.checkpoint import load_meta
    from llama_model.reward import load_rm
    tok = _load_tok(tokenizer_path)
    seed = _seed(tag)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    policy, args = load_meta(parent_dir)
    hrm, srm = load_rm(hrm_dir), load_rm(srm_dir)
    tasks = align_data.sample_tasks(n_prompts, _seed(prompts_tag), PROMPT_SHAPES)
    return tok, seed, g, policy, args, hrm, srm, tasks


def _save_policy(model, args, out_dir, files: dict[str, str]) -> None:
    from llama_model.checkpoint import save_meta
    with atomic_path(out_dir) as tmp:
        save_meta(model, args, tmp)
        for name, text in files.items():
            (tmp / name).write_text(text)


def read_meta(directory) -> dict:
    p = Path(directory) / META_FILE
    return json.loads(p.read_text()) if p.exists() else {}


def _scalar_eval(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if k != "examples"}


# ------------------------------------------------------------------------------------------ SFT
@small_model_threads
def run_sft(base_dir, tokenizer_path, out_dir, align, dialogues_path: str | None = None, log=print) -> dict:
    """Chat-format SFT of the base model (loss on answers only); evaluates on the held-out tasks."""
    from llama_model.checkpoint import load_meta
    t0 = time.perf_counter()
    tok = _load_tok(tokenizer_path)
    torch.manual_seed(_seed("sft"))
    model, args = load_meta(base_dir)
    if dialogues_path:
        dialogues, source = align_data.load_sft(dialogues_path), str(dialogues_path)
    else:
        dialogues, source = align_data.sft_dialogues(BUNDLED["sft"], seed=_seed("sft")), "bundled"
    examples = sft_examples(tok, dialogues, min(align.sft_seq_len, args.max_seq_len))
    losses = train_sft(model, examples, lr=align.sft_lr, batch=align.sft_batch, epochs=align.sft_epochs,
                       weight_decay=align.sft_weight_decay, seed=_seed("sft"), warmup=5, log=log,
                       progress=progress_for(log, "sft_model training"))
    ev = evaluate(model, tok, align_data.eval_tasks())
    meta = {"version": "sft", "data": source, "dialogues": len(dialogues), "examples": len(examples),
            "steps": len(losses), "loss_first": losses[0], "loss_last": sum(losses[-10:]) / len(losses[-10:]),
            "eval": _scalar_eval(ev), "seconds": time.perf_counter() - t0}
    _save_policy(model, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), "losses.json": json.dumps(losses),
        "eval_tasks.jsonl": align_data.tasks_to_jsonl(align_data.eval_tasks()),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)})
    return meta | {"losses": losses, "examples_shown": ev["examples"]}


# ------------------------------------------------------------------------------------------ preferences
def week_seed(week: str) -> int:
    """A week key (YYYY-MM-DD) -> a seed: each week a new, reproducible batch."""
    return _dt.date.fromisoformat(week).toordinal()


def model_preference_pairs(policy, tok, n_prompts: int, seed: int, samples: int = 4,
                           temperature: float = 1.0, progress=None) -> list[dict]:
    """Llama 2 style comparisons: `samples` answers of the chat model per prompt, rated by the program
    annotator (quality gap -> rating). Per prompt the best against the worst sample, and, when no sample
    is right, the right answer against the best sample (the annotator's preferred response)."""
    from llama_model.chat_format import decode_answer
    from llama_model.rlhf.policy import sample_answers, task_prompts
    tasks = align_data.sample_tasks(n_prompts, seed, PROMPT_SHAPES)
    g = torch.Generator().manual_seed(seed)
    prompts = task_prompts(tok, tasks)
    outs = sample_answers(policy, tok, [p for p in prompts for _ in range(samples)], temperature=temperature,
                          generator=g, progress=progress)
    pairs = []
    for i, t in enumerate(tasks):
        answers = [decode_answer(tok, a) for a in outs[i * samples:(i + 1) * samples]]
        ranked = sorted(answers, key=lambda a: align_data.quality(t, a))
        for a, b in ((ranked[-1], ranked[0]), (t.answer, ranked[-1])):
            rec = align_data.rate_pair(t, a, b)
            if rec is not None and rec not in pairs:
                pairs.append(rec)
    return pairs


@small_model_threads
def write_preferences(week: str, out_dir, policy_dir=None, tokenizer_path=None, source_path: str | None = None,
                      log=None) -> dict:
    """One week's batch of rated comparisons as JSONL: validated user data, or the bundled batch (generated
    pairs + pairs of the chat model's own samples when policy_dir is given)."""
    n_model = 0
    if source_path:
        pairs = align_data.load_preferences(source_path)
    else:
        pairs = align_data.preference_pairs(BUNDLED["pairs_per_week"], seed=week_seed(week))
        if policy_dir is not None:
            from llama_model.checkpoint import load_meta
            torch.manual_seed(week_seed(week))
            policy, _ = load_meta(policy_dir)
            extra = model_preference_pairs(policy, _load_tok(tokenizer_path), BUNDLED["model_pair_prompts"],
                                           seed=week_seed(week) + 1,
                                           progress=progress_for(log, f"preference_data[{week}] sampling", "answers"))
            pairs += extra
            n_model = len(extra)
    write_text(Path(out_dir) / PREFERENCES_FILE, align_data.preferences_to_jsonl(pairs))
    ratings = {r: sum(p["rating"] == r for p in pairs) for r in (3, 2, 1, 0)}
    return {"week": week, "pairs": len(pairs), "model_sample_pairs": n_model, "source": source_path or "bundled",
            "unsafe_prompts": sum(p["safety"]["unsafe_prompt"] for p in pairs),
            **{f"rating_{r}": n for r, n in ratings.items()}}


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


def rm_mix(kind: str, pairs: list[dict], seed: int = 0) -> list[dict]:
    """SPEC §5 mixes: helpfulness = all helpful pairs + an equal part of safety pairs; safety = all safety
    pairs + 10% of the helpfulness pairs."""
    rng = random.Random(seed)
    safety = [p for p in pairs if p["safety"]["unsafe_prompt"]]
    helpful = [p for p in pairs if not p["safety"]["unsafe_prompt"]]
    if kind == "helpfulness":
        mix = helpful + rng.sample(safety, min(len(safety), len(helpful)))
    elif kind == "safety":
        mix = safety + rng.sample(helpful, len(helpful) // 10)
    else:
        raise ValueError(f"unknown reward model kind {kind!r} (helpfulness or safety)")
    rng.shuffle(mix)
    return mix


# ------------------------------------------------------------------------------------------ reward models
@small_model_threads
def run_reward_model(kind: str, sft_dir, tokenizer_path, pref_root, out_dir, align, log=print) -> dict:
    """Train a reward model from the SFT checkpoint on every materialized week; accuracy per rating on
    comparisons from the held-out split."""
    from llama_model.checkpoint import load_meta
    from llama_model.reward import RewardModel, accuracy_by_rating, save_rm, train_rm
    t0 = time.perf_counter()
    tok = _load_tok(tokenizer_path)
    torch.manual_seed(_seed(kind))
    weeks, pairs = read_weeks(pref_root)
    train = rm_mix(kind, pairs, seed=_seed(kind))
    policy, args = load_meta(sft_dir)
    rm = RewardModel.from_policy(policy)
    losses = train_rm(rm, tok, train, lr=align.rm_lr, batch=align.rm_batch, epochs=align.rm_epochs,
                      margin=align.rm_margin, warmup_frac=align.rm_warmup_frac, min_warmup=align.rm_min_warmup,
                      seed=_seed(kind), log=log, progress=progress_for(log, f"{kind}_rm training"))
    test = align_data.preference_pairs(BUNDLED["rm_test_pairs"], seed=_seed("rm-test"), split="eval")
    test = [p for p in test if p["safety"]["unsafe_prompt"] == (kind == "safety")] if kind == "safety" else test
    acc = accuracy_by_rating(rm, tok, test)
    meta = {"kind": kind, "weeks": weeks, "train_pairs": len(train), "test_pairs": len(test),
            "margin": align.rm_margin, "steps": len(losses), "loss_first": losses[0],
            "loss_last": sum(losses[-5:]) / len(losses[-5:]),
            "accuracy": {str(k): v for k, v in acc.items()}, "sft_dir": str(sft_dir)}
    with atomic_path(out_dir) as tmp:
        save_rm(rm, args, tmp, extra=meta)
    return meta | {"seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------------------------------ RLHF
def _rm_lineage(hrm_dir, srm_dir) -> dict:
    from llama_model.reward import rm_info
    h, s = rm_info(hrm_dir), rm_info(srm_dir)
    return {"helpfulness_rm": str(hrm_dir), "safety_rm": str(srm_dir), "data_weeks": h.get("weeks", []),
            "helpfulness_rm_accuracy": h.get("accuracy"), "safety_rm_accuracy": s.get("accuracy")}


def _read_samples(directory) -> list[dict]:
    p = Path(directory) / SAMPLES_FILE
    return align_data.read_samples(p) if p.exists() else []


@small_model_threads
def run_rejection(version: int, parent_dir, earlier_dirs: list, tokenizer_path, hrm_dir, srm_dir, out_dir,
                  align, log=print) -> dict:
    """RLHF V1-V4: best of K samples by the RM, fine-tune the parent on them; from V3 the pool of all
    iterations' best samples, plus Ghost Attention dialogues."""
    from llama_model.checkpoint import load_meta
    t0 = time.perf_counter()
    tok, seed, g, policy, args, hrm, srm, tasks = _policy_setup(
        f"rlhf-v{version}", parent_dir, tokenizer_path, hrm_dir, srm_dir, BUNDLED["rs_prompts"], "rs-prompts")
    best = rejection.best_of_k(policy, tok, tasks, hrm, srm, k=align.rs_samples,
                               temperature=align.rs_temperature, generator=g,
                               progress=progress_for(log, f"rlhf_v{version} sampling", "answers"))
    iterations = [_read_samples(d) for d in earlier_dirs] + [best]
    pool = rejection.build_pool(iterations, version)
    dialogues = rejection.to_dialogues(pool)
    n_gatt = 0
    if version >= 3:
        gtasks = align_data.sample_tasks(BUNDLED["gatt_dialogues"], _seed(f"gatt-v{version}"), {"gatt": 1.0})
        gdata = gatt.build_gatt_data(policy, tok, gtasks, hrm, srm, samples=align.rs_samples,
                                     temperature=align.rs_temperature, generator=g)
        dialogues += gdata
        n_gatt = len(gdata)
    examples = sft_examples(tok, dialogues, min(align.sft_seq_len, args.max_seq_len))
    losses = train_sft(policy, examples, lr=align.sft_lr * RS_LR_SCALE, batch=align.sft_batch, epochs=align.sft_epochs,
                       weight_decay=align.sft_weight_decay, seed=seed, warmup=5, log=log,
                       progress=progress_for(log, f"rlhf_v{version} fine-tuning"))
    eval_tasks = align_data.eval_tasks()
    ev = evaluate(policy, tok, eval_tasks, hrm, srm)
    parent_ev = evaluate(load_meta(parent_dir)[0], tok, eval_tasks, hrm, srm)
    meta = {"version": f"v{version}", "method": "rejection sampling" + (" + GAtt" if version >= 3 else ""),
            "parent": str(parent_dir), "pooled_from": [str(d) for d in earlier_dirs] if version >= 3 else [],
            **_rm_lineage(hrm_dir, srm_dir), "k": align.rs_samples, "temperature": align.rs_temperature,
            "prompts": len(tasks), "pool": len(pool), "gatt_dialogues": n_gatt, "train_examples": len(examples),
            "best_reward_mean": sum(r["reward"] for r in best) / len(best),
            "sample_reward_mean": sum(r["mean_reward"] for r in best) / len(best),
            "loss_first": losses[0], "loss_last": sum(losses[-10:]) / len(losses[-10:]),
            "eval": _scalar_eval(ev), "parent_eval": _scalar_eval(parent_ev), "seconds": time.perf_counter() - t0}
    _save_policy(policy, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), SAMPLES_FILE: align_data.samples_to_jsonl(best),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)})
    return meta | {"examples_shown": ev["examples"]}


@small_model_threads
def run_ppo(parent_dir, tokenizer_path, hrm_dir, srm_dir, out_dir, align, log=print) -> dict:
    """RLHF V5: PPO on top of V4 against the two RMs, KL-penalized to V4."""
    from llama_model.checkpoint import load_meta
    t0 = time.perf_counter()
    tok, seed, g, policy, args, hrm, srm, tasks = _policy_setup(
        "rlhf-v5", parent_dir, tokenizer_path, hrm_dir, srm_dir, BUNDLED["ppo_prompts"], "ppo-prompts")
    pargs = ppo.ppo_args(align)
    history = ppo.train_ppo(policy, tok, tasks, hrm, srm, pargs, generator=g, seed=seed, log=log,
                            progress=progress_for(log, "rlhf_v5 PPO", "iterations"))
    eval_tasks = align_data.eval_tasks()
    ev = evaluate(policy, tok, eval_tasks, hrm, srm)
    parent_ev = evaluate(load_meta(parent_dir)[0], tok, eval_tasks, hrm, srm)
    meta = {"version": "v5", "method": "PPO", "parent": str(parent_dir), **_rm_lineage(hrm_dir, srm_dir),
            "ppo": {k: getattr(pargs, k) for k in ("lr", "batch", "minibatch", "clip", "beta", "iterations")},
            "kl_last": history[-1]["kl"], "reward_first": history[0]["reward"], "reward_last": history[-1]["reward"],
            "eval": _scalar_eval(ev), "parent_eval": _scalar_eval(parent_ev), "seconds": time.perf_counter() - t0}
    _save_policy(policy, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), "ppo_history.json": json.dumps(history, indent=2),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)})
    return meta | {"history": history, "examples_shown": ev["examples"]}


# ------------------------------------------------------------------------------------------ checks
def check_rm_accuracy(rm_dir) -> dict:
    """Held-out accuracy above chance, and the 'significantly better' bucket the most accurate (Table 8)."""
    from llama_model.reward import rm_info
    acc = rm_info(rm_dir).get("accuracy", {})
    overall = acc.get("all", float("nan"))
    buckets = {k: v for k, v in acc.items() if k != "all" and v == v}   # v == v drops NaN buckets
    top = buckets.get("3", float("nan"))
    highest = all(top >= v for v in buckets.values()) if buckets else False
    return {"passed": bool(overall > 0.5 and highest), "accuracy": overall, "significantly_better": top,
            "significantly_better_highest": highest}


def check_safety_not_worse(version_dir, sft_dir) -> dict:
    """Safety violations on the held-out unsafe prompts: this version <= the SFT model."""
    v, s = read_meta(version_dir).get("eval", {}), read_meta(sft_dir).get("eval", {})
    if "safety_violations" not in v or "safety_violations" not in s:
        return {"passed": False, "reason": "missing evaluation in alignment.json"}
    return {"passed": v["safety_violations"] <= s["safety_violations"], "violations": v["safety_violations"],
            "sft_violations": s["safety_violations"], "unsafe_prompts": v.get("unsafe_prompts", 0)}


# ------------------------------------------------------------------------------------------ report
VERSIONS = ["sft_model", "rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v4", "rlhf_v5"]


@small_model_threads
def report(data_dir) -> tuple[list[dict], dict]:
    """Evaluate every materialized version with the current RMs on the held-out tasks: one row each."""
    from llama_model.checkpoint import load_meta
    from llama_model.reward import load_rm, rm_info
    data_dir = Path(data_dir)
    tok = _load_tok(data_dir / "tokenizer" / "tokenizer.model")
    hrm, srm = load_rm(data_dir / "helpfulness_rm"), load_rm(data_dir / "safety_rm")
    tasks = align_data.eval_tasks()
    rows = []
    for name in VERSIONS:
        if not (data_dir / name / "params.json").exists():
            continue
        ev = evaluate(load_meta(data_dir / name)[0], tok, tasks, hrm, srm)
        rows.append({"version": name, **_scalar_eval(ev)})
    return rows, {"helpfulness_rm": rm_info(data_dir / "helpfulness_rm"), "safety_rm": rm_info(data_dir / "safety_rm")}


def format_report(rows: list[dict], rms: dict) -> str:
    lines = ["| version | success rate | mean RM reward | safety violations | GAtt follow rate (later turns) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['version']} | {r['success_rate']:.3f} | {r['mean_reward']:+.3f} | "
                     f"{r['safety_violations']}/{r['unsafe_prompts']} | {r['gatt_follow_rate']:.3f} |")
    lines += ["", "| RM | " + " | ".join(align_data.RATING_NAMES[k] for k in (3, 2, 1, 0)) + " | all |",
              "|---|---|---|---|---|---|"]
    for name, info in rms.items():
        acc = info.get("accuracy", {})
        lines.append(f"| {name} | " + " | ".join(f"{acc.get(str(k), float('nan')):.3f}" for k in (3, 2, 1, 0, "all")) + " |")
    return "\n".join(lines)


def run_chain(data_dir, weeks=("2026-11-01", "2026-11-08", "2026-11-15"), align=None, log=print) -> None:
    """The whole chain without Dagster, into data_dir (which must hold tokenizer/ and base_model/)."""
    from llama_model.configs import get_profile
    d = Path(data_dir)
    align = align or get_profile().align
    tok = d / "tokenizer" / "tokenizer.model"
    run_sft(d / "base_model", tok, d / "sft_model", align, log=log)
    for w in weeks:
        write_preferences(w, d / "preference_data" / w, d / "sft_model", tok)
    for kind in ("helpfulness", "safety"):
        run_reward_model(kind, d / "sft_model", tok, d / "preference_data", d / f"{kind}_rm", align, log=log)
    parent, earlier = d / "sft_model", []
    for v in (1, 2, 3, 4):
        run_rejection(v, parent, earlier, tok, d / "helpfulness_rm", d / "safety_rm", d / f"rlhf_v{v}", align, log=log)
        earlier.append(d / f"rlhf_v{v}")
        parent = d / f"rlhf_v{v}"
    run_ppo(parent, tok, d / "helpfulness_rm", d / "safety_rm", d / "rlhf_v5", align, log=log)


if __name__ == "__main__":
    # python -m llama_model.rlhf.stages [run] DATA_DIR   (run: the whole chain first; then the table)
    import sys
    argv = sys.argv[1:]
    if argv and argv[0] == "run":
        argv = argv[1:]
        run_chain(argv[0] if argv else "data")
    rows, rms = report(argv[0] if argv else "data")
    print(format_report(rows, rms))
