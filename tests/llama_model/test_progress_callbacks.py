"""The training and sampling loops report progress(done, total) once per step / chunk / iteration."""
import pytest
import torch
from align_helpers import tiny_model, tokenizer

from llama_model import align_data as ad
from llama_model.reward import RewardModel, train_rm
from llama_model.rlhf import ppo, rejection
from llama_model.rlhf.policy import sample_answers
from llama_model.sft import sft_examples, train_sft

pytestmark = pytest.mark.usefixtures("one_thread")


def test_loops_call_progress_with_done_and_total():
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    calls = []
    examples = sft_examples(tok, ad.sft_dialogues(10, seed=1), max_len=64)
    train_sft(policy, examples, lr=1e-3, batch=4, epochs=2, progress=lambda d, t: calls.append(("sft", d, t)))
    steps = 2 * -(-len(examples) // 4)
    assert [c[1:] for c in calls] == [(s, steps) for s in range(1, steps + 1)]

    calls.clear()
    sample_answers(policy, tok, [[1, 5, 6]] * 5, max_new_tokens=3, chunk=2,
                   progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]

    calls.clear()
    tasks = ad.sample_tasks(4, 1, {"single": 1.0})
    hrm = RewardModel.from_policy(policy)
    rejection.best_of_k(policy, tok, tasks, hrm, hrm, k=2, temperature=1.0, generator=torch.Generator().manual_seed(0),
                        progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (8, 8)                                     # k samples of every prompt

    calls.clear()
    train_rm(hrm, tok, ad.preference_pairs(8, seed=1), lr=1e-3, batch=4, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (2, 2)

    calls.clear()
    ppo.train_ppo(policy, tok, tasks, hrm, hrm, ppo.PPOArgs(lr=1e-3, batch=4, minibatch=2, iterations=2),
                  generator=torch.Generator().manual_seed(0), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]
