"""Reward model: the margin ranking loss by hand, last-token scoring, per-rating accuracy, save/load."""
import math

import pytest
import torch
from align_helpers import tiny_model, tokenizer

from llama_model.reward import (
    MARGINS,
    RewardModel,
    accuracy_by_rating,
    load_rm,
    margin_table,
    ranking_loss,
    save_rm,
    train_rm,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _hand_loss(rc, rr, ratings, table):
    return sum(-math.log(1 / (1 + math.exp(-(c - r - table[k])))) for c, r, k in zip(rc, rr, ratings)) / len(rc)


@pytest.mark.parametrize("name", ["small", "large", "none"])
def test_margin_loss_matches_hand_computation(name):
    rc, rr, ratings = [2.0, 0.5, -1.0, 0.3], [1.0, 0.7, -3.0, 0.3], [3, 2, 1, 0]
    got = ranking_loss(torch.tensor(rc), torch.tensor(rr), torch.tensor(ratings), name)
    assert got.item() == pytest.approx(_hand_loss(rc, rr, ratings, MARGINS[name]), rel=1e-6)


def test_margin_tables_are_the_papers():
    assert margin_table("small") == {3: 1.0, 2: 2 / 3, 1: 1 / 3, 0: 0.0}
    assert margin_table("large") == {3: 3.0, 2: 2.0, 1: 1.0, 0: 0.0}
    # a single pair by hand: r_c - r_r = 1, rating 3, small margin 1 -> -log σ(0) = log 2
    assert ranking_loss(torch.tensor([1.5]), torch.tensor([0.5]), torch.tensor([3])).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="unknown rm_margin"):
        margin_table("medium")


def test_score_reads_the_last_real_token():
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    rm = RewardModel.from_policy(policy)
    a, b = [1, 5, 9, 12], [1, 7, 3]
    together = rm.score([a, b])
    assert torch.allclose(together, torch.cat([rm.score([a]), rm.score([b])]), atol=1e-5)   # padding is ignored
    assert rm.trunk is not policy                                                         # the policy is untouched


def test_rm_learns_preferences_and_reports_buckets(tmp_path):
    tok = tokenizer()
    policy, args = tiny_model(tok.n_words)
    rm = RewardModel.from_policy(policy)
    prompt = [{"role": "user", "content": "Reverse the word cat."}]
    pairs = [{"prompt": prompt, "chosen": "tac", "rejected": "I cannot help with that.", "rating": 3},
             {"prompt": prompt, "chosen": "tac", "rejected": "cat", "rating": 1}] * 16
    losses = train_rm(rm, tok, pairs, lr=3e-3, batch=8, epochs=4, margin="small", min_warmup=2)
    assert losses[-1] < losses[0]
    acc = accuracy_by_rating(rm, tok, pairs)
    assert acc[3] == 1.0 and acc["all"] >= 0.5 and math.isnan(acc[2])
    save_rm(rm, args, tmp_path / "rm", extra={"weeks": ["2026-11-15"]})
    back = load_rm(tmp_path / "rm")
    ids = [tok.encode("[INST] hi [/INST]") + tok.encode("tac")]
    assert torch.allclose(back.score(ids), rm.score(ids), atol=1e-5)
