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
import functools
import json
import os
import time
from pathlib import Path

import torch

from common.io import atomic_path, write_text
from common.progress import progress_for
from llama_model import align_data
from llama_model.rlhf import ppo, rejection
from llama_model.rlhf.policy import evaluate, profile_align
from llama_model.rlhf.preferences import PREFERENCES_FILE, model_preference_pairs, read_weeks, rm_mix, week_seed
from llama_model.sft import pack_examples, sft_examples, train_sft
from llama_model.train_log import STAGE_EVENTS, stage_events

# Sizes of the bundled (generated) data; user data replaces them. Chosen so the tiny chain runs in minutes.
# 8000 SFT dialogues rather than 4000: with 4000 the tiny SFT model gets half its French arithmetic wrong,
# and Ghost Attention then turns right-number-wrong-language answers into French wrong numbers (RLHF v5 vs
# SFT program-judged win rate 0.498; with 8000: 0.548; the variants tried are in docs/alignment.md).
BUNDLED = {"sft": 8000, "pairs_per_week": 800, "model_pair_prompts": 400, "rm_test_pairs": 600, "rs_prompts": 800, "gatt_dialogues": 160,
           "ppo_prompts": 600}
SAMPLES_FILE = "best_samples.jsonl"       # each RLHF version's best-of-K records (the pool of later ones)
META_FILE = "alignment.json"
BATCH_FILE = "batch.json"                 # a week's lineage: which model its comparisons were sampled from


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


def stage_device(model=None) -> torch.device:
    """Where the stage computes: the model's device, else $LLAMA_STAGE_DEVICE (set by the torchrun job,
    llama_model/rlhf/job.py), else the CPU."""
    if model is not None:
        return next(model.parameters()).device
    return torch.device(os.environ.get("LLAMA_STAGE_DEVICE") or "cpu")


def _shard():
    """What load_meta applies to a stage's models: FSDP2 (llama_model.parallel.shard_stage_model) when the
    ranks shard ($LLAMA_STAGE_PARALLEL; the default on GPU) or tensor parallelism + FSDP2 on a 2-D mesh (the
    job's --tp / AlignArgs.tp > 1), else nothing (a full copy per rank)."""
    from llama_model.parallel import shard_stage_model, stage_mode
    device = stage_device()
    return (lambda m: shard_stage_model(m, device)) if stage_mode(device) in ("fsdp", "2d") else None


def shard_like_stage(model):
    """A model built here (not loaded) sharded the way load_policy shards (or left as it is)."""
    shard = _shard()
    return shard(model) if shard is not None else model


def load_policy(directory):
    """(model, args) of a Meta-layout checkpoint on the stage's device, sharded when the ranks shard."""
    from llama_model.checkpoint import load_meta
    return load_meta(directory, device=stage_device(), shard=_shard())


def trainable(model, align):
    """The model with the profile's activation checkpointing for the stage's gradient steps (generation
    and scoring run without grad and are not affected)."""
    from llama_model.model import enable_activation_checkpointing
    return enable_activation_checkpointing(model, align.activation_checkpointing) if align.activation_checkpointing \
        else model


def load_reward_model(directory):
    from llama_model.reward import load_rm
    return load_rm(directory, device=stage_device(), shard=_shard())


def _load_tok(tokenizer_path):
    from llama_model.tokenizer import Tokenizer
    return Tokenizer(str(tokenizer_path))


def _seed(tag: str) -> int:
    return sum(ord(c) * 31 ** i for i, c in enumerate(tag)) % (2 ** 31)


# Shapes of the prompts the policy is sampled on (rejection sampling, PPO, the model's own comparisons).
# Borderline and open requests among them (5% each): RLHF should answer the benign requests SFT refuses.
PROMPT_SHAPES = {"single": 0.5, "system": 0.25, "multi": 0.15, "borderline": 0.05, "open": 0.05}


