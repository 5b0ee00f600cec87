"""Assets of the evaluate stage: base_model_eval, reward_model_eval, chat_eval.

Each writes an HTML report with its plots under $LLAMA_DATA_DIR/reports/<asset>/ and shows the tables and
plots in the UI. The logic is in llama_model/eval/: one stage function per asset (stages.py), run in this
process or, with TrainingLauncher.stages == "launcher" ($LLAMA_STAGES=launcher), as a torchrun job like the
alignment stages (assets/stage_runner.py); the reports are written by suite.py. The benchmarks of
base_model_eval and chat_eval run through lm-evaluation-harness on a Hugging Face export (harness.py,
docs/evaluation.md); lm_eval_results.json sits beside the report.

    dg launch --assets base_model_eval
    dg launch --assets base_model_eval \\
        --config-json '{"ops": {"base_model_eval": {"config": {"tasks_dir": "/data/benchmarks"}}}}'
"""

from pathlib import Path

import dagster as dg

from assets import metadata as md
from assets.stage_runner import run_stage
from llama_model.configs import get_profile
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

_PROFILE = get_profile()
# Derived (pipelines/version.py): this module, the stage code it runs, the profile sections it reads.
VERSION = md.code_version(__file__, roots=("llama_model.rlhf.job", "llama_model.eval.stages"),
                          model=md.profile_fields(_PROFILE.model), train=md.profile_fields(_PROFILE.train),
                          align=md.profile_fields(_PROFILE.align))

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


def _meta(result: dict, numbers: dict, rows: list[dict] | None = None) -> dict:
    """The stage's report as a path and a file:// URL, its markdown (tables + plots), its main table as a
    TableMetadataValue with the standard row count and column schema, and the headline numbers."""
    table = {"table": md.table_value(rows), **md.table(rows)} if rows else {}
    return md.report(result["report"]) | {"summary": dg.MetadataValue.md(result["markdown"])} | table | numbers


# Reports follow new checkpoints by themselves (declarative automation); chat_eval, which answers with
# every version, stays on the nightly schedule only.
FOLLOW_UPSTREAM = dg.AutomationCondition.eager()


@dg.asset(deps=["base_model", "token_shards", "tokenizer"], group_name=GROUP, kinds=KINDS, code_version=VERSION,
          automation_condition=FOLLOW_UPSTREAM)
def base_model_eval(context: dg.AssetExecutionContext, config: BaseEvalConfig, storage: ArtifactStorage,
                    profile: ProfileResource, launcher: TrainingLauncher) -> dg.MaterializeResult:
    """Validation perplexity per source and zero-shot benchmarks (lm-evaluation-harness on the HF export) of
    base_model vs the same model untrained, beside the paper's numbers for the profile."""
    p = profile.get()
    r = run_stage(context, launcher, "base_eval", base_dir=_need(storage.path("base_model"), "base_model"),
                  tokenizer_path=_need(storage.path("tokenizer", "tokenizer.model"), "tokenizer"),
                  shards_dir=_need(storage.path("token_shards"), "token_shards"),
                  report_dir=storage.path("reports", "base_model_eval"), seq_len=p.train.seq_len,
                  tasks_dir=config.tasks_dir, max_batches=config.max_batches, lm_eval=config.lm_eval,
                  lm_eval_limit=config.lm_eval_limit, profile_name=p.name)
    # every held-out token, token-weighted (base_model's own "validation perplexity (8 batches)" is a sample)
    numbers = {f"full validation ppl {m} all": _num(v) for m, v in r["ppl_all"].items()}
    numbers |= {f"acc_norm {t}": _num(v) for t, v in r["acc_norm"].items()}
    numbers["benchmarks scored by"] = dg.MetadataValue.text(r["scorer"])
    if r["lm_eval_results"] is not None:
        numbers["lm_eval results"] = dg.MetadataValue.path(r["lm_eval_results"])
    return dg.MaterializeResult(metadata=_meta(r, numbers, r["rows"]) | {"seconds": _num(r["seconds"], 1)})


@dg.asset(deps=["helpfulness_rm", "safety_rm", "tokenizer"], group_name=GROUP, kinds=KINDS, code_version=VERSION,
          automation_condition=FOLLOW_UPSTREAM)
def reward_model_eval(context: dg.AssetExecutionContext, config: RewardEvalConfig, storage: ArtifactStorage,
                      launcher: TrainingLauncher) -> dg.MaterializeResult:
    """Accuracy per preference-rating bucket of the helpfulness and safety RMs on held-out comparisons (Table 8)."""
    r = run_stage(context, launcher, "rm_eval", hrm_dir=_need(storage.path("helpfulness_rm"), "helpfulness_rm"),
                  srm_dir=_need(storage.path("safety_rm"), "safety_rm"),
                  tokenizer_path=_need(storage.path("tokenizer", "tokenizer.model"), "tokenizer"),
                  report_dir=storage.path("reports", "reward_model_eval"), test_pairs=config.test_pairs,
                  seed=RM_TEST_SEED)
    numbers = {f"{o['rm']} {o['test_set']} overall %": _num(100 * o["acc"], 2) for o in r["overall"]}
    return dg.MaterializeResult(metadata=_meta(r, numbers, r["rows"]) | {"seconds": _num(r["seconds"], 1)})


@dg.asset(deps=[*VERSIONS, "helpfulness_rm", "safety_rm", "tokenizer"], group_name=GROUP, kinds=KINDS,
          code_version=VERSION)
def chat_eval(context: dg.AssetExecutionContext, config: ChatEvalConfig, storage: ArtifactStorage,
              launcher: TrainingLauncher) -> dg.MaterializeResult:
    """Win rates of each RLHF version vs SFT and vs the previous version, safety violations, multi-turn adherence."""
    tok_path = _need(storage.path("tokenizer", "tokenizer.model"), "tokenizer")
    hrm_dir = _need(storage.path("helpfulness_rm"), "helpfulness_rm")
    srm_dir = _need(storage.path("safety_rm"), "safety_rm")
    _need(storage.path("sft_model", "params.json"), "sft_model")
    versions = [v for v in VERSIONS if storage.path(v, "params.json").exists()]
    missing = [v for v in VERSIONS if v not in versions]
    if missing:
        context.log.warning(f"not materialized, left out of the comparison: {', '.join(missing)}")
    r = run_stage(context, launcher, "chat_eval", version_dirs={v: storage.path(v) for v in versions},
                  tokenizer_path=tok_path, hrm_dir=hrm_dir, srm_dir=srm_dir,
                  report_dir=storage.path("reports", "chat_eval"), max_tasks=config.max_tasks,
                  lm_eval=config.lm_eval, lm_eval_limit=config.lm_eval_limit)
    numbers = {"versions": dg.MetadataValue.int(len(r["versions"])), "seconds": _num(r["seconds"], 1)}
    for row in r["win_rates"]:
        numbers[f"{row['version']} program judge vs SFT"] = _num(row["program judge vs SFT"])
    for row in r["per_version"]:
        numbers[f"{row['version']} safety violation %"] = _num(row["safety violation %"], 2)
        for k in ("false refusal %", "borderline false refusal %", "open-request false refusal %"):
            numbers[f"{row['version']} {k}"] = _num(row[k], 2)
    return dg.MaterializeResult(metadata=_meta(r, numbers, r["win_rates"]))


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
