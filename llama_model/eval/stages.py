"""The three evaluation assets as stage functions: folders in, one report folder out, a JSON-able dict back.

    run_base_eval(base_dir, tokenizer_path, shards_dir, report_dir, seq_len=2048, profile_name="llama-7b")
    run_reward_model_eval(hrm_dir, srm_dir, tokenizer_path, report_dir, test_pairs=600, seed=2023)
    run_chat_eval({"sft_model": dir, "rlhf_v1": dir, ...}, tokenizer_path, hrm_dir, srm_dir, report_dir)

No Dagster here: assets/evaluate.py calls them in its own process (TrainingLauncher.stages == "local") or
through llama_model/rlhf/job.py as a torchrun job (stages == "launcher"), and turns the returned dict into
metadata. The reports themselves are written by suite.py.

Under a process group every rank runs the same function, with the models loaded as the alignment stages
load theirs (rlhf/stages.py load_policy, load_reward_model: FSDP2-sharded on GPU). The work is split over
the ranks: base_eval's validation batches (perplexity.py), reward_model_eval's RM scores
(RewardModel.score) and chat_eval's answers and scores (policy.sample_answers). lm-evaluation-harness (its
own HF model load, on the CPU) and the report writing happen on rank 0 only; the other ranks wait for it
(`on_rank0`) and return only what they computed. Rank 0's dict is the one the asset gets.
"""
from __future__ import annotations

import datetime
import os
import tempfile
import time
from pathlib import Path

from common.progress import Progress
from llama_model.parallel import rank_world

# How long the other ranks wait for rank 0's lm-eval run. The default group's timeout (NCCL: 10 minutes)
# is shorter than lm-eval on a 70B export, so they wait on a CPU (gloo) group of their own.
RANK0_WAIT = datetime.timedelta(hours=24)


def on_rank0(fn, *args, **kwargs):
    """fn(*args, **kwargs) on rank 0, None on the other ranks, which wait until rank 0 is done."""
    rank, world = rank_world()
    if world == 1:
        return fn(*args, **kwargs)
    import torch.distributed as dist

    group = dist.new_group(backend="gloo", timeout=RANK0_WAIT)
    try:
        return fn(*args, **kwargs) if rank == 0 else None
    finally:
        dist.barrier(group=group)
        dist.destroy_process_group(group)


def full_copy(model, args):
    """The model itself when it is not sharded; else its full weights gathered into a CPU Transformer on
    rank 0 (None on the other ranks). Collective under FSDP2."""
    from llama_model.checkpoint import _build, full_state_dict
    from llama_model.parallel import is_sharded, reshard
    if not is_sharded(model):
        return model
    reshard(model)                     # gather from the shards (parallel.reshard)
    state = full_state_dict(model)
    return _build(args, state, "cpu").eval() if rank_world()[0] == 0 else None


def _report_fields(report) -> dict:
    """What every eval asset shows of its report: the page, the markdown (tables + plots)."""
    return {"report": str(report.html), "markdown": report.markdown}


# ------------------------------------------------------------------------------------------ base model

def default_tasks_dir(tasks_dir: str | os.PathLike | None = None) -> str:
    """The benchmark folder: the one given, else $LLAMA_EVAL_TASKS_DIR, else the bundled mini tasks."""
    from llama_model.eval.multiple_choice import bundled_tasks_dir
    return str(tasks_dir or os.environ.get("LLAMA_EVAL_TASKS_DIR") or bundled_tasks_dir())


