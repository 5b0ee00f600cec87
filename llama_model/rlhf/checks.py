"""The alignment chain's asset checks: a reward model beats chance, RLHF V5 is no less safe than SFT.

Read from the folders the stages wrote (llama_model/rlhf/stages.py); assets/align.py reports them."""
from __future__ import annotations

from llama_model.rlhf.stages import read_meta


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
