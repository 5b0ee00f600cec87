"""RLHF pieces: reward whitening and the safety switch, the KL term, GAtt data, pooling from V3, PPO steps."""
import copy

import pytest
import torch
from align_helpers import tiny_model, tokenizer

from llama_model import align_data as ad
from llama_model.chat_format import B_SYS, E_SYS, encode_dialogue
from llama_model.reward import RewardModel
from llama_model.rlhf import gatt, ppo, rejection
from llama_model.rlhf.policy import reward_scores, sample_answers, use_safety

pytestmark = pytest.mark.usefixtures("one_thread")


def test_whiten_and_logit():
    x = torch.tensor([1.0, 2.0, 3.0, 10.0])
    w = ppo.whiten(x)
    assert w.mean().abs() < 1e-6 and (w.var(unbiased=False) - 1).abs() < 1e-4
    p = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(ppo.logit(p), torch.log(p / (1 - p)))
    # R̃c = whiten(logit(Rc)) of sigmoid scores is the whitened raw score
    r = torch.tensor([-2.0, 0.0, 1.0, 3.0])
    assert torch.allclose(ppo.shaped_score(torch.sigmoid(r)), ppo.whiten(r), atol=1e-4)
    m = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert torch.allclose(ppo.whiten(torch.tensor([1.0, 3.0, 100.0, -5.0]), m), torch.tensor([-1.0, 1.0, 0.0, 0.0]), atol=1e-4)


def test_safety_switch():
    unsafe = torch.tensor([True, False, False, False])
    safety_prob = torch.tensor([0.9, 0.9, 0.1, 0.15])
    # unsafe prompt -> safety RM; safe prompt with safety score < 0.15 -> safety RM; otherwise helpfulness
    assert use_safety(unsafe, safety_prob).tolist() == [True, False, True, False]


class _ConstRM:
    def __init__(self, values):
        self.values = torch.tensor(values)

    def score(self, seqs):
        return self.values[: len(seqs)]


def test_reward_scores_pick_the_rm():
    h, s = _ConstRM([1.0, 2.0, 3.0]), _ConstRM([-5.0, 4.0, 4.0])   # σ(-5) < 0.15 -> safety decides
    rc, switch = reward_scores(h, s, [[1]] * 3, [False, False, True])
    assert rc.tolist() == [-5.0, 2.0, 4.0] and switch.tolist() == [True, False, True]


def test_kl_is_zero_for_identical_policies_and_positive_otherwise():
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    ref = copy.deepcopy(policy)
    ids, mask = ppo._batch([[1, 5, 9, 12, 2], [1, 7, 3, 2]], [2, 2])
    lp, _ = ppo.logprobs_and_hidden(policy, ids)
    lr, _ = ppo.logprobs_and_hidden(ref, ids)
    assert torch.all(ppo.kl_per_token(lp, lr, mask) == 0)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    lr, _ = ppo.logprobs_and_hidden(ref, ids)
    assert ppo.kl_per_token(lp, lr, mask).abs().sum() > 0
    assert mask.tolist() == [[0, 1, 1, 1], [0, 1, 1, 0]]   # positions predicting answer tokens only


def test_token_rewards_and_gae():
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    kl = torch.tensor([[0.0, 0.5, 1.0, 0.0]])
    r = ppo.token_rewards(torch.tensor([2.0]), kl, mask, beta=0.1)
    assert torch.allclose(r, torch.tensor([[0.0, -0.05, 2.0 - 0.1, 0.0]]))
    adv, ret = ppo.gae(r, torch.zeros_like(r), mask, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[0.0, 1.85, 1.9, 0.0]]))


def test_gatt_data_construction():
    inst = ad.INSTRUCTIONS["french"]
    turns = [{"role": "user", "content": "What is 1 + 1?"}, {"role": "assistant", "content": "deux"},
             {"role": "user", "content": "What is 2 + 2?"}]
    sampled = gatt.sampling_turns(turns, inst)
    assert sampled[0]["content"] == "What is 1 + 1?"                      # the system prompt carries it in turn 1
    assert sampled[2]["content"] == f"{B_SYS}{inst}{E_SYS}What is 2 + 2?"  # concatenated to every later user turn
    ex = gatt.training_dialogue(inst, ["What is 1 + 1?", "What is 2 + 2?"], ["deux", "quatre"])
    assert ex["system"] == inst and ex["train_turns"] == "last"
    assert [t["content"] for t in ex["turns"]] == ["What is 1 + 1?", "deux", "What is 2 + 2?", "quatre"]
    tok = tokenizer()
    ids, mask = encode_dialogue(tok, ex["turns"], ex["system"], train_turns=ex["train_turns"])
    second_bos = [i for i, t in enumerate(ids) if t == tok.bos_id][1]
    assert sum(mask[:second_bos]) == 0 and sum(mask[second_bos:]) > 0   # loss zeroed on earlier turns
    assert tok.decode([t for t, m in zip(ids, mask) if m]).strip() == "quatre"
    assert tok.decode(ids).count("SYS") == 2                              # instruction only in the first turn
    with pytest.raises(ValueError):
        gatt.training_dialogue(inst, ["a", "b"], ["x"])


def _rec(key, reward, answer):
    return {"key": key, "reward": reward, "answer": answer, "turns": [{"role": "user", "content": key}], "system": None}