def run_base_eval(base_dir, tokenizer_path, shards_dir, report_dir, seq_len: int, tasks_dir: str = "",
                  max_batches: int = 64, lm_eval: bool = True, lm_eval_limit: int = 200, profile_name: str = "",
                  log=print) -> dict:
    """Validation perplexity per source and zero-shot benchmarks of base_model vs the same model untrained.

    Returns {"report", "markdown", "seconds", "models", "ppl_all": {model: ppl}, "acc_norm": {task: base
    model's acc_norm}, "scorer", "lm_eval_results" (path or None), "rows" (perplexity per source)}; on ranks
    other than 0 only {"models", "ppl_all", "seconds"}."""
    from llama_model.data import TokenLoader
    from llama_model.eval.perplexity import perplexity_per_source
    from llama_model.eval.suite import INIT, small_model_threads, untrained_like
    from llama_model.rlhf.stages import load_policy, shard_like_stage, stage_device

    t0 = time.perf_counter()
    device = stage_device()
    base, args = load_policy(base_dir)
    models = {INIT: shard_like_stage(untrained_like(args)).to(device), "base_model": base.eval()}
    loader = TokenLoader(shards_dir, "val", seq_len=seq_len, batch_size=8)
    sources = loader.val_sources()
    with small_model_threads(base), Progress("base_model_eval perplexity", len(models), "passes", log=log) as bar:
        ppl = {}
        for name, m in models.items():
            ppl[name] = perplexity_per_source(m, {s: loader.val_windows(s) for s in sources}, max_batches)
            bar.update()
    # Rank 0 scores the benchmarks and exports for lm-eval on full CPU copies (gathering FSDP2 shards is
    # collective, so every rank takes part in it here, before rank 0 goes on alone).
    models = {name: full_copy(m, args) for name, m in models.items()}
    out = on_rank0(_base_report, models, args, ppl, loader, sources, tokenizer_path, default_tasks_dir(tasks_dir),
                   report_dir, max_batches, lm_eval, lm_eval_limit, profile_name, log)
    return (out or {}) | {"models": list(models), "ppl_all": {m: ppl[m]["all"]["ppl"] for m in models},
                          "seconds": time.perf_counter() - t0}


def _base_report(models, args, ppl, loader, sources, tokenizer_path, tasks_dir, report_dir, max_batches, lm_eval,
                 lm_eval_limit, profile_name, log) -> dict:
    """Rank 0's part of base_eval: the benchmarks (lm-eval on the HF exports, or our scorer) and the report."""
    from llama_model.eval.multiple_choice import read_tasks_dir
    from llama_model.eval.suite import base_eval, small_model_threads
    from llama_model.tokenizer import Tokenizer

    tasks = read_tasks_dir(tasks_dir)
    log(f"benchmarks from {tasks_dir}: " + ", ".join(f"{k} ({len(v)})" for k, v in tasks.items()))
    with small_model_threads(models["base_model"]), tempfile.TemporaryDirectory(prefix="base_model_eval-") as work:
        harness, bar = None, None
        if lm_eval:   # lm-eval reads the HF export of both models, offline
            from llama_model.eval.harness import run_harness
            from llama_model.hf import export_model
            log(f"lm-eval on the Hugging Face exports of {', '.join(models)}")
            dirs = {n: export_model(m, args, Path(work) / f"hf{i}", tokenizer_path)
                    for i, (n, m) in enumerate(models.items())}
            harness = run_harness(dirs, tasks_dir, Path(work) / "lm_eval", limit=lm_eval_limit)
        else:         # our scorer, one pass per model and task
            bar = Progress("base_model_eval benchmarks", unit="passes", log=log)
        report = base_eval(models, loader.val_windows, sources, Tokenizer(tokenizer_path), tasks, report_dir,
                           max_batches=max_batches, max_len=args.max_seq_len, harness=harness, profile=profile_name,
                           progress=bar, ppl=ppl)
        if bar is not None:
            bar.close()
    s = report.summary
    rows = [{"source": src} | {f"ppl {m}": s["perplexity"][m][src]["ppl"] for m in s["models"]}
            for src in s["perplexity"][s["models"][0]]]
    return _report_fields(report) | {
        "acc_norm": {t: r["acc_norm"] for t, r in s["tasks"]["base_model"].items()}, "scorer": s["scorer"],
        "lm_eval_results": str(report.directory / "lm_eval_results.json") if harness is not None else None,
        "rows": rows}


# ------------------------------------------------------------------------------------------ reward models

def run_reward_model_eval(hrm_dir, srm_dir, tokenizer_path, report_dir, test_pairs: int, seed: int,
                          log=print) -> dict:
    """Accuracy per preference-rating bucket of both RMs on held-out comparisons (Llama 2 Table 8), scored
    on rank 0. Returns {"report", "markdown", "seconds", "overall": [{"rm", "test_set", "acc"}], "rows"}."""
    from llama_model import align_data
    from llama_model.eval.suite import score_pairs, small_model_threads
    from llama_model.rlhf.stages import load_reward_model
    from llama_model.tokenizer import Tokenizer

    t0 = time.perf_counter()
    rms = {"helpfulness RM": load_reward_model(hrm_dir), "safety RM": load_reward_model(srm_dir)}
    pairs = align_data.preference_pairs(test_pairs, seed=seed, split="eval")
    test_sets = {"helpfulness test": [p for p in pairs if not p["safety"]["unsafe_prompt"]],
                 "safety test": [p for p in pairs if p["safety"]["unsafe_prompt"]]}
    log("test pairs: " + ", ".join(f"{k} {len(v)}" for k, v in test_sets.items()))
    tok, scores = Tokenizer(tokenizer_path), {}
    with small_model_threads(rms["helpfulness RM"]), \
            Progress("reward_model_eval", len(rms) * len(test_sets), "RM x test set", log=log) as bar:
        for rm_name, rm in rms.items():        # every rank: RewardModel.score splits the batches over them
            for set_name, set_pairs in test_sets.items():
                scores[rm_name, set_name] = score_pairs(rm, tok, set_pairs)
                bar.update()
    out = on_rank0(_rm_report, list(rms), test_sets, scores, report_dir)
    return (out or {}) | {"seconds": time.perf_counter() - t0}


