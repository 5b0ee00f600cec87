"""Assets of the evaluate stage: base_model_eval, reward_model_eval, chat_eval.

Each writes an HTML report with its plots under $LLAMA_DATA_DIR/reports/<asset>/ and shows the tables and
plots in the UI. The logic is in llama_model/eval/ (suite.py); these are thin wrappers. The benchmarks of
base_model_eval and chat_eval run through lm-evaluation-harness on a Hugging Face export (harness.py,
docs/evaluation.md); lm_eval_results.json sits beside the report.

    dagster asset materialize -m assets.definitions --select base_model_eval
    dagster asset materialize -m assets.definitions --select base_model_eval \\
        --config-json '{"ops": {"base_model_eval": {"config": {"tasks_dir": "/data/benchmarks"}}}}'
"""

import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from assets import metadata as md
from common.progress import Progress
from resources import ArtifactStorage, ProfileResource

GROUP = "evaluate"
KINDS = {"pytorch", "html"}
VERSIONS = ["sft_model", "rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v4", "rlhf_v5"]
RM_TEST_PAIRS = 600        # held-out comparisons generated from the bundled tasks' evaluation split
RM_TEST_SEED = 2023


class BaseEvalConfig(dg.Config):
    tasks_dir: str = ""        # folder of benchmark JSONL files; default $LLAMA_EVAL_TASKS_DIR, else the bundled tasks
    max_batches: int = 64      # validation batches per source (bounds the time at any scale)
    lm_eval: bool = True       # benchmarks through lm-evaluation-harness on the HF export (False: our own scorer)
    lm_eval_limit: int = 200   # examples per task given to lm-eval (0: all); bounds the time on big task folders


class RewardEvalConfig(dg.Config):
    test_pairs: int = RM_TEST_PAIRS   # held-out comparisons to generate (split into helpfulness and safety sets)


class ChatEvalConfig(dg.Config):
    max_tasks: int = 0         # 0: every held-out task; else an evenly spaced subset of that many
    lm_eval: bool = True       # SFT and the newest version on the benchmarks via lm-eval, in the chat format
    lm_eval_limit: int = 200   # examples per task given to lm-eval (0: all)


