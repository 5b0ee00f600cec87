"""Assets of the align stage (Llama 2 §3-4): SFT, weekly preference batches, reward models, RLHF V1-V5.

    dg launch --assets sft_model
    dg launch --assets preference_data --partition 2026-11-15
    dg launch --assets helpfulness_rm,safety_rm,rlhf_v1,rlhf_v2,rlhf_v3,rlhf_v4,rlhf_v5

The logic lives in llama_model/ (sft.py, reward.py, rlhf/); llama_model/rlhf/stages.py has one function per
asset. `preference_data` is partitioned by week: each week brings a new batch; the RMs train on every
materialized week and each RLHF version records which RM and which weeks it came from.
"""
import math

import dagster as dg

from assets import metadata as md
from assets.stage_runner import run_stage
from llama_model.configs import get_profile
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

_PROFILE = get_profile()
# Derived (pipelines/version.py): this module, the stage code it runs (llama_model.rlhf.job), the profile.
VERSION = md.code_version(__file__, roots=("llama_model.rlhf.job",), model=md.profile_fields(_PROFILE.model),
                          align=md.profile_fields(_PROFILE.align))

GROUP = "align"
# Weekly batches; the demo materializes the first 3 weeks (fixed keys: the same figures on any date).
preference_weeks = dg.WeeklyPartitionsDefinition(start_date="2026-10-25")
ALL_WEEKS = dg.AssetDep("preference_data", partition_mapping=dg.AllPartitionMapping())
RM_ASSETS = ("helpfulness_rm", "safety_rm")


class SFTConfig(dg.Config):
    # your SFT data instead of the bundled tasks: JSONL, Parquet or a save_to_disk folder of trl rows
    # ({"messages": [...]} or prompt/completion); formats in docs/alignment.md
    dialogues_path: str = ""


class RLHFConfig(dg.Config):
    prompts_path: str = ""       # your prompts JSONL ({"system"?, "turns": [... user last], "unsafe"?}) instead of the bundled tasks


class PreferenceConfig(dg.Config):
    # this week's comparisons from your data: JSONL, Parquet or a save_to_disk folder of trl preference rows
    # (prompt/chosen/rejected, text or messages), UltraFeedback-binarized or Anthropic HH rows
    source_path: str = ""


def _clean(x):
    """Metadata-safe values: NaN -> None, recursively."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _eval_md(ev: dict, parent: dict | None = None) -> str:
    rows = ["| metric | this version | parent |", "|---|---|---|"] if parent else ["| metric | value |", "|---|---|"]
    for k in ("success_rate", "mean_reward", "safety_violations", "gatt_follow_rate", "gatt_success_rate"):
        if k in ev:
            v = ev[k]
            cell = f"{v:.3f}" if isinstance(v, float) else str(v)
            if parent:
                pv = parent.get(k)
                cell += f" | {pv:.3f}" if isinstance(pv, float) else f" | {pv}"
            rows.append(f"| {k} | {cell} |")
    return "\n".join(rows)


def _examples_md(examples: list[dict]) -> str:
    rows = ["| system | prompt | answer | judged right |", "|---|---|---|---|"]
    for e in examples:
        cells = [e.get("system") or "", e["prompt"], e["answer"], "yes" if e["ok"] else "no"]
        rows.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(rows)


def _policy_metadata(m: dict, out) -> dict:
    ev = m["eval"]
    meta = {
        "path": dg.MetadataValue.path(str(out)),
        "success_rate": ev["success_rate"],
        "safety_violations": ev["safety_violations"],
        "gatt_follow_rate": _clean(ev["gatt_follow_rate"]),
        "eval": dg.MetadataValue.md(_eval_md(ev, m.get("parent_eval"))),
        "answers": dg.MetadataValue.md(_examples_md(m.get("examples_shown", []))),
        "seconds": round(m["seconds"], 1),
    }
    if "mean_reward" in ev:
        meta["mean_rm_reward"] = ev["mean_reward"]
    return meta


def _policy_result(m: dict, out, extra: dict) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=md.rounded(_policy_metadata(m, out) | extra))


# The columns of a preferences JSONL row (trl's conversational preference format + our labels).
PREFERENCE_SCHEMA = md.schema(
    {"prompt": "list[{role, content}]", "chosen": "list[{role, content}]", "rejected": "list[{role, content}]",
     "rating": "int", "safety": "{unsafe_prompt, chosen_safe, rejected_safe}"},
    {"prompt": "the dialogue up to the compared answer (a system message first when there is one)",
     "rating": "3 significantly better, 2 better, 1 slightly better, 0 negligibly better / unsure"})


@dg.asset(deps=["base_model", "tokenizer"], group_name=GROUP, kinds={"pytorch"}, code_version=VERSION)
def sft_model(context: dg.AssetExecutionContext, config: SFTConfig, storage: ArtifactStorage,
              profile: ProfileResource, launcher: TrainingLauncher) -> dg.MaterializeResult:
    """Chat model: the base model fine-tuned on dialogues in the Llama 2 chat format, loss on answers only."""
    out = storage.path("sft_model")
    m = run_stage(context, launcher, "sft", profile.get().align, base_dir=storage.path("base_model"),
                  tokenizer_path=storage.path("tokenizer", "tokenizer.model"), out_dir=out,
                  dialogues_path=config.dialogues_path or None)
    return _policy_result(m, out, {
        "data": m["data"], "dialogues": m["dialogues"], "steps": m["steps"],
        "loss_first": m["loss_first"], "loss_last": m["loss_last"]})


@dg.asset(partitions_def=preference_weeks, deps=[sft_model, "tokenizer"], group_name=GROUP, kinds={"json"},
          code_version=VERSION)
def preference_data(context: dg.AssetExecutionContext, config: PreferenceConfig,
                    storage: ArtifactStorage, profile: ProfileResource, launcher: TrainingLauncher) -> dg.MaterializeResult:
    """One week's batch of rated comparisons (rating 0-3, safety labels): generated and SFT-sampled pairs, or yours."""
    from llama_model.rlhf import stages

    week = context.partition_key
    out = storage.path("preference_data", week)
    # The weekly loop: comparisons of the newest materialized version (SFT in the first week). Read from disk,
    # not declared as deps: the versions depend on the RMs, which depend on these batches.
    newest_first = [storage.path(v) for v in ("rlhf_v5", "rlhf_v4", "rlhf_v3", "rlhf_v2", "rlhf_v1", "sft_model")]
    m = run_stage(context, launcher, "preferences", profile.get().align, week=week, out_dir=out,
                  policy_dir=newest_first, tokenizer_path=storage.path("tokenizer", "tokenizer.model"),
                  source_path=config.source_path or None)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(out / stages.PREFERENCES_FILE)), **m,
                                          **md.table(row_count=m["pairs"], table_schema=PREFERENCE_SCHEMA)})


