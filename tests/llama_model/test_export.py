"""Export from a DCP checkpoint, tensor by tensor, in Meta's single-file and model-parallel layouts."""
import dataclasses

import pytest
import torch

from llama_model.checkpoint import load_meta, save_train_state
from llama_model.configs import get_profile
from llama_model.export import export_from_dcp, merge_model_parallel, split_dim
from llama_model.model import Transformer


def test_split_dims_follow_the_reference_parallel_layers():
    assert split_dim("layers.3.attention.wq.weight") == 0 and split_dim("output.weight") == 0
    assert split_dim("layers.3.attention.wo.weight") == 1 and split_dim("layers.0.feed_forward.w2.weight") == 1
    assert split_dim("tok_embeddings.weight") == 1 and split_dim("layers.1.ffn_norm.weight") is None


@pytest.mark.parametrize("files", [1, 2])
def test_export_from_dcp_loads_back_the_same_weights(tmp_path, files):
    args = dataclasses.replace(get_profile("tiny").model, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64,
                               multiple_of=16)
    torch.manual_seed(0)
    model = Transformer(args)
    opt = torch.optim.AdamW(model.parameters())
    save_train_state(tmp_path / "ckpt", model, opt, step=1)
    written = export_from_dcp(tmp_path / "ckpt", tmp_path / "out", args, files=files)
    assert [p.name for p in written] == [f"consolidated.{i:02d}.pth" for i in range(files)]
    parts = [torch.load(p, weights_only=True) for p in written]
    if files == 2:       # each file holds half of a split parameter, all of a norm
        assert parts[0]["layers.0.attention.wq.weight"].shape == (16, 32)
        assert parts[1]["tok_embeddings.weight"].shape == (64, 16)
        assert torch.equal(parts[0]["norm.weight"], parts[1]["norm.weight"])
    loaded, loaded_args = load_meta(tmp_path / "out")
    assert loaded_args == args
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert merge_model_parallel(parts).keys() == model.state_dict().keys()
