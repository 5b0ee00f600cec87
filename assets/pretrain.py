"""Assets of the pretrain stage: base_model, trained on token_shards with torchrun launched through Pipes.

    dg launch --assets base_model
    dg launch --assets base_model \\
        --config-json '{"ops": {"base_model": {"config": {"steps": 50, "overrides": ["train.lr=1e-3"]}}}}'

The run works in $LLAMA_DATA_DIR/runs/base_model/<fingerprint>/ (fingerprint = profile, shards and
overrides), so a killed materialization resumes from its last checkpoint when launched again. On success
the weights (Meta layout), metrics.jsonl, summary.json and loss_curve.png move atomically into
$LLAMA_DATA_DIR/base_model/ and the run folder is removed: a re-materialization trains again, from the
same seed, to the same weights (CPU).
"""
import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

import dagster as dg

from assets import metadata as md
from llama_model.configs import get_profile
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

_PROFILE = get_profile()
# Derived (pipelines/version.py): this module, the training and export code it launches, the profile.
VERSION = md.code_version(__file__, roots=("llama_model.train", "llama_model.hf"),
                          model=md.profile_fields(_PROFILE.model), train=md.profile_fields(_PROFILE.train))

GROUP = "pretrain"
OUTPUTS = ("consolidated.00.pth", "params.json", "pipeline_params.json", "metrics.jsonl", "summary.json")
LOSS_CHECK = "loss_decreases"


class PretrainConfig(dg.Config):
    steps: int = 0                  # 0: $LLAMA_PRETRAIN_STEPS if set, else the profile's (total_tokens / batch_tokens)
    overrides: list[str] = []       # profile overrides, e.g. ["train.lr=1e-3", "model.n_layers=4"]
    eval_batches: int = 8           # validation batches per source at each evaluation
    base_model: str = ""            # a checkpoint (HF or Meta layout) to use instead of training; $LLAMA_BASE_MODEL


def _fingerprint(storage: ArtifactStorage, profile_name: str, config: PretrainConfig) -> str:
    steps = config.steps or int(os.environ.get("LLAMA_PRETRAIN_STEPS") or 0)
    h = hashlib.sha256(json.dumps([profile_name, steps, config.overrides]).encode())
    if os.environ.get("LLAMA_CONFIG"):        # a config file changes the run: never resume another's checkpoint
        h.update(Path(os.environ["LLAMA_CONFIG"]).read_bytes())
    for name in ("manifest.parquet", "meta.json"):
        p = storage.path("token_shards", name)
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _metadata(summary: dict, rows: list[dict], png: bytes, reported: dict, eval_batches: int = 8) -> dict:
    out = dict(reported)
    out.update({
        "final_loss": summary["final_loss"], "first_loss": summary["first_loss"], "steps": summary["steps"],
        "tokens_seen": summary["tokens_seen"], "tokens_per_s": round(summary["tokens_per_s"], 1),
        "mfu": summary["mfu"], "parameters": summary["parameters"], "world_size": summary["world_size"],
        "loss_curve": dg.MetadataValue.md(f"![loss](data:image/png;base64,{base64.b64encode(png).decode()})"),
    })
    # Training's quick check on the first `eval_batches` batches per source; base_model_eval's "full validation
    # ppl" is over every held-out token (token-weighted), so the two differ: the names say which is which.
    col = f"validation perplexity ({eval_batches} batch{'es' if eval_batches != 1 else ''})"
    rows = [{"source": source, "val loss": v["loss"], col: v["ppl"]} for source, v in summary["val"].items()]
    for r in rows:
        out[f"val_ppl/{r['source']}"] = r[col]
    out["validation"] = md.table_value(rows)
    return md.rounded(out)


def _loss_check(rows: list[dict]) -> dg.AssetCheckResult:
    from llama_model.train import loss_decrease

    r = loss_decrease(rows)
    return dg.AssetCheckResult(check_name=LOSS_CHECK, passed=r["passed"],
                               metadata={k: v for k, v in r.items() if k != "passed" and v is not None})