def _need(path: Path, asset: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize {asset} first")
    return path


def _num(x, digits: int = 4) -> dg.MetadataValue:
    """A float rounded for the UI's metadata table (the exact values are in the report's summary.json)."""
    return dg.MetadataValue.float(round(x, digits) if x is not None else float("nan"))


def _meta(report, numbers: dict, rows: list[dict] | None = None) -> dict:
    """The report as a path and a file:// URL, its markdown (tables + plots), its main table as a
    TableMetadataValue with the standard row count and column schema, and the headline numbers."""
    table = {"table": md.table_value(rows), **md.table(rows)} if rows else {}
    return md.report(report.html) | {"summary": dg.MetadataValue.md(report.markdown)} | table | numbers


# Reports follow new checkpoints by themselves (declarative automation); chat_eval, which answers with
# every version, stays on the nightly schedule only.
FOLLOW_UPSTREAM = dg.AutomationCondition.eager()


@dg.asset(deps=["base_model", "token_shards", "tokenizer"], group_name=GROUP, kinds=KINDS, code_version="2",
          automation_condition=FOLLOW_UPSTREAM)
def base_model_eval(context: dg.AssetExecutionContext, config: BaseEvalConfig, storage: ArtifactStorage,
                    profile: ProfileResource) -> dg.MaterializeResult:
    """Validation perplexity per source and zero-shot benchmarks (lm-evaluation-harness on the HF export) of
    base_model vs the same model untrained, beside the paper's numbers for the profile."""
    from llama_model.checkpoint import load_meta
    from llama_model.data import TokenLoader
    from llama_model.eval.multiple_choice import bundled_tasks_dir, read_tasks_dir
    from llama_model.eval.suite import INIT, base_eval, small_model_threads, untrained_like
    from llama_model.tokenizer import Tokenizer

    p = profile.get()
    base, args = load_meta(_need(storage.path("base_model"), "base_model"))
    tok_path = _need(storage.path("tokenizer", "tokenizer.model"), "tokenizer")
    tok = Tokenizer(tok_path)
    loader = TokenLoader(_need(storage.path("token_shards"), "token_shards"), "val", seq_len=p.train.seq_len,
                         batch_size=8)
    tasks_dir = config.tasks_dir or os.environ.get("LLAMA_EVAL_TASKS_DIR") or str(bundled_tasks_dir())
    tasks = read_tasks_dir(tasks_dir)
    context.log.info(f"benchmarks from {tasks_dir}: " + ", ".join(f"{k} ({len(v)})" for k, v in tasks.items()))
    models = {INIT: untrained_like(args), "base_model": base.eval()}
    with small_model_threads(base), tempfile.TemporaryDirectory(prefix="base_model_eval-") as work, \
            Progress("base_model_eval", unit="passes", log=context.log.info) as bar:
        harness = None
        if config.lm_eval:   # lm-eval reads the HF export of both models, offline
            from llama_model.eval.harness import run_harness
            from llama_model.hf import export_model
            dirs = {n: export_model(m, args, Path(work) / f"hf{i}", tok_path) for i, (n, m) in enumerate(models.items())}
            harness = run_harness(dirs, tasks_dir, Path(work) / "lm_eval", limit=config.lm_eval_limit)
        report = base_eval(models, loader.val_windows, loader.val_sources(), tok, tasks,
                           storage.path("reports", "base_model_eval"), max_batches=config.max_batches,
                           max_len=args.max_seq_len, harness=harness, profile=p.name, progress=bar)
    s = report.summary
    numbers = {f"ppl {m} all": _num(s["perplexity"][m]["all"]["ppl"]) for m in s["models"]}
    numbers |= {f"acc_norm {t}": _num(r["acc_norm"]) for t, r in s["tasks"]["base_model"].items()}
    numbers["benchmarks scored by"] = dg.MetadataValue.text(s["scorer"])
    if harness is not None:
        numbers["lm_eval results"] = dg.MetadataValue.path(str(report.directory / "lm_eval_results.json"))
    rows = [{"source": src} | {f"ppl {m}": s["perplexity"][m][src]["ppl"] for m in s["models"]}
            for src in s["perplexity"][s["models"][0]]]
    return dg.MaterializeResult(metadata=_meta(report, numbers, rows) | {"seconds": _num(report.seconds, 1)})


@dg.asset(deps=["helpfulness_rm", "safety_rm", "tokenizer"], group_name=GROUP, kinds=KINDS, code_version="2",
          automation_condition=FOLLOW_UPSTREAM)
def reward_model_eval(context: dg.AssetExecutionContext, config: RewardEvalConfig, storage: ArtifactStorage) -> dg.MaterializeResult:
    """Accuracy per preference-rating bucket of the helpfulness and safety RMs on held-out comparisons (Table 8)."""
    from llama_model import align_data
    from llama_model.eval.suite import reward_model_eval as evaluate, small_model_threads
    from llama_model.reward import load_rm
    from llama_model.tokenizer import Tokenizer

    tok = Tokenizer(_need(storage.path("tokenizer", "tokenizer.model"), "tokenizer"))
    rms = {"helpfulness RM": load_rm(_need(storage.path("helpfulness_rm"), "helpfulness_rm")),
           "safety RM": load_rm(_need(storage.path("safety_rm"), "safety_rm"))}
    pairs = align_data.preference_pairs(config.test_pairs, seed=RM_TEST_SEED, split="eval")
    test_sets = {"helpfulness test": [p for p in pairs if not p["safety"]["unsafe_prompt"]],
                 "safety test": [p for p in pairs if p["safety"]["unsafe_prompt"]]}
    context.log.info("test pairs: " + ", ".join(f"{k} {len(v)}" for k, v in test_sets.items()))
    with small_model_threads(rms["helpfulness RM"]), \
            Progress("reward_model_eval", unit="RM x test set", log=context.log.info) as bar:
        report = evaluate(rms, tok, test_sets, storage.path("reports", "reward_model_eval"), progress=bar)
    acc = report.summary["accuracy"]
    numbers = {f"{rm} {ts} overall %": _num(100 * acc[rm][ts]["overall"]["acc"], 2)
               for rm in acc for ts in acc[rm]}
    rows = [{"reward model": rm, "test set": ts} | {b: 100 * v["acc"] if v["acc"] is not None else None
                                                   for b, v in acc[rm][ts].items()}
            for rm in acc for ts in acc[rm]]
    return dg.MaterializeResult(metadata=_meta(report, numbers, rows) | {"seconds": _num(report.seconds, 1)})


@dg.asset(deps=[*VERSIONS, "helpfulness_rm", "safety_rm", "tokenizer"], group_name=GROUP, kinds=KINDS,
          code_version="2")
def chat_eval(context: dg.AssetExecutionContext, config: ChatEvalConfig, storage: ArtifactStorage) -> dg.MaterializeResult:
    """Win rates of each RLHF version vs SFT and vs the previous version, safety violations, multi-turn adherence."""
    from llama_model import align_data
    from llama_model.checkpoint import load_meta
    from llama_model.eval.suite import answer_and_judge, chat_eval as evaluate, small_model_threads
    from llama_model.reward import load_rm
    from llama_model.tokenizer import Tokenizer

    tok_path = _need(storage.path("tokenizer", "tokenizer.model"), "tokenizer")
    tok = Tokenizer(tok_path)
    hrm = load_rm(_need(storage.path("helpfulness_rm"), "helpfulness_rm"))
    srm = load_rm(_need(storage.path("safety_rm"), "safety_rm"))
    _need(storage.path("sft_model", "params.json"), "sft_model")
    versions = [v for v in VERSIONS if storage.path(v, "params.json").exists()]
    missing = [v for v in VERSIONS if v not in versions]
    if missing:
        context.log.warning(f"not materialized, left out of the comparison: {', '.join(missing)}")
    tasks = align_data.eval_tasks()
    if config.max_tasks and config.max_tasks < len(tasks):
        step = len(tasks) / config.max_tasks
        tasks = [tasks[int(i * step)] for i in range(config.max_tasks)]
    answers, t0 = {}, time.perf_counter()
    with small_model_threads(hrm), Progress("chat_eval", len(versions), "versions", log=context.log.info) as bar:
        for v in versions:
            answers[v] = answer_and_judge(load_meta(storage.path(v))[0], tok, tasks, hrm, srm)
            bar.update()
    harness = None
    if config.lm_eval:   # the benchmarks through the chat template, first and newest version
        from llama_model.eval.harness import run_harness
        from llama_model.eval.multiple_choice import bundled_tasks_dir
        from llama_model.hf import export_model
        with tempfile.TemporaryDirectory(prefix="chat_eval-") as work, small_model_threads(hrm):
            dirs = {v: export_model(*load_meta(storage.path(v)), Path(work) / v, tok_path)
                    for v in dict.fromkeys([versions[0], versions[-1]])}
            harness = run_harness(dirs, os.environ.get("LLAMA_EVAL_TASKS_DIR") or bundled_tasks_dir(),
                                  Path(work) / "lm_eval", limit=config.lm_eval_limit, chat=True)
    report = evaluate(answers, tasks, storage.path("reports", "chat_eval"), harness=harness)
    report.seconds = time.perf_counter() - t0
    s = report.summary
    numbers = {"versions": dg.MetadataValue.int(len(versions)), "seconds": _num(report.seconds, 1)}
    for r in s["win_rates"]:
        numbers[f"{r['version']} program judge vs SFT"] = _num(r["program judge vs SFT"])
    for r in s["per_version"]:
        numbers[f"{r['version']} safety violation %"] = _num(r["safety violation %"], 2)
    return dg.MaterializeResult(metadata=_meta(report, numbers, s["win_rates"]))


# ------------------------------------------------------------------------------------------ checks

def _result(storage: ArtifactStorage, asset: str, check) -> dg.AssetCheckResult:
    from llama_model.eval.suite import read_summary

    passed, description, metadata = check(read_summary(storage.path("reports", asset)))
    return dg.AssetCheckResult(passed=passed, description=description, metadata=metadata)


@dg.asset_check(asset=base_model_eval, description="Training lowered the validation perplexity of every source.")
def perplexity_below_untrained(storage: ArtifactStorage) -> dg.AssetCheckResult:
    from llama_model.eval.checks import perplexity_below_untrained as check
    return _result(storage, "base_model_eval", check)


@dg.asset_check(asset=reward_model_eval, description="Both RMs are measured in every rating bucket (Table 8 complete).")
def every_rating_bucket_evaluated(storage: ArtifactStorage) -> dg.AssetCheckResult:
    from llama_model.eval.checks import every_rating_bucket_evaluated as check
    return _result(storage, "reward_model_eval", check)


@dg.asset_check(asset=chat_eval, description="The newest RLHF version wins against SFT (program judge, ties half).")
def newest_version_beats_sft(storage: ArtifactStorage) -> dg.AssetCheckResult:
    from llama_model.eval.checks import newest_version_beats_sft as check
    return _result(storage, "chat_eval", check)


ASSETS: list = [base_model_eval, reward_model_eval, chat_eval]
CHECKS: list = [perplexity_below_untrained, every_rating_bucket_evaluated, newest_version_beats_sft]
