"""Generation with the KV cache: equal to full recomputation, batched prompts of different lengths, EOS."""
import pytest
import torch

from llama_model.configs import ModelArgs
from llama_model.generation import generate, sequence_logprobs, token_logprobs
from llama_model.model import Transformer

ARGS = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, multiple_of=16, max_seq_len=64)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(ARGS).eval()


def greedy_full_recompute(model, prompt, n):
    """The reference: no cache, the whole sequence re-run for every new token."""
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    return seq[len(prompt):]


def test_greedy_with_cache_equals_full_recompute(model):
    prompt = [1, 5, 9, 13]
    assert generate(model, [prompt], 12, eos_id=None) == [greedy_full_recompute(model, prompt, 12)]


def test_batched_prompts_of_different_lengths_equal_one_by_one(model):
    prompts = [[1, 7], [1, 3, 4, 5, 6, 8], [1, 2, 3]]
    batched = generate(model, prompts, 8, eos_id=None)
    assert batched == [greedy_full_recompute(model, p, 8) for p in prompts]
    assert [len(b) for b in batched] == [8, 8, 8]


def test_stops_at_eos_and_excludes_it(model):
    prompt = [1, 5, 9, 13]
    ref = greedy_full_recompute(model, prompt, 10)
    eos = ref[3]                     # pretend the 4th generated token is EOS
    out = generate(model, [prompt], 10, eos_id=eos)[0]
    assert out == ref[: ref.index(eos)]


def test_sampling_is_reproducible_with_a_generator(model):
    def run(seed):
        return generate(model, [[1, 2], [1, 4, 6]], 10, temperature=1.2, top_p=0.9, eos_id=None,
                        generator=torch.Generator().manual_seed(seed))
    assert run(1) == run(1)
    assert run(1) != run(2)
    assert all(0 <= t < 64 for row in run(3) for t in row)


def test_tiny_top_p_is_greedy(model):
    prompts = [[1, 5, 9]]
    assert generate(model, prompts, 6, temperature=1.0, top_p=1e-6, eos_id=None,
                    generator=torch.Generator().manual_seed(0)) == generate(model, prompts, 6, eos_id=None)


def test_empty_prompt_is_an_error(model):
    with pytest.raises(ValueError, match="empty prompt"):
        generate(model, [[1], []], 4)


def test_sequence_logprobs_sum_masked_token_logprobs(model):
    tokens = torch.tensor([[1, 5, 9, 13, 2], [1, 4, 4, 4, 4]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        lp = token_logprobs(model, tokens)
        logp = torch.log_softmax(model(tokens[:, :-1]), -1)
        manual = logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)
        assert torch.allclose(lp, manual, atol=1e-5)
        seq = sequence_logprobs(model, tokens, mask)
    assert torch.allclose(seq, torch.stack([manual[0, 1:].sum(), manual[1, :2].sum()]), atol=1e-5)


def test_generation_chunks_fit_the_kv_cache_budget(monkeypatch):
    """Prompts per generation chunk: 128 for small models, fewer where 128 full-context bf16 rows would
    pass $LLAMA_KV_CACHE_GB (70B: 80 layers x 8 KV heads x 128 x 4096 positions x K,V x 2 bytes = 1.25 GiB)."""
    from llama_model.configs import get_profile
    from llama_model.rlhf.policy import rows_per_chunk
    assert rows_per_chunk(get_profile("tiny").model) == 128
    assert rows_per_chunk(get_profile("llama2-70b").model) == 12          # 16 GiB / 1.25 GiB
    assert rows_per_chunk(get_profile("llama2-7b").model) == 8            # no GQA: 2 GiB a row
    monkeypatch.setenv("LLAMA_KV_CACHE_GB", "80")
    assert rows_per_chunk(get_profile("llama2-70b").model) == 64
    assert rows_per_chunk(get_profile("llama2-70b").model, most=3) == 3
