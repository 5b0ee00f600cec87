"""The transformer: parameter counts of the paper profiles, reference key names, RoPE, GQA, causality."""
import math

import pytest
import torch

from llama_model.configs import ModelArgs, get_profile
from llama_model.model import Transformer, apply_rotary_emb, enable_activation_checkpointing, precompute_freqs_cis

TINY = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, multiple_of=16, max_seq_len=32)

# LLaMA-1 Table 2 and the Llama-2-70B checkpoint (8 KV heads): 68.98B parameters.
PAPER = {"llama-7b": 6.7e9, "llama-13b": 13.0e9, "llama-33b": 32.5e9, "llama-65b": 65.2e9,
         "llama2-7b": 6.7e9, "llama2-13b": 13.0e9, "llama2-70b": 68.98e9}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_parameter_counts_within_one_percent(name):
    n = get_profile(name).model.num_params()
    assert abs(n - PAPER[name]) / PAPER[name] < 0.01, (name, n)


def test_paper_ffn_widths():
    widths = {n: get_profile(n).model.hidden_dim for n in ("llama-7b", "llama-13b", "llama-33b", "llama-65b", "llama2-70b")}
    assert widths == {"llama-7b": 11008, "llama-13b": 13824, "llama-33b": 17920, "llama-65b": 22016, "llama2-70b": 28672}


@pytest.mark.parametrize("name", ["tiny", "small", "llama-7b", "llama2-70b"])
def test_num_params_is_the_exact_module_count(name):
    args = get_profile(name).model
    with torch.device("meta"):           # no memory, no init: just shapes
        model = Transformer(args)
    assert model.num_params() == args.num_params()


def test_reference_key_names_and_gqa_shapes():
    sd = Transformer(TINY).state_dict()
    expected = {"tok_embeddings.weight", "norm.weight", "output.weight"}
    for i in range(TINY.n_layers):
        expected |= {f"layers.{i}.attention.{w}.weight" for w in ("wq", "wk", "wv", "wo")}
        expected |= {f"layers.{i}.feed_forward.{w}.weight" for w in ("w1", "w2", "w3")}
        expected |= {f"layers.{i}.attention_norm.weight", f"layers.{i}.ffn_norm.weight"}
    assert set(sd) == expected
    assert sd["layers.0.attention.wk.weight"].shape == (TINY.kv_heads * TINY.head_dim, TINY.dim) == (16, 32)
    assert sd["layers.0.feed_forward.w1.weight"].shape == (TINY.hidden_dim, TINY.dim)


def test_rope_rotates_adjacent_pairs():
    hd, T = 8, 5
    f = precompute_freqs_cis(hd, T)
    x = torch.randn(1, T, 1, hd)
    q, _ = apply_rotary_emb(x, x, f)
    for m in range(T):
        for k in range(hd // 2):
            ang = m * 10000.0 ** (-2 * k / hd)
            a, b = x[0, m, 0, 2 * k], x[0, m, 0, 2 * k + 1]
            assert torch.allclose(q[0, m, 0, 2 * k], a * math.cos(ang) - b * math.sin(ang), atol=1e-5)
            assert torch.allclose(q[0, m, 0, 2 * k + 1], a * math.sin(ang) + b * math.cos(ang), atol=1e-5)


def test_forward_shapes_dtype_and_causality():
    torch.manual_seed(0)
    model = Transformer(TINY).eval()
    x = torch.randint(0, 64, (2, 10))
    logits = model(x)
    assert logits.shape == (2, 10, 64) and logits.dtype == torch.float32
    assert model.forward_hidden(x).shape == (2, 10, 32)
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 64           # changing the future must not change the past
    assert torch.allclose(model(y)[:, :6], logits[:, :6], atol=1e-6)
    assert not torch.allclose(model(y)[:, 6:], logits[:, 6:])


def test_kv_cache_chunks_equal_full_forward():
    torch.manual_seed(0)
    model = Transformer(TINY).eval()
    x = torch.randint(0, 64, (2, 12))
    cache = model.new_kv_cache(2, 16)
    parts = [model(x[:, :5], 0, cache), model(x[:, 5:9], 5, cache), model(x[:, 9:10], 9, cache)]
    assert torch.allclose(torch.cat(parts, 1), model(x)[:, :10], atol=1e-5)


@pytest.mark.parametrize("mode", ["full", "selective"])
def test_activation_checkpointing_same_gradients(mode):
    torch.manual_seed(0)
    a = Transformer(TINY)
    b = Transformer(TINY)
    b.load_state_dict(a.state_dict())
    enable_activation_checkpointing(b, mode)
    x = torch.randint(0, 64, (2, 8))
    a(x).logsumexp(-1).mean().backward()
    b(x).logsumexp(-1).mean().backward()
    assert list(dict(b.named_parameters())) == list(dict(a.named_parameters()))
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6), n


def test_seeded_init_is_reproducible():
    torch.manual_seed(3)
    a = Transformer(TINY).state_dict()
    torch.manual_seed(3)
    b = Transformer(TINY).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_autocast_on_gpu_matches_fp32():
    torch.manual_seed(0)
    model = Transformer(TINY).cuda()
    x = torch.randint(0, 64, (2, 16), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low = model(x)
    assert low.dtype == torch.float32
    assert (low - model(x)).abs().max() < 5e-2


@pytest.mark.parametrize("name", sorted(PAPER))
def test_config_command_prints_the_paper_count(name, capsys):
    from assets.cli import main

    assert main(["config", name]) == 0
    first = capsys.readouterr().out.splitlines()[0]       # "profile X: 6,738,415,616 parameters (6.74B)"
    n = int(first.split(": ")[1].split(" ")[0].replace(",", ""))
    assert abs(n - PAPER[name]) / PAPER[name] < 0.01
