"""Checkpoint layouts: Hugging Face LlamaForCausalLM interop both ways (q/k permutation), Meta round trip."""
import json

import pytest
import torch

from llama_model.checkpoint import load_meta, save_meta
from llama_model.configs import ModelArgs, get_profile
from llama_model.hf import (
    _from_hf_rows,
    _to_hf_rows,
    args_from_hf_config,
    convert,
    load_hf,
    save_hf,
)
from llama_model.model import Transformer

transformers = pytest.importorskip("transformers")

ARGS = ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=128, multiple_of=16,
                 norm_eps=1e-5, max_seq_len=64)


def tiny_hf():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=ARGS.hidden_dim,
                                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=64, rms_norm_eps=1e-5, tie_word_embeddings=False)
    return transformers.LlamaForCausalLM(cfg).eval()


TOKENS = torch.randint(0, 128, (2, 24), generator=torch.Generator().manual_seed(1))


def test_hf_model_loads_into_ours_with_the_same_logits(tmp_path):
    hf = tiny_hf()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    model, args = load_hf(tmp_path)
    assert args == ARGS
    with torch.no_grad():
        assert (model(TOKENS) - hf(TOKENS).logits).abs().max() < 1e-4


def test_our_export_loads_in_transformers_with_the_same_logits(tmp_path):
    torch.manual_seed(2)
    model = Transformer(ARGS).eval()
    save_hf(model, ARGS, tmp_path)
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert (model(TOKENS) - hf(TOKENS).logits).abs().max() < 1e-4


def test_meta_round_trip_is_exact(tmp_path):
    torch.manual_seed(3)
    model = Transformer(ARGS)
    save_meta(model, ARGS, tmp_path)
    assert json.loads((tmp_path / "params.json").read_text())["n_kv_heads"] == 2
    loaded, args = load_meta(tmp_path)
    assert args == ARGS
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_convert_meta_to_hf_and_back(tmp_path):
    torch.manual_seed(4)
    model = Transformer(ARGS).eval()
    save_meta(model, ARGS, tmp_path / "meta")
    convert(tmp_path / "meta", tmp_path / "hf", to="hf")
    convert(tmp_path / "hf", tmp_path / "meta2", to="meta")
    back, _ = load_meta(tmp_path / "meta2")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))


def test_convert_of_a_missing_folder_names_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a Meta"):
        convert(tmp_path / "nothing", tmp_path / "x", to="hf")


def test_qk_permutation_is_invertible():
    w = torch.arange(8 * 4 * 3, dtype=torch.float32).view(8 * 4, 3)
    assert torch.equal(_from_hf_rows(_to_hf_rows(w, 4), 4), w)
    assert not torch.equal(_to_hf_rows(w, 4), w)


def test_hf_config_of_llama2_70b_round_trips():
    from llama_model.hf import hf_config

    args = get_profile("llama2-70b").model
    back = args_from_hf_config(hf_config(args))
    assert back.hidden_dim == 28672 and back.kv_heads == 8 and back.num_params() == args.num_params()


def test_load_meta_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="params.json"):
        load_meta(tmp_path)