@dg.asset(deps=["token_shards", "tokenizer"], group_name=GROUP, kinds={"pytorch"}, code_version=VERSION,
          check_specs=[dg.AssetCheckSpec(LOSS_CHECK, asset="base_model",
                                         description="mean loss of the last 10% of steps is clearly below the first 10%")])
def base_model(context: dg.AssetExecutionContext, config: PretrainConfig, storage: ArtifactStorage,
               profile: ProfileResource, launcher: TrainingLauncher) -> dg.MaterializeResult:
    """The pretrained LLaMA model: torchrun over token_shards via Dagster Pipes; Meta-layout weights."""
    from llama_model.train import plot_loss_curve, read_metrics

    if config.base_model or os.environ.get("LLAMA_BASE_MODEL"):
        return _import_base_model(context, storage, config.base_model or os.environ["LLAMA_BASE_MODEL"])
    shards = storage.path("token_shards")
    if not (shards / "manifest.parquet").exists():
        raise FileNotFoundError(f"{shards / 'manifest.parquet'} does not exist: materialize token_shards first")
    p = profile.get()
    run_dir = storage.dir("runs", "base_model", _fingerprint(storage, p.name, config))
    args = ["--profile", p.name, "--shards", str(shards), "--out", str(run_dir),
            "--eval-batches", str(config.eval_batches)]
    steps = config.steps or int(os.environ.get("LLAMA_PRETRAIN_STEPS") or 0)   # a quick knob for CI
    if steps:
        args += ["--steps", str(steps)]
    for item in config.overrides:
        args += ["--set", item]
    context.log.info(f"launching ({launcher.mode}, {launcher.nproc_per_node} process(es)/node): {' '.join(args)}")
    invocation = launcher.launch(context, args)
    reported = invocation.get_materialize_result().metadata or {}

    summary = json.loads((run_dir / "summary.json").read_text())
    rows = read_metrics(run_dir / "metrics.jsonl")
    png_path = plot_loss_curve(rows, run_dir / "loss_curve.png")
    with storage.atomic("base_model") as tmp:
        tmp.mkdir(parents=True)
        for name in OUTPUTS:
            shutil.copy2(run_dir / name, tmp / name)
        for extra in sorted(run_dir.glob("consolidated.*.pth")):     # Meta's split for big models (export_files)
            shutil.copy2(extra, tmp / extra.name)
        shutil.copy2(png_path, tmp / "loss_curve.png")
        if (run_dir / "tensorboard").is_dir():    # TensorBoard event files (llama_model/train_log.py)
            shutil.copytree(run_dir / "tensorboard", tmp / "tensorboard")
    png = png_path.read_bytes()
    shutil.rmtree(run_dir, ignore_errors=True)
    metadata = _metadata(summary, rows, png, reported, config.eval_batches) | {"path": md.path(storage.path("base_model"))}
    metadata |= md.resolved_config(p)
    return dg.MaterializeResult(metadata=metadata,
                                check_results=[_loss_check(rows)])


def _import_base_model(context: dg.AssetExecutionContext, storage: ArtifactStorage, source: str) -> dg.MaterializeResult:
    """base_model = an existing checkpoint (converted from HF, or copied); SFT, the RMs and RLHF start from it."""
    from llama_model.hf import import_checkpoint

    info = import_checkpoint(source, storage.path("base_model"), tokenizer=storage.path("tokenizer", "tokenizer.model"))
    if info.get("same_tokenizer") is False:
        context.log.warning(f"{source} does not ship the pipeline's tokenizer.model: downstream assets encode with "
                            f"{storage.path('tokenizer', 'tokenizer.model')}")
    md = {"imported_from": info["source"], "architecture": info["architecture"],
          "params": dg.MetadataValue.json(info["params"]), "tokenizer shipped": info["tokenizer"]}
    if "same_tokenizer" in info:
        md["same tokenizer as the pipeline"] = info["same_tokenizer"]
    return dg.MaterializeResult(metadata=md, check_results=[dg.AssetCheckResult(
        check_name=LOSS_CHECK, passed=True, description=f"not trained here: imported from {source}")])


ASSETS: list = [base_model]
CHECKS: list = []
