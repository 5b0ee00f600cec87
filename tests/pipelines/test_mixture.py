"""The SPEC §1 mixture: proportions table, targets, epochs for sources that run out, validation split."""
import numpy as np
import pytest

from pipelines import mixture as mix
from pipelines.document import SOURCES


def test_proportions_are_table_1():
    assert mix.PROPORTIONS == {"commoncrawl": 0.67, "c4": 0.15, "github": 0.045, "wikipedia": 0.045,
                               "books": 0.045, "arxiv": 0.025, "stackexchange": 0.02}
    assert tuple(mix.PROPORTIONS) == SOURCES


def test_targets_sum_to_the_budget():
    for budget in (1, 7, 1000, 2_000_003, 1_400_000_000_000):
        t = mix.targets(budget)
        assert sum(t.values()) == budget
        assert all(abs(t[s] - budget * p) < 1 for s, p in mix.PROPORTIONS.items())


def test_plan_hits_every_target_and_repeats_short_sources():
    rng = np.random.default_rng(0)
    lengths = {s: rng.integers(50, 500, size=40) for s in SOURCES}
    lengths["books"] = np.array([30_000, 25_000])          # two long books, much more than their share
    lengths["wikipedia"] = rng.integers(20, 60, size=30)   # small: must be repeated
    plans = mix.plan_mixture(lengths, token_budget=100_000, seed=3)
    rows = mix.accounting(plans)
    for r in rows:
        assert r["achieved_tokens"] == r["target_tokens"], r
        assert abs(r["deviation_pp"]) < 1e-9
    assert plans["wikipedia"].epochs > 1.0
    assert plans["books"].epochs < 0.1      # the last book is cut at the target
    assert mix.check_proportions(rows) == (True, [])
    # Each full pass visits every document exactly once.
    w = plans["wikipedia"]
    full = int(w.epochs)
    counts = np.bincount(w.order, minlength=30)
    assert counts.min() >= full and counts.max() <= full + 1


def test_plan_is_deterministic_by_seed():
    lengths = {"c4": list(range(1, 200))}
    a = mix.plan_source("c4", lengths["c4"], 5000, seed=1)
    b = mix.plan_source("c4", lengths["c4"], 5000, seed=1)
    c = mix.plan_source("c4", lengths["c4"], 5000, seed=2)
    assert np.array_equal(a.order, b.order) and np.array_equal(a.take, b.take)
    assert not np.array_equal(a.order, c.order)


def test_empty_source_is_noted():
    lengths = {s: [100] * 50 for s in SOURCES if s != "arxiv"}
    plans = mix.plan_mixture(lengths, token_budget=10_000)
    assert plans["arxiv"].achieved == 0 and "empty source" in plans["arxiv"].note
    ok, notes = mix.check_proportions(mix.accounting(plans))
    assert not ok
    assert any(n.startswith("arxiv") and "empty source" in n for n in notes)
    assert any(n.startswith("commoncrawl") and "arxiv is empty" in n for n in notes)


def test_budget_too_small_is_said():
    plans = mix.plan_mixture({s: [100] for s in SOURCES}, token_budget=10)
    ok, notes = mix.check_proportions(mix.accounting(plans))
    assert not ok and any("budget is too small" in n for n in notes)


@pytest.mark.parametrize("n,expected", [(0, 0), (1, 0), (2, 1), (10, 1), (100, 5), (1000, 50), (20000, 1000)])
def test_validation_split_by_document(n, expected):
    ids = [f"doc{i}" for i in range(n)]
    val = mix.split_validation(ids, 0.05)
    assert abs(len(val) - expected) <= max(3, 0.1 * expected) and len(val) >= (n >= 2) and val <= set(ids)
    assert val == mix.split_validation(list(reversed(ids)), 0.05)   # order does not matter
