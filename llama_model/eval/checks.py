"""The eval assets' checks as plain functions of a report's summary.json: (passed, description, metadata)."""
from __future__ import annotations

import math

from llama_model.eval.suite import INIT


def perplexity_below_untrained(summary: dict) -> tuple[bool, str, dict]:
    """Every source's validation perplexity of base_model is below that of the untrained model."""
    ppl = summary["perplexity"]
    trained, init = ppl["base_model"], ppl[INIT]
    worse = [s for s in trained if s != "all" and not (trained[s]["ppl"] or math.inf) < (init[s]["ppl"] or math.inf)]
    meta = {f"{s} ppl": trained[s]["ppl"] for s in trained}
    if not trained or worse:
        return False, f"not below the untrained model: {', '.join(worse) or 'no sources'}", meta
    return True, f"base_model perplexity {trained['all']['ppl']:.1f} vs {init['all']['ppl']:.1f} untrained", meta


def every_rating_bucket_evaluated(summary: dict) -> tuple[bool, str, dict]:
    """Every RM has an accuracy for every rating bucket of every test set that has comparisons in it,
    and the helpfulness test set covers all four ratings (the shape of Llama 2 Table 8 is complete)."""
    acc = summary["accuracy"]
    meta, empty = {}, []
    for rm, sets in acc.items():
        for ts, buckets in sets.items():
            for b, v in buckets.items():
                if rm == next(iter(acc)):
                    meta[f"{ts}: {b} pairs"] = v["n"]
                if v["n"] and v["acc"] is None:
                    return False, f"{rm} on {ts}: no accuracy for {b}", meta
                if not v["n"] and ts.startswith("helpfulness"):
                    empty.append(f"{ts}: {b}")
    if empty:
        return False, "no comparisons in " + ", ".join(sorted(set(empty))), meta
    return True, f"{len(acc)} RMs x {len(next(iter(acc.values())))} test sets, every rating bucket filled", meta


def newest_version_beats_sft(summary: dict) -> tuple[bool, str, dict]:
    """The last version's program-judged win rate against SFT is above 50%."""
    rows = summary["win_rates"]
    if not rows:
        return False, "no RLHF version to compare with SFT", {}
    last = rows[-1]
    w = last["program judge vs SFT"]
    meta = {"version": last["version"], "win rate": w, "helpfulness RM win rate": last["helpfulness RM vs SFT"]}
    return (w is not None and w > 0.5), f"{last['version']} vs SFT: win rate {w:.3f} (program judge)", meta
