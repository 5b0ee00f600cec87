"""Hugging Face export / import: tokenizer ids (fast and slow) equal ours on text of every source, the chat
template equals our chat encoding, greedy generation and reward scores equal ours, import -> export is exact."""
import itertools
import json
import stat

import pytest
import torch

from assets.cli import main
from llama_model.chat_format import encode_dialogue
from llama_model.checkpoint import load_meta, save_meta
from llama_model.configs import ModelArgs
from llama_model.generation import generate
from llama_model.hf import export_hf, import_hf
from llama_model.model import Transformer
from llama_model.reward import RewardModel, load_rm, save_rm
from llama_model.tokenizer import Tokenizer
from pipelines.document import SOURCES
from pipelines.readers import read_source
from pipelines.samples import bundled_dumps_dir
from pipelines.tokenizer_training import train_tokenizer

transformers = pytest.importorskip("transformers")

EDGE_TEXTS = ["", " ", "  two  spaces\tand a tab\n\nnewlines ", "emoji 🦙, 中文, ﬁ ligature, é vs é",
              "\u2581literal meta symbol", " leading space", "digits 1234567 and 3.14e-10", "trailing\n"]
DIALOGUES = [  # (system, turns)
    (None, [{"role": "user", "content": "What is 2 + 3?"}]),
    ("Answer in French.", [{"role": "user", "content": " Name a colour. "}, {"role": "assistant", "content": "Rouge."},
                           {"role": "user", "content": "And another one?"}]),
    ("Be brief.", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                   {"role": "user", "content": "Say 7."}, {"role": "assistant", "content": " 7 "}]),
    (None, [{"role": "user", "content": "One\n\ntwo"}, {"role": "assistant", "content": "Three."}]),
]


def _first_docs(source: str, n: int) -> list:
    # The bundled folder of a source is one dump, or holds one folder per dump: take the first that reads.
    root = bundled_dumps_dir() / source
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        try:
            docs = list(itertools.islice(read_source(source, folder), n))
        except (OSError, ValueError, RuntimeError):   # a folder that is not a dump of this layout
            continue
        if docs:
            return docs
    return []