def _policy_setup(tag: str, parent_dir, tokenizer_path, hrm_dir, srm_dir, n_prompts: int, prompts_tag: str,
                  prompts_path: str | None = None):
    """What every RLHF stage starts from: tokenizer, a seeded RNG, the parent policy, both RMs, its prompts
    (yours from prompts_path, else n_prompts bundled tasks)."""
    tok = _load_tok(tokenizer_path)
    seed = _seed(tag)
    torch.manual_seed(seed)
    g = torch.Generator(device=stage_device()).manual_seed(seed)
    policy, args = load_policy(parent_dir)
    hrm, srm = load_reward_model(hrm_dir), load_reward_model(srm_dir)
    if prompts_path:
        from llama_model.rlhf.prompts import load_prompts_jsonl
        tasks = load_prompts_jsonl(prompts_path)
    else:
        tasks = align_data.sample_tasks(n_prompts, _seed(prompts_tag), PROMPT_SHAPES)
    return tok, seed, g, policy, args, hrm, srm, tasks


def _is_writer() -> bool:
    """Global rank 0 writes the artifacts (rank_world() counts data ranks: every tensor-parallel rank of the
    first group is data rank 0)."""
    from llama_model.parallel import global_rank
    return global_rank() == 0


def _save_policy(model, args, out_dir, files: dict[str, str], curves: dict[str, list[float]] | None = None) -> None:
    """Every rank calls this: saving an FSDP2 model is collective (checkpoint.gather_for_save). `curves`:
    the stage's per-step numbers, also as a TensorBoard event file (`tensorboard --logdir <out_dir>`)."""
    from llama_model.checkpoint import gather_for_save, save_meta
    gathered = gather_for_save(model, out_dir)
    if not _is_writer():
        return
    with atomic_path(out_dir) as tmp:
        save_meta(model, args, tmp, gathered=gathered)
        for name, text in files.items():
            (tmp / name).write_text(text)
        _write_events(tmp, curves)


def _write_events(folder: Path, curves: dict[str, list[float]] | None) -> None:
    events = stage_events(curves) if curves else None
    if events is not None:
        (folder / STAGE_EVENTS).parent.mkdir(parents=True, exist_ok=True)
        (folder / STAGE_EVENTS).write_bytes(events)


def _sft_rows(tok, dialogues: list[dict], align, args) -> list:
    """Encoded dialogues, cut to the SFT sequence length, packed into full rows when the profile packs."""
    seq_len = min(align.sft_seq_len, args.max_seq_len)
    examples = sft_examples(tok, dialogues, seq_len)
    return pack_examples(examples, seq_len) if align.sft_packing else examples


def read_meta(directory) -> dict:
    p = Path(directory) / META_FILE
    return json.loads(p.read_text()) if p.exists() else {}


def _scalar_eval(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if k != "examples"}


# ------------------------------------------------------------------------------------------ SFT
@small_model_threads
def run_sft(base_dir, tokenizer_path, out_dir, align, dialogues_path: str | None = None, log=print) -> dict:
    """Chat-format SFT of the base model (loss on answers only); evaluates on the held-out tasks."""
    t0 = time.perf_counter()
    tok = _load_tok(tokenizer_path)
    torch.manual_seed(_seed("sft"))
    model, args = load_policy(base_dir)
    trainable(model, align)
    if dialogues_path:
        dialogues, source = align_data.load_sft(dialogues_path, align_data.Caps.of(align)), str(dialogues_path)
    else:
        dialogues, source = align_data.sft_dialogues(BUNDLED["sft"], seed=_seed("sft")), "bundled"
    examples = _sft_rows(tok, dialogues, align, args)
    losses = train_sft(model, examples, lr=align.sft_lr, batch=align.sft_batch, epochs=align.sft_epochs,
                       weight_decay=align.sft_weight_decay, seed=_seed("sft"), warmup=align.sft_warmup_steps, log=log,
                       progress=progress_for(log, "sft_model training"), micro=align.micro_batch)
    ev = evaluate(model, tok, align_data.eval_tasks(), max_new_tokens=align.max_new_tokens)
    meta = {"version": "sft", "data": source, "dialogues": len(dialogues), "examples": len(examples),
            "steps": len(losses), "loss_first": losses[0], "loss_last": sum(losses[-10:]) / len(losses[-10:]),
            "eval": _scalar_eval(ev), "seconds": time.perf_counter() - t0}
    _save_policy(model, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), "losses.json": json.dumps(losses),
        "eval_tasks.jsonl": align_data.tasks_to_jsonl(align_data.eval_tasks()),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)}, curves={"sft/loss": losses})
    return meta | {"losses": losses, "examples_shown": ev["examples"]}