def _rm_asset(kind: str):
    name = f"{kind}_rm"

    @dg.asset(name=name, deps=[ALL_WEEKS, "sft_model", "tokenizer"], group_name=GROUP, kinds={"pytorch"},
              code_version=VERSION, description=f"{kind.capitalize()} reward model: the SFT trunk + a scalar head, "
                                            f"margin ranking loss on every week's pairs.")
    def _rm(context: dg.AssetExecutionContext, storage: ArtifactStorage, profile: ProfileResource,
            launcher: TrainingLauncher) -> dg.MaterializeResult:
        out = storage.path(name)
        m = run_stage(context, launcher, "reward_model", profile.get().align, kind=kind,
                      sft_dir=storage.path("sft_model"), tokenizer_path=storage.path("tokenizer", "tokenizer.model"),
                      pref_root=storage.path("preference_data"), out_dir=out)
        acc = _clean(m["accuracy"])
        names = {"3": "significantly better", "2": "better", "1": "slightly better", "0": "negligibly better / unsure"}
        table = md.table_value([{"rating": names.get(k, k), "accuracy": v} for k, v in acc.items()],
                               md.schema({"rating": "string", "accuracy": "float"}))
        return dg.MaterializeResult(metadata=md.rounded({
            "path": dg.MetadataValue.path(str(out)), "version": m["version"], "weeks": ", ".join(m["weeks"]),
            "weeks_sampled_from": dg.MetadataValue.json(m["weeks_sampled_from"]), "train_pairs": m["train_pairs"],
            "test_pairs": m["test_pairs"], "margin": m["margin"], "loss_first": m["loss_first"],
            "loss_last": m["loss_last"], "accuracy": acc["all"], "accuracy_by_rating": table,
            "seconds": round(m["seconds"], 1)}))

    @dg.asset_check(asset=name, name="accuracy_above_chance",
                    description="held-out pair accuracy above 50% (and highest for 'significantly better')")
    def _check(storage: ArtifactStorage) -> dg.AssetCheckResult:
        from llama_model.rlhf import checks

        r = checks.check_rm_accuracy(storage.path(name))
        return dg.AssetCheckResult(passed=r["passed"], metadata=_clean({k: v for k, v in r.items() if k != "passed"}))

    return _rm, _check


helpfulness_rm, helpfulness_rm_check = _rm_asset("helpfulness")
safety_rm, safety_rm_check = _rm_asset("safety")


