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


def rm_accuracy_above_chance(summary: dict) -> tuple[bool, str, dict]:
    """Each RM's overall accuracy on its own test set (helpfulness RM / helpfulness test, ...) is above 50%."""
    acc = summary["accuracy"]
    own = {rm: acc[rm].get(rm.replace(" RM", " test"), next(iter(acc[rm].values())))["overall"]["acc"] for rm in acc}
    meta = {f"{rm} accuracy": v for rm, v in own.items()}
    bad = [rm for rm, v in own.items() if v is None or not v > 0.5]
    if bad:
        return False, f"at or below chance: {', '.join(bad)}", meta
    return True, ", ".join(f"{rm} {100 * v:.1f}%" for rm, v in own.items()), meta


def newest_version_beats_sft(summary: dict) -> tuple[bool, str, dict]:
    """The last version's program-judged win rate against SFT is above 50%."""
    rows = summary["win_rates"]
    if not rows:
        return False, "no RLHF version to compare with SFT", {}
    last = rows[-1]
    w = last["program judge vs SFT"]
    meta = {"version": last["version"], "win rate": w, "helpfulness RM win rate": last["helpfulness RM vs SFT"]}
    return (w is not None and w > 0.5), f"{last['version']} vs SFT: win rate {w:.3f} (program judge)", meta