# ------------------------------------------------------------------------------------------ preferences
def newest_policy(candidates) -> Path | None:
    """The first of `candidates` (newest version first, the SFT model last) that holds a checkpoint written
    after the SFT model's: the weekly loop samples new comparisons from the latest model (Llama 2 §3.2.1),
    which is SFT only in the first week. A version older than the SFT checkpoint came from an earlier SFT
    model (a re-run of the chain) and is not a model of this chain: without that rule a re-run's
    comparisons would come from the previous run's V5 and its figures would depend on what the data
    folder held before."""
    found = [Path(c) for c in candidates or [] if (Path(c) / "params.json").is_file()]
    if not found:
        return None
    floor = (Path(candidates[-1]) / "params.json").stat().st_mtime_ns if found[-1] == Path(candidates[-1]) else 0
    return next((c for c in found if (c / "params.json").stat().st_mtime_ns >= floor), None)


@small_model_threads
def write_preferences(week: str, out_dir, policy_dir=None, tokenizer_path=None, source_path: str | None = None,
                      align=None, log=None) -> dict:
    """One week's batch of rated comparisons as JSONL: validated user data, or the bundled batch (generated
    pairs + pairs of a chat model's own samples). policy_dir: a folder, or a list of version folders newest
    first, of which the newest materialized one is sampled; batch.json records which."""
    n_model = 0
    candidates = [policy_dir] if isinstance(policy_dir, (str, os.PathLike)) else policy_dir
    policy_dir = newest_policy(candidates) if not source_path else None
    if source_path:
        pairs = align_data.load_preferences(source_path, align_data.Caps.of(align))
    else:
        pairs = align_data.preference_pairs(BUNDLED["pairs_per_week"], seed=week_seed(week))
        if policy_dir is not None:
            torch.manual_seed(week_seed(week))
            align = align or profile_align()
            policy, _ = load_policy(policy_dir)
            extra = model_preference_pairs(policy, _load_tok(tokenizer_path), BUNDLED["model_pair_prompts"],
                                           seed=week_seed(week) + 1, samples=align.pref_samples,
                                           temperature=align.pref_temperature, max_new_tokens=align.max_new_tokens,
                                           shapes=PROMPT_SHAPES,
                                           progress=progress_for(log, f"preference_data[{week}] sampling", "answers"))
            pairs += extra
            n_model = len(extra)
    sampled_from = policy_dir.name if policy_dir is not None else None
    if _is_writer():
        write_text(Path(out_dir) / PREFERENCES_FILE, align_data.preferences_to_jsonl(pairs))
        write_text(Path(out_dir) / BATCH_FILE, json.dumps({"week": week, "sampled_from": sampled_from}) + "\n")
    ratings = {r: sum(p["rating"] == r for p in pairs) for r in (3, 2, 1, 0)}
    return {"week": week, "pairs": len(pairs), "model_sample_pairs": n_model, "source": source_path or "bundled",
            "sampled_from": sampled_from or "", "unsafe_prompts": sum(p["safety"]["unsafe_prompt"] for p in pairs),
            **{f"rating_{r}": n for r, n in ratings.items()}}


def week_sources(pref_root, weeks: list[str]) -> dict[str, str | None]:
    """Which model each week's comparisons were sampled from (batch.json; None for user data / old batches)."""
    out = {}
    for w in weeks:
        p = Path(pref_root) / w / BATCH_FILE
        out[w] = json.loads(p.read_text()).get("sampled_from") if p.is_file() else None
    return out