def _rejection_asset(version: int):
    name = f"rlhf_v{version}"
    parent = "sft_model" if version == 1 else f"rlhf_v{version - 1}"
    earlier = [f"rlhf_v{v}" for v in range(1, version)]

    description = (f"RLHF V{version}: rejection-sampling fine-tuning of {parent} (best of K by the RMs)"
                   + (", pooled over earlier versions, with Ghost Attention data." if version >= 3 else "."))

    @dg.asset(name=name, deps=[parent, *RM_ASSETS, "tokenizer"], group_name=GROUP, kinds={"pytorch"},
              code_version=VERSION, description=description)
    def _rs(context: dg.AssetExecutionContext, config: RLHFConfig, storage: ArtifactStorage, profile: ProfileResource,
            launcher: TrainingLauncher) -> dg.MaterializeResult:
        out = storage.path(name)
        m = run_stage(context, launcher, "rejection", profile.get().align, version=version,
                      parent_dir=storage.path(parent), earlier_dirs=[storage.path(e) for e in earlier],
                      tokenizer_path=storage.path("tokenizer", "tokenizer.model"),
                      hrm_dir=storage.path("helpfulness_rm"), srm_dir=storage.path("safety_rm"), out_dir=out,
                      prompts_path=config.prompts_path or None)
        return _policy_result(m, out, {
            "method": m["method"], "parent": parent, "helpfulness_rm": m["helpfulness_rm"], "safety_rm": m["safety_rm"],
            "judged_by": ", ".join(v for v in m["rm_versions"] if v),
            "data_weeks": ", ".join(m["data_weeks"]), "pooled_from": ", ".join(earlier) if version >= 3 else "",
            "k": m["k"], "temperature": m["temperature"], "pool": m["pool"], "gatt_dialogues": m["gatt_dialogues"],
            "best_of_k_reward": m["best_reward_mean"], "sample_reward": m["sample_reward_mean"],
            "parent_success_rate": m["parent_eval"]["success_rate"],
            "parent_mean_rm_reward": m["parent_eval"]["mean_reward"]})

    return _rs


rlhf_v1, rlhf_v2, rlhf_v3, rlhf_v4 = (_rejection_asset(v) for v in (1, 2, 3, 4))


@dg.asset(deps=["rlhf_v4", *RM_ASSETS, "tokenizer"], group_name=GROUP, kinds={"pytorch"}, code_version=VERSION)
def rlhf_v5(context: dg.AssetExecutionContext, config: RLHFConfig, storage: ArtifactStorage, profile: ProfileResource,
            launcher: TrainingLauncher) -> dg.MaterializeResult:
    """RLHF V5: PPO on top of V4, reward whiten(logit(R_c)) - β·KL, the safety RM where safety is at stake."""
    out = storage.path("rlhf_v5")
    m = run_stage(context, launcher, "ppo", profile.get().align, parent_dir=storage.path("rlhf_v4"),
                  tokenizer_path=storage.path("tokenizer", "tokenizer.model"), hrm_dir=storage.path("helpfulness_rm"),
                  srm_dir=storage.path("safety_rm"), out_dir=out, prompts_path=config.prompts_path or None)
    kl = md.table_value([{"iteration": h["iteration"], "RM reward": h["reward"], "KL to V4": h["kl"]}
                         for h in m["history"]])
    return _policy_result(m, out, {
        "method": "PPO", "parent": "rlhf_v4", "helpfulness_rm": m["helpfulness_rm"], "safety_rm": m["safety_rm"],
        "judged_by": ", ".join(v for v in m["rm_versions"] if v),
        "data_weeks": ", ".join(m["data_weeks"]), "ppo": dg.MetadataValue.json(m["ppo"]),
        "kl_last": m["kl_last"], "per_iteration": kl,
        "parent_success_rate": m["parent_eval"]["success_rate"],
        "parent_mean_rm_reward": m["parent_eval"]["mean_reward"]})


@dg.asset_check(asset=rlhf_v5, description="V5 has no more safety violations on the held-out tasks than the SFT model")
def safety_not_worse_than_sft(storage: ArtifactStorage) -> dg.AssetCheckResult:
    from llama_model.rlhf import checks

    r = checks.check_safety_not_worse(storage.path("rlhf_v5"), storage.path("sft_model"))
    return dg.AssetCheckResult(passed=r["passed"], metadata={k: v for k, v in r.items() if k != "passed"})


ASSETS: list = [sft_model, preference_data, helpfulness_rm, safety_rm, rlhf_v1, rlhf_v2, rlhf_v3, rlhf_v4, rlhf_v5]
CHECKS: list = [helpfulness_rm_check, safety_rm_check, safety_not_worse_than_sft]
