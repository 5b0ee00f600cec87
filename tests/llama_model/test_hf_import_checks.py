"""convert --from hf of a hostile folder: the config is checked against the weights present before any
tensor is read or allocated, index files may only name files inside the folder, every refusal is one line."""
import json
import shutil

import pytest
import torch

from assets.cli import main
from llama_model.checkpoint import save_meta
from llama_model.configs import ModelArgs
from llama_model.hf import export_hf, import_hf
from llama_model.model import Transformer

ARGS = ModelArgs(dim=16, n_layers=2, n_heads=2, n_kv_heads=1, vocab_size=64, multiple_of=16, max_seq_len=32)


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hfsrc")
    torch.manual_seed(0)
    save_meta(Transformer(ARGS), ARGS, root / "meta")
    return export_hf(root / "meta", root / "hf")


def _copy(hf_folder, tmp_path, **changes):
    d = tmp_path / "src"
    shutil.copytree(hf_folder, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _refused(d, tmp_path, capsys) -> str:
    assert main(["convert", "--from", "hf", str(d), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "out").exists()
    return err


def test_a_million_layers_backed_by_two_is_refused_before_allocating(hf_folder, tmp_path, capsys):
    d = _copy(hf_folder, tmp_path, num_hidden_layers=1_000_000)
    err = _refused(d, tmp_path, capsys)
    assert "num_hidden_layers is 1000000 but the weights hold layers 2 (0..1)" in err


@pytest.mark.parametrize("change, message", [
    ({"num_attention_heads": 0}, "num_attention_heads must be a whole number from 1"),
    ({"hidden_size": "16"}, "hidden_size must be a whole number from 1 to 1048576, got '16'"),
    ({"intermediate_size": -5}, "intermediate_size must be a whole number"),
    ({"vocab_size": 10**12}, "vocab_size must be a whole number"),
    ({"num_key_value_heads": 3}, "is not a multiple of num_key_value_heads 3"),
    ({"hidden_size": 18}, "hidden_size 18 is not num_attention_heads 2 x an even head size"),
    ({"vocab_size": 65}, "vocab_size x hidden_size is 65 x 16 but model.embed_tokens.weight is [64, 16]"),
    ({"intermediate_size": 32}, "layers.0.mlp.down_proj.weight is [16, 48] in the weights but the config makes it [16, 32]"),
    ({"rms_norm_eps": "tiny"}, "rms_norm_eps must be a positive number"),
    ({"max_position_embeddings": 0}, "max_position_embeddings must be a whole number"),
])
def test_absurd_sizes_are_one_line_errors(hf_folder, tmp_path, capsys, change, message):
    err = _refused(_copy(hf_folder, tmp_path, **change), tmp_path, capsys)
    assert message in err and "rerun with --debug" in err


def test_an_index_naming_a_file_outside_the_folder_is_refused(hf_folder, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    d = _copy(hf_folder, tmp_path)
    (d / "model.safetensors").rename(outside / "stolen.safetensors")
    keys = json.loads((d / "config.json").read_text())                 # any key list will do
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"model.embed_tokens.weight": "../outside/stolen.safetensors"}, "metadata": keys and {}}))
    err = _refused(d, tmp_path, capsys)
    assert "weight file '../outside/stolen.safetensors' is not a file name inside" in err


def test_a_sound_folder_still_imports(hf_folder, tmp_path):
    info = import_hf(hf_folder, tmp_path / "ours")
    assert info["params"]["n_layers"] == 2 and (tmp_path / "ours" / "consolidated.00.pth").is_file()


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUE = st.none() | st.booleans() | st.integers(-2, 10**9) | st.sampled_from([0, 1, 2, 16, 32, 48, 64, 2**40]) \
    | st.floats(allow_nan=True) | st.text(max_size=8) | st.lists(st.integers(0, 64), max_size=3) \
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
_KEYS = st.sampled_from(["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                         "num_key_value_heads", "vocab_size", "head_dim", "rms_norm_eps", "rope_theta",
                         "max_position_embeddings", "architectures", "model_type", "hidden_act", "rope_scaling"])
_INDEX = st.none() | st.dictionaries(st.text(max_size=30), st.text(max_size=30) | _VALUE, max_size=3).map(
    lambda m: {"weight_map": m}) | _VALUE


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(changes=st.dictionaries(_KEYS, _VALUE, min_size=1, max_size=3), index=_INDEX, raw=st.booleans())
def test_fuzzed_config_and_index_import_or_fail_cleanly(hf_folder, tmp_path_factory, changes, index, raw):
    tmp = tmp_path_factory.mktemp("fuzz")
    d = tmp / "src"
    shutil.copytree(hf_folder, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg) if not raw else json.dumps(changes)[:-1])
    if index is not None:
        (d / "model.safetensors.index.json").write_text(json.dumps(index))
    try:
        import_hf(d, tmp / "out")
    except (ValueError, FileNotFoundError) as e:      # what the CLI prints as one line without a type name
        assert "\n" not in str(e) and not (tmp / "out").exists()
