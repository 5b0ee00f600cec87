"""LLAMA_BASE_MODEL: base_model becomes an existing checkpoint (HF or Meta layout) instead of being trained."""
import json

import dagster as dg
import pytest
import torch

from assets.pretrain import PretrainConfig, base_model
from llama_model.checkpoint import load_meta, save_meta
from llama_model.configs import ModelArgs
from llama_model.hf import save_hf
from llama_model.model import Transformer
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

ARGS = ModelArgs(dim=32, n_layers=1, n_heads=2, vocab_size=64, multiple_of=16, max_seq_len=32)


def materialize(data_dir, config=None):
    return dg.materialize(
        [base_model], instance=dg.DagsterInstance.ephemeral(),
        resources={"storage": ArtifactStorage(root=str(data_dir)), "profile": ProfileResource(name="tiny"),
                   "launcher": TrainingLauncher(mode="subprocess")},
        run_config=dg.RunConfig({"base_model": config or PretrainConfig()}))


@pytest.mark.parametrize("layout", ["hf", "meta"])
def test_base_model_from_an_existing_checkpoint(data_dir, tmp_path, monkeypatch, layout):
    torch.manual_seed(0)
    model = Transformer(ARGS).eval()
    src = tmp_path / "pretrained"
    (save_hf if layout == "hf" else save_meta)(model, ARGS, src)
    monkeypatch.setenv("LLAMA_BASE_MODEL", str(src))
    result = materialize(data_dir)          # no token_shards: nothing is trained
    assert result.success
    loaded, args = load_meta(data_dir / "base_model")
    assert (args.dim, args.n_layers, args.kv_heads, args.hidden_dim, args.vocab_size) == (32, 1, 2, ARGS.hidden_dim, 64)
    x = torch.randint(0, 64, (1, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (loaded(x) - model(x)).abs().max() < 1e-5
    md = result.asset_materializations_for_node("base_model")[0].metadata
    assert md["imported_from"].value == str(src.resolve())
    assert json.loads((data_dir / "base_model" / "hf_import.json").read_text())["params"]["dim"] == 32
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == ["loss_decreases"] and "imported" in checks[0].description


def test_base_model_config_field_and_vocabulary_check(data_dir, tmp_path):
    import sentencepiece as spm
    save_hf(Transformer(ARGS), ARGS, tmp_path / "small_vocab")
    # a pipeline tokenizer with more pieces than the checkpoint has embedding rows
    (tmp_path / "c.txt").write_text("\n".join(f"word{i} other{i * 7} thing{i % 13}" for i in range(300)))
    spm.SentencePieceTrainer.train(input=str(tmp_path / "c.txt"), model_prefix=str(tmp_path / "tok"), vocab_size=400, hard_vocab_limit=False,
                                   model_type="bpe", byte_fallback=True, minloglevel=2)
    (data_dir / "tokenizer").mkdir(parents=True)
    (data_dir / "tokenizer" / "tokenizer.model").write_bytes((tmp_path / "tok.model").read_bytes())
    with pytest.raises(ValueError, match="64 embedding rows"):
        materialize(data_dir, PretrainConfig(base_model=str(tmp_path / "small_vocab")))
    assert not (data_dir / "base_model").exists()