# ------------------------------------------------------------------------------------------ reward models
@small_model_threads
def run_reward_model(kind: str, sft_dir, tokenizer_path, pref_root, out_dir, align, log=print) -> dict:
    """Train a reward model from the SFT checkpoint on every materialized week; accuracy per rating on
    comparisons from the held-out split."""
    from llama_model.checkpoint import gather_for_save
    from llama_model.reward import RewardModel, accuracy_by_rating, calibrate_switch, save_rm, train_rm
    t0 = time.perf_counter()
    tok = _load_tok(tokenizer_path)
    torch.manual_seed(_seed(kind))
    weeks, pairs = read_weeks(pref_root)
    train = rm_mix(kind, pairs, seed=_seed(kind), safety_mix=align.safety_mix)
    trunk, args = load_policy(sft_dir)          # the SFT model becomes the trunk (its LM head unused)
    trainable(trunk, align)
    rm = RewardModel(trunk, args.dim)
    losses = train_rm(rm, tok, train, lr=align.rm_lr, batch=align.rm_batch, epochs=align.rm_epochs,
                      margin=align.rm_margin, warmup_frac=align.rm_warmup_frac, min_warmup=align.rm_min_warmup,
                      seed=_seed(kind), max_len=align.rm_seq_len, log=log,
                      progress=progress_for(log, f"{kind}_rm training"), micro=align.micro_batch)
    test = align_data.preference_pairs(BUNDLED["rm_test_pairs"], seed=_seed("rm-test"), split="eval")
    test = [p for p in test if p["safety"]["unsafe_prompt"] == (kind == "safety")] if kind == "safety" else test
    acc = accuracy_by_rating(rm, tok, test, max_len=align.rm_seq_len)
    # The safety RM's level, so that its switch (σ(r_s) < 0.15) fires on the answers its labels call unsafe.
    calibration = calibrate_switch(rm, tok, pairs, max_len=align.rm_seq_len) \
        if kind == "safety" else {}
    # The RM version is named by the newest week it saw: retrained each week on all weeks so far.
    meta = {"kind": kind, "version": f"{kind}_rm@{weeks[-1]}", "weeks": weeks,
            "weeks_sampled_from": week_sources(pref_root, weeks), "train_pairs": len(train), "test_pairs": len(test),
            "margin": align.rm_margin, "steps": len(losses), "loss_first": losses[0],
            "loss_last": sum(losses[-5:]) / len(losses[-5:]),
            "accuracy": {str(k): v for k, v in acc.items()}, "sft_dir": str(sft_dir),
            **({"calibration": calibration} if calibration else {})}
    gathered = gather_for_save(rm.trunk, out_dir)       # collective under FSDP2
    if _is_writer():
        with atomic_path(out_dir) as tmp:
            save_rm(rm, args, tmp, extra=meta, gathered=gathered)
            _write_events(tmp, {f"{kind}_rm/loss": losses})
    return meta | {"seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------------------------------ RLHF
def _rm_lineage(hrm_dir, srm_dir) -> dict:
    from llama_model.reward import rm_info
    h, s = rm_info(hrm_dir), rm_info(srm_dir)
    return {"helpfulness_rm": str(hrm_dir), "safety_rm": str(srm_dir), "data_weeks": h.get("weeks", []),
            "rm_versions": [h.get("version"), s.get("version")],
            "helpfulness_rm_accuracy": h.get("accuracy"), "safety_rm_accuracy": s.get("accuracy")}


def _read_samples(directory) -> list[dict]:
    p = Path(directory) / SAMPLES_FILE
    return align_data.read_samples(p) if p.exists() else []


@small_model_threads
def run_rejection(version: int, parent_dir, earlier_dirs: list, tokenizer_path, hrm_dir, srm_dir, out_dir,
                  align, prompts_path: str | None = None, log=print) -> dict:
    """RLHF V1-V4: best of K samples by the RM, fine-tune the parent on them; from V3 the pool of all
    iterations' best samples, plus Ghost Attention dialogues."""
    t0 = time.perf_counter()
    tok, seed, g, policy, args, hrm, srm, tasks = _policy_setup(
        f"rlhf-v{version}", parent_dir, tokenizer_path, hrm_dir, srm_dir, BUNDLED["rs_prompts"], "rs-prompts",
        prompts_path)
    trainable(policy, align)
    best = rejection.best_of_k(policy, tok, tasks, hrm, srm, k=align.rs_samples, temperature=align.rs_temperature,
                               generator=g, max_new_tokens=align.max_new_tokens, tau=align.safety_threshold,
                               progress=progress_for(log, f"rlhf_v{version} sampling", "answers"))
    iterations = [_read_samples(d) for d in earlier_dirs] + [best]
    pool = rejection.build_pool(iterations, version)
    dialogues = rejection.to_dialogues(pool)
    n_gatt = 0
    if version >= 3:
        gtasks = align_data.sample_tasks(BUNDLED["gatt_dialogues"], _seed(f"gatt-v{version}"), {"gatt": 1.0})
        gdata = rejection.build_gatt_data(policy, tok, gtasks, hrm, srm, samples=align.rs_samples,
                                          temperature=align.rs_temperature, generator=g,
                                          max_new_tokens=align.max_new_tokens, tau=align.safety_threshold)
        dialogues += gdata
        n_gatt = len(gdata)
    examples = _sft_rows(tok, dialogues, align, args)
    losses = train_sft(policy, examples, lr=align.rs_lr, batch=align.sft_batch, epochs=align.sft_epochs,
                       weight_decay=align.sft_weight_decay, seed=seed, warmup=align.sft_warmup_steps, log=log,
                       progress=progress_for(log, f"rlhf_v{version} fine-tuning"), micro=align.micro_batch)
    eval_tasks = align_data.eval_tasks()
    ev = evaluate(policy, tok, eval_tasks, hrm, srm, align.max_new_tokens, align.safety_threshold)
    parent_ev = evaluate(load_policy(parent_dir)[0], tok, eval_tasks, hrm, srm, align.max_new_tokens,
                         align.safety_threshold)
    meta = {"version": f"v{version}", "method": "rejection sampling" + (" + GAtt" if version >= 3 else ""),
            "parent": str(parent_dir), "pooled_from": [str(d) for d in earlier_dirs] if version >= 3 else [],
            **_rm_lineage(hrm_dir, srm_dir), "k": align.rs_samples, "temperature": align.rs_temperature,
            "prompts": len(tasks), "prompts_source": prompts_path or "bundled", "pool": len(pool),
            "gatt_dialogues": n_gatt, "train_examples": len(examples),
            "best_reward_mean": sum(r["reward"] for r in best) / len(best),
            "sample_reward_mean": sum(r["mean_reward"] for r in best) / len(best),
            "loss_first": losses[0], "loss_last": sum(losses[-10:]) / len(losses[-10:]),
            "eval": _scalar_eval(ev), "parent_eval": _scalar_eval(parent_ev), "seconds": time.perf_counter() - t0}
    _save_policy(policy, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), SAMPLES_FILE: align_data.samples_to_jsonl(best),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)}, curves={f"rlhf_v{version}/loss": losses})
    return meta | {"examples_shown": ev["examples"]}


