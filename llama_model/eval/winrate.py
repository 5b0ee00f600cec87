"""Win rates between model versions, RM accuracy per rating bucket, safety and adherence rates.

The Llama 2 paper measures each RLHF version by the win rate of its answers against another version's
answers to the same prompts, judged by the reward models (Fig. 11) and by people; we judge with the
RMs and, on the bundled tasks, with a program that knows the right answer. A tie counts half a win.

    from llama_model.eval.winrate import compare, bucket_accuracy
    compare([0.9, 0.2], [0.1, 0.2]).win_rate      # 0.75: one win, one tie
    bucket_accuracy(chosen_scores, rejected_scores, ratings)   # Llama 2 Table 8 shape
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

# Llama 2 §3.2.1: the rating of a comparison; also the RM accuracy buckets of Table 8.
RATING_NAMES = {3: "significantly better", 2: "better", 1: "slightly better", 0: "negligibly better / unsure"}


@dataclass(frozen=True)
class Outcome:
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def win_rate(self) -> float:
        """(wins + ties / 2) / n, the paper's convention; NaN with no comparisons."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else float("nan")

    def as_dict(self) -> dict:
        return asdict(self) | {"n": self.n, "win_rate": self.win_rate}


def compare(scores_a: Sequence[float], scores_b: Sequence[float], tie_margin: float = 0.0) -> Outcome:
    """A against B, prompt by prompt: a win when A's score exceeds B's by more than `tie_margin`."""
    if len(scores_a) != len(scores_b):
        raise ValueError(f"{len(scores_a)} scores for A but {len(scores_b)} for B: they must judge the same prompts")
    wins = ties = losses = 0
    for a, b in zip(scores_a, scores_b):
        if a - b > tie_margin:
            wins += 1
        elif b - a > tie_margin:
            losses += 1
        else:
            ties += 1
    return Outcome(wins, ties, losses)


def version_win_rates(scores: dict[str, dict[str, Sequence[float]]], versions: Sequence[str],
                      baseline: str, tie_margins: dict[str, float] | None = None) -> list[dict]:
    """One row per version after the baseline: its win rate vs the baseline and vs the version before, per judge.

    `scores[judge][version]` holds one score per prompt (the same prompts, in the same order, for every version).
    """
    tie_margins = tie_margins or {}
    rows = []
    for i, v in enumerate(versions):
        if v == baseline:
            continue
        row: dict = {"version": v}
        prev = versions[i - 1] if i > 0 else baseline
        for judge, by_version in scores.items():
            m = tie_margins.get(judge, 0.0)
            row[f"{judge} vs {baseline}"] = compare(by_version[v], by_version[baseline], m).win_rate
            row[f"{judge} vs previous"] = compare(by_version[v], by_version[prev], m).win_rate
        rows.append(row)
    return rows


def bucket_accuracy(chosen: Sequence[float], rejected: Sequence[float], ratings: Sequence[int]) -> dict[str, dict]:
    """RM accuracy (chosen scored above rejected) per rating bucket and overall (Llama 2 Table 8)."""
    if not (len(chosen) == len(rejected) == len(ratings)):
        raise ValueError("chosen, rejected and ratings must have the same length")
    out: dict[str, dict] = {}
    for r in sorted(RATING_NAMES, reverse=True):
        pairs = [(c, j) for c, j, k in zip(chosen, rejected, ratings) if int(k) == r]
        out[RATING_NAMES[r]] = {"n": len(pairs),
                                "acc": sum(c > j for c, j in pairs) / len(pairs) if pairs else float("nan")}
    n = len(chosen)
    out["overall"] = {"n": n, "acc": sum(c > j for c, j in zip(chosen, rejected)) / n if n else float("nan")}
    return out


def rate(flags: Sequence[bool]) -> float:
    """Percentage of True flags (safety violations, followed instructions); NaN when empty."""
    return 100.0 * sum(bool(f) for f in flags) / len(flags) if flags else float("nan")