def source_texts(per_source: int = 6, chars: int = 3000) -> dict[str, list[str]]:
    """The first documents of each source's bundled dump, as the readers give them to the tokenizer."""
    return {s: [d.text[:chars] for d in _first_docs(s, per_source)] for s in SOURCES}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A data dir as the pipeline lays it out: tokenizer/, a causal model and a reward model."""
    root = tmp_path_factory.mktemp("data")
    texts = [t for v in source_texts(20, 20000).values() for t in v]
    model_bytes, _ = train_tokenizer(texts, vocab_size=1000)
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.model").write_bytes(model_bytes)
    args = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=1000, multiple_of=16,
                     norm_eps=1e-5, max_seq_len=128)
    torch.manual_seed(0)
    model = Transformer(args).eval()
    save_meta(model, args, root / "sft_model")
    rm = RewardModel.from_policy(model)
    torch.nn.init.normal_(rm.head.weight)
    save_rm(rm, args, root / "helpfulness_rm")
    return root


@pytest.fixture(scope="module")
def export(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "chat_hf"
    assert main(["convert", "--to", "hf", str(data / "sft_model"), str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def hf_tokenizers(export):
    fast = transformers.AutoTokenizer.from_pretrained(export)
    slow = transformers.AutoTokenizer.from_pretrained(export, use_fast=False)
    assert type(fast).__name__ == "LlamaTokenizerFast" and type(slow).__name__ == "LlamaTokenizer"
    return fast, slow


def test_export_folder_is_complete_and_readable_by_others(export):
    from common.destination import MARKER

    names = {p.name for p in export.iterdir()} - {MARKER}    # the marker of convert's output folder
    assert names == {"config.json", "model.safetensors", "generation_config.json", "tokenizer.model",
                     "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in export.iterdir())
    cfg = json.loads((export / "tokenizer_config.json").read_text())
    assert cfg["chat_template"] and cfg["bos_token"] == "<s>" and cfg["eos_token"] == "</s>"


def test_tokenizer_ids_equal_ours_on_every_source(data, hf_tokenizers):
    ours = Tokenizer(data / "tokenizer" / "tokenizer.model")
    texts = source_texts()
    assert set(texts) == set(SOURCES) and all(texts.values())
    for name, items in [*texts.items(), ("edge cases", EDGE_TEXTS)]:
        for text in items:
            ids = ours.encode(text, bos=True)
            for hf in hf_tokenizers:
                assert hf(text).input_ids == ids, (type(hf).__name__, name, text[:80])
            # the fast tokenizer decodes as we do; the slow one (legacy) drops a leading space
            assert hf_tokenizers[0].decode(ids, skip_special_tokens=True) == ours.decode(ids), (name, text[:80])


@pytest.mark.parametrize("system,turns", DIALOGUES)
def test_chat_template_equals_our_chat_encoding(data, hf_tokenizers, system, turns):
    ours = Tokenizer(data / "tokenizer" / "tokenizer.model")
    messages = ([{"role": "system", "content": system}] if system else []) + turns
    expected = encode_dialogue(ours, turns, system)[0]
    for hf in hf_tokenizers:
        ids = hf.apply_chat_template(messages, tokenize=True)
        assert list(ids) == expected, type(hf).__name__


def test_hf_greedy_generation_equals_ours(data, export, hf_tokenizers):
    model, _ = load_meta(data / "sft_model")
    hf = transformers.AutoModelForCausalLM.from_pretrained(export).eval()
    assert hf.generation_config.do_sample is False and hf.generation_config.eos_token_id == 2
    prompt = hf_tokenizers[0].apply_chat_template([{"role": "user", "content": "Tell me about llamas."}])
    ours = generate(model, [prompt], 24)[0]
    with torch.no_grad():
        out = hf.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=False)[0, len(prompt):].tolist()
    assert len(ours) > 0
    assert (out[: out.index(2)] if 2 in out else out) == ours


def test_reward_model_export_scores_equal_ours(data, tmp_path, hf_tokenizers):
    out = tmp_path / "rm_hf"
    assert main(["convert", "--to", "hf", str(data / "helpfulness_rm"), str(out)]) == 0
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert type(hf).__name__ == "LlamaForSequenceClassification" and hf.config.num_labels == 1
    tok = transformers.AutoTokenizer.from_pretrained(out)
    ours = Tokenizer(data / "tokenizer" / "tokenizer.model")
    seqs = [encode_dialogue(ours, t, s)[0] for s, t in DIALOGUES if t[-1]["role"] == "assistant"]
    rm = load_rm(data / "helpfulness_rm")
    batch = tok.pad({"input_ids": seqs}, return_tensors="pt")          # right-padded with <unk>
    with torch.no_grad():
        theirs = hf(**batch).logits.squeeze(-1)
    assert torch.allclose(theirs, rm.score(seqs), atol=1e-4)


def test_reward_model_as_causal_lm_is_an_error(data, tmp_path, capsys):
    assert main(["convert", "--to", "hf", "--model-class", "causal-lm", str(data / "helpfulness_rm"),
                 str(tmp_path / "x")]) == 1
    assert "is a reward model" in capsys.readouterr().err       # one `error: ...` line, no traceback
    assert not (tmp_path / "x").exists()


def test_export_without_a_tokenizer_is_refused(data, tmp_path, capsys, monkeypatch):
    args = ModelArgs(dim=16, n_layers=1, n_heads=2, vocab_size=64, multiple_of=16)
    save_meta(Transformer(args), args, tmp_path / "lonely" / "model")
    monkeypatch.setenv("LLAMA_DATA_DIR", str(data))      # its tokenizer/ is not this checkpoint's
    assert main(["convert", "--to", "hf", str(tmp_path / "lonely" / "model"), str(tmp_path / "out")]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_tokenizer_of_another_size(data, tmp_path, capsys):
    args = ModelArgs(dim=16, n_layers=1, n_heads=2, vocab_size=64, multiple_of=16)
    save_meta(Transformer(args), args, tmp_path / "small")
    tok = data / "tokenizer" / "tokenizer.model"                      # 1000 pieces
    assert main(["convert", "--to", "hf", "--tokenizer", str(tok), str(tmp_path / "small"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1000 pieces" in err and "64 embedding rows" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_convert_keeps_what_it_did_not_write(data, tmp_path, capsys):
    src = data / "sft_model"
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    # DST = SRC, and a destination holding the source, are refused; the checkpoint is untouched.
    assert main(["convert", "--to", "hf", str(src), str(src)]) == 1
    assert "overlaps the source" in capsys.readouterr().err
    assert main(["convert", "--to", "hf", "--force", str(src), str(data)]) == 1
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
    # A folder with a user's file: refused, then with --force written beside it.
    dst = tmp_path / "dst"
    (dst / "work").mkdir(parents=True)
    (dst / "work" / "thesis.tex").write_text("my thesis")
    assert main(["convert", "--to", "hf", str(src), str(dst)]) == 1
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in dst.iterdir()) == ["work"]
    assert main(["convert", "--to", "hf", "--force", str(src), str(dst)]) == 0
    assert (dst / "work" / "thesis.tex").read_text() == "my thesis" and (dst / "model.safetensors").is_file()
    # Its own earlier output is rewritten without --force; the user's file still survives.
    assert main(["convert", "--to", "hf", str(src), str(dst)]) == 0
    assert (dst / "work" / "thesis.tex").read_text() == "my thesis"
    # --from hf into a folder with a user's file: the same rules.
    ours = tmp_path / "ours"
    (ours / "work").mkdir(parents=True)
    (ours / "work" / "thesis.tex").write_text("mine")
    assert main(["convert", "--from", "hf", str(dst), str(ours)]) == 1
    assert main(["convert", "--from", "hf", "--force", str(dst), str(ours)]) == 0
    assert (ours / "work" / "thesis.tex").read_text() == "mine" and (ours / "consolidated.00.pth").is_file()
    # A file of the user's under a name the export writes is never replaced, even with --force.
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "config.json").write_text("{}")
    assert main(["convert", "--to", "hf", "--force", str(src), str(clash)]) == 1
    assert "config.json exists and was not written" in capsys.readouterr().err
    assert (clash / "config.json").read_text() == "{}" and sorted(p.name for p in clash.iterdir()) == ["config.json"]


def _tensors(path):
    from safetensors.torch import load_file
    return load_file(str(path))


@pytest.mark.parametrize("source", ["sft_model", "helpfulness_rm"])
def test_import_export_round_trip_is_lossless(data, tmp_path, source):
    first = export_hf(data / source, tmp_path / "hf1", tokenizer=data / "tokenizer" / "tokenizer.model")
    assert main(["convert", "--from", "hf", str(first), str(tmp_path / "ours")]) == 0
    info = json.loads((tmp_path / "ours" / "hf_import.json").read_text())
    assert info["tokenizer"] and info["params"]["vocab_size"] == 1000
    second = export_hf(tmp_path / "ours", tmp_path / "hf2", tokenizer=tmp_path / "ours" / "tokenizer.model")
    a, b = _tensors(first / "model.safetensors"), _tensors(second / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_import_of_a_transformers_checkpoint(data, tmp_path):
    cfg = transformers.LlamaConfig(vocab_size=1000, hidden_size=32, intermediate_size=96, num_hidden_layers=1,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                   tie_word_embeddings=True)
    torch.manual_seed(5)
    hf = transformers.LlamaForCausalLM(cfg).eval()
    hf.save_pretrained(tmp_path / "hf", max_shard_size="100KB")          # sharded, with an index
    assert (tmp_path / "hf" / "model.safetensors.index.json").is_file()
    info = import_hf(tmp_path / "hf", tmp_path / "ours")
    assert not info["tokenizer"]
    model, _ = load_meta(tmp_path / "ours")
    x = torch.randint(0, 1000, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (model(x) - hf(x).logits).abs().max() < 1e-4


def test_reward_head_bias_cannot_be_exported(data, tmp_path):
    rm = load_rm(data / "helpfulness_rm")
    with torch.no_grad():
        rm.head.bias.fill_(0.5)
    args = load_meta(data / "helpfulness_rm")[1]
    save_rm(rm, args, tmp_path / "rm")
    with pytest.raises(ValueError, match="bias 0.5"):
        export_hf(tmp_path / "rm", tmp_path / "out")


def test_export_of_a_hf_reward_model_keeps_its_head(data, tmp_path):
    first = export_hf(data / "helpfulness_rm", tmp_path / "hf1")
    again = export_hf(first, tmp_path / "hf2")
    a, b = _tensors(first / "model.safetensors"), _tensors(again / "model.safetensors")
    assert "score.weight" in b and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="is a reward model"):
        export_hf(first, tmp_path / "hf3", reward=False)


def test_import_refuses_what_our_model_cannot_represent(tmp_path):
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=96, num_hidden_layers=1,
                                   num_attention_heads=4, rope_scaling={"rope_type": "linear", "factor": 2.0})
    transformers.LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match="rope_scaling"):
        import_hf(tmp_path / "hf", tmp_path / "ours")
    assert not (tmp_path / "ours").exists()