@small_model_threads
def run_ppo(parent_dir, tokenizer_path, hrm_dir, srm_dir, out_dir, align, prompts_path: str | None = None,
            log=print) -> dict:
    """RLHF V5: PPO on top of V4 against the two RMs, KL-penalized to V4."""
    t0 = time.perf_counter()
    tok, seed, g, policy, args, hrm, srm, tasks = _policy_setup(
        "rlhf-v5", parent_dir, tokenizer_path, hrm_dir, srm_dir, BUNDLED["ppo_prompts"], "ppo-prompts", prompts_path)
    trainable(policy, align)
    pargs = ppo.ppo_args(align)
    reference = load_policy(parent_dir)[0]     # frozen V4: the KL anchor, and the parent in the evaluation
    history = ppo.train_ppo(policy, tok, tasks, hrm, srm, pargs, generator=g, seed=seed, log=log,
                            progress=progress_for(log, "rlhf_v5 PPO", "iterations"), ref=reference)
    eval_tasks = align_data.eval_tasks()
    ev = evaluate(policy, tok, eval_tasks, hrm, srm, align.max_new_tokens, align.safety_threshold)
    parent_ev = evaluate(reference, tok, eval_tasks, hrm, srm, align.max_new_tokens, align.safety_threshold)
    meta = {"version": "v5", "method": "PPO", "parent": str(parent_dir), **_rm_lineage(hrm_dir, srm_dir),
            "prompts": len(tasks), "prompts_source": prompts_path or "bundled",
            "ppo": {k: getattr(pargs, k) for k in ("lr", "batch", "minibatch", "clip", "beta", "iterations")},
            "kl_last": history[-1]["kl"], "reward_first": history[0]["reward"], "reward_last": history[-1]["reward"],
            "eval": _scalar_eval(ev), "parent_eval": _scalar_eval(parent_ev), "seconds": time.perf_counter() - t0}
    _save_policy(policy, args, out_dir, {
        META_FILE: json.dumps(meta, indent=2), "ppo_history.json": json.dumps(history, indent=2),
        "eval_examples.json": json.dumps(ev["examples"], indent=2)},
        curves={f"ppo/{k}": [h[k] for h in history] for k in history[0] if isinstance(history[0][k], (int, float))})
    return meta | {"history": history, "examples_shown": ev["examples"]}