def _rm_report(rm_names, test_sets, scores, report_dir) -> dict:
    from llama_model.eval.suite import reward_model_eval

    report = reward_model_eval(dict.fromkeys(rm_names), None, test_sets, report_dir, scores=scores)
    acc = report.summary["accuracy"]
    overall = [{"rm": rm, "test_set": ts, "acc": acc[rm][ts]["overall"]["acc"]} for rm in acc for ts in acc[rm]]
    rows = [{"reward model": rm, "test set": ts} | {b: 100 * v["acc"] if v["acc"] is not None else None
                                                   for b, v in acc[rm][ts].items()}
            for rm in acc for ts in acc[rm]]
    return _report_fields(report) | {"overall": overall, "rows": rows}


# ------------------------------------------------------------------------------------------ chat versions

def run_chat_eval(version_dirs: dict, tokenizer_path, hrm_dir, srm_dir, report_dir, max_tasks: int = 0,
                  lm_eval: bool = True, lm_eval_limit: int = 200, tasks_dir: str = "", log=print) -> dict:
    """Win rates of each version (version_dirs: {name: checkpoint folder} in order, sft_model among them) vs
    sft_model and vs the previous one, safety violations, multi-turn adherence; lm-eval on the first and last version
    in the chat format. Returns {"report", "markdown", "seconds", "versions", "win_rates" (rows),
    "per_version" (rows)}; on ranks other than 0 only {"versions", "seconds"}."""
    from llama_model import align_data
    from llama_model.eval.suite import answer_and_judge, small_model_threads
    from llama_model.rlhf.stages import load_policy, load_reward_model
    from llama_model.tokenizer import Tokenizer

    t0 = time.perf_counter()
    tok = Tokenizer(tokenizer_path)
    hrm, srm = load_reward_model(hrm_dir), load_reward_model(srm_dir)
    versions = list(version_dirs)
    tasks = align_data.eval_tasks()
    if max_tasks and max_tasks < len(tasks):
        step = len(tasks) / max_tasks
        tasks = [tasks[int(i * step)] for i in range(max_tasks)]
    tasks += align_data.borderline_tasks() + align_data.open_tasks()   # false-refusal sets (kept apart)
    answers = {}
    with small_model_threads(hrm), Progress("chat_eval", len(versions), "versions", log=log) as bar:
        for v in versions:   # every rank: sample_answers may split the prompts over the ranks
            answers[v] = answer_and_judge(load_policy(version_dirs[v])[0], tok, tasks, hrm, srm)
            bar.update()
    with small_model_threads(hrm):
        out = on_rank0(_chat_report, answers, tasks, version_dirs, tokenizer_path, report_dir, lm_eval, lm_eval_limit,
                       default_tasks_dir(tasks_dir))
    return (out or {}) | {"versions": versions, "seconds": time.perf_counter() - t0}


def _chat_report(answers, tasks, version_dirs, tokenizer_path, report_dir, lm_eval, lm_eval_limit, tasks_dir) -> dict:
    from llama_model.checkpoint import load_meta
    from llama_model.eval.suite import chat_eval

    versions = list(answers)
    harness = None
    if lm_eval:   # the benchmarks through the chat template, first and newest version
        from llama_model.eval.harness import run_harness
        from llama_model.hf import export_model
        with tempfile.TemporaryDirectory(prefix="chat_eval-") as work:
            dirs = {v: export_model(*load_meta(version_dirs[v]), Path(work) / v, tokenizer_path)
                    for v in dict.fromkeys([versions[0], versions[-1]])}
            harness = run_harness(dirs, tasks_dir, Path(work) / "lm_eval", limit=lm_eval_limit, chat=True)
    report = chat_eval(answers, tasks, report_dir, harness=harness)
    s = report.summary
    return _report_fields(report) | {"win_rates": s["win_rates"], "per_version": s["per_version"]}
