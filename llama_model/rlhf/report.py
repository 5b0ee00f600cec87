"""Every alignment version side by side, and the whole chain without Dagster.

    python -m llama_model.rlhf.report run data     # SFT -> preferences -> RMs -> V1..V5 into data/, then the table
    python -m llama_model.rlhf.report data         # the table of what data/ holds
"""
from __future__ import annotations

from pathlib import Path

from llama_model import align_data
from llama_model.rlhf import stages
from llama_model.rlhf.policy import evaluate

VERSIONS = ["sft_model", "rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v4", "rlhf_v5"]


@stages.small_model_threads
def report(data_dir) -> tuple[list[dict], dict]:
    """Evaluate every materialized version with the current RMs on the held-out tasks: one row each."""
    from llama_model.checkpoint import load_meta
    from llama_model.reward import load_rm, rm_info
    data_dir = Path(data_dir)
    tok = stages._load_tok(data_dir / "tokenizer" / "tokenizer.model")
    hrm, srm = load_rm(data_dir / "helpfulness_rm"), load_rm(data_dir / "safety_rm")
    tasks = align_data.eval_tasks()
    rows = []
    for name in VERSIONS:
        if not (data_dir / name / "params.json").exists():
            continue
        ev = evaluate(load_meta(data_dir / name)[0], tok, tasks, hrm, srm)
        rows.append({"version": name, **stages._scalar_eval(ev)})
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
    stages.run_sft(d / "base_model", tok, d / "sft_model", align, log=log)
    for w in weeks:
        stages.write_preferences(w, d / "preference_data" / w, d / "sft_model", tok, align=align)
    for kind in ("helpfulness", "safety"):
        stages.run_reward_model(kind, d / "sft_model", tok, d / "preference_data", d / f"{kind}_rm", align, log=log)
    parent, earlier = d / "sft_model", []
    for v in (1, 2, 3, 4):
        stages.run_rejection(v, parent, earlier, tok, d / "helpfulness_rm", d / "safety_rm", d / f"rlhf_v{v}", align, log=log)
        earlier.append(d / f"rlhf_v{v}")
        parent = d / f"rlhf_v{v}"
    stages.run_ppo(parent, tok, d / "helpfulness_rm", d / "safety_rm", d / "rlhf_v5", align, log=log)


if __name__ == "__main__":
    # python -m llama_model.rlhf.report [run] DATA_DIR   (run: the whole chain first; then the table)
    import sys
    argv = sys.argv[1:]
    if argv and argv[0] == "run":
        argv = argv[1:]
        run_chain(argv[0] if argv else "data")
    rows, rms = report(argv[0] if argv else "data")
    print(format_report(rows, rms))