def test_pooling_from_v3():
    v1 = [_rec("a", 1.0, "a1"), _rec("b", 3.0, "b1")]
    v2 = [_rec("a", 2.0, "a2"), _rec("b", 0.0, "b2")]
    v3 = [_rec("a", 0.5, "a3"), _rec("b", 1.0, "b3"), _rec("c", 0.2, "c3")]
    assert rejection.build_pool([v1, v2], version=2) == v2                       # V1, V2: latest only
    pool = {r["key"]: r["answer"] for r in rejection.build_pool([v1, v2, v3], version=3)}
    assert pool == {"a": "a2", "b": "b1", "c": "c3"}                              # V3+: best of all iterations
    d = rejection.to_dialogues(rejection.build_pool([v1, v2, v3], version=3))
    assert d[0]["turns"][-1] == {"role": "assistant", "content": "a2"} and d[0]["train_turns"] == "last"


def test_best_of_k_and_a_ppo_iteration_run():
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    hrm, srm = RewardModel.from_policy(policy), RewardModel.from_policy(policy)
    tasks = ad.sample_tasks(6, 1, {"single": 1.0})
    g = torch.Generator().manual_seed(0)
    best = rejection.best_of_k(policy, tok, tasks, hrm, srm, k=3, temperature=1.2, generator=g)
    assert len(best) == 6 and all(b["reward"] >= b["mean_reward"] - 1e-6 for b in best)
    answers = sample_answers(policy, tok, [[1, 5, 6]], max_new_tokens=4)
    assert len(answers[0]) <= 5
    before = copy.deepcopy(policy.state_dict())
    hist = ppo.train_ppo(policy, tok, tasks, hrm, srm, ppo.PPOArgs(lr=1e-3, batch=6, minibatch=3, iterations=2),
                         generator=g)
    assert len(hist) == 2 and hist[0]["kl"] == pytest.approx(0.0, abs=1e-5)    # first rollout: π = π0
    assert any(not torch.equal(before[k], v) for k, v in policy.state_dict().items())


class _CountingRM:
    """Scores an answer by its length and records how many answers it judged."""

    def __init__(self):
        self.seen = 0

    def score(self, seqs):
        self.seen += len(seqs)
        return torch.tensor([float(len(s)) for s in seqs])


def test_rejection_sampling_keeps_the_best_of_k_samples_only():
    """Best of K (SPEC §6): K temperature samples per prompt are the only candidates (no greedy K+1-th)."""
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    tasks = ad.sample_tasks(5, 3, {"single": 1.0})
    hrm = _CountingRM()
    best = rejection.best_of_k(policy, tok, tasks, hrm, None, k=4, temperature=1.0,
                               generator=torch.Generator().manual_seed(1), max_new_tokens=6)
    assert hrm.seen == 5 * 4
    again = sample_answers(policy, tok, [p for p in rejection.task_prompts(tok, tasks) for _ in range(4)],
                           temperature=1.0, generator=torch.Generator().manual_seed(1), max_new_tokens=6)
    for i, b in enumerate(best):          # the kept answer is the longest of that prompt's 4 samples
        block = again[i * 4:(i + 1) * 4]
        assert b["reward"] == max(len(p) + len(a) for p, a in zip([rejection.task_prompts(tok, [tasks[i]])[0]] * 4, block))


def test_user_prompts_load_validate_and_are_sampled(tmp_path):
    from llama_model.rlhf.prompts import load_prompts_jsonl

    good = tmp_path / "prompts.jsonl"
    good.write_text('{"turns": [{"role": "user", "content": "Name a colour."}]}\n\n'
                    '{"system": "Be brief.", "turns": [{"role": "user", "content": "Hi"}, '
                    '{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye?"}], "unsafe": true}\n')
    tasks = load_prompts_jsonl(good)
    assert [t.kind for t in tasks] == ["user", "user"] and tasks[1].unsafe and tasks[1].system == "Be brief."
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": [{"role": "user", "content": "a"}]}\n{"turns": [{"role": "assistant", "content": "x"}]}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: turn 0 must have role 'user'"):
        load_prompts_jsonl(bad)
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    rm = RewardModel.from_policy(policy)
    best = rejection.best_of_k(policy, tok, tasks, rm, rm, k=2, temperature=1.0,
                               generator=torch.Generator().manual_seed(0), max_new_tokens=6, tau=0.15)
    assert [b["key"] for b in best] == [t.key for t in tasks] and all(len(b["turns"]) for b in best)


def test_weekly_loop_samples_the_newest_version_of_this_chain_only(tmp_path):
    """newest_policy: the newest version written after the SFT checkpoint; a V5 left by an earlier run of the
    chain (older than a re-trained SFT model) is not sampled from."""
    import os

    from llama_model.rlhf.stages import newest_policy
    dirs = {n: tmp_path / n for n in ("rlhf_v5", "rlhf_v2", "sft_model")}
    for _i, (_name, d) in enumerate(dirs.items()):
        d.mkdir()
        (d / "params.json").write_text("{}")
    order = list(dirs.values())

    def age(name, t):
        os.utime(dirs[name] / "params.json", ns=(t, t))

    age("sft_model", 1_000), age("rlhf_v2", 2_000), age("rlhf_v5", 3_000)
    assert newest_policy(order) == dirs["rlhf_v5"]
    age("sft_model", 4_000)                     # SFT re-trained: every version is stale
    assert newest_policy(order) == dirs["sft_model"]
    age("rlhf_v2", 5_000)                       # V2 re-trained from it: the newest of this chain
    assert newest_policy(order) == dirs["rlhf_v2"]
    assert newest_policy([tmp_path / "missing"]) is None
