"""Interoperation with the Hugging Face data stack (issue 15): `datasets` folders saved with save_to_disk are
read as they are, and what we write (preference_data, SFT sets) loads with `datasets.load_dataset("json")` into
the row formats trl documents, which trl's own data utilities turn into prompt / chosen / rejected text."""
import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")          # nothing here may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
datasets = pytest.importorskip("datasets")
trl_data = pytest.importorskip("trl.data_utils")

from llama_model import align_data as ad  # noqa: E402
from llama_model.rlhf import stages  # noqa: E402

U, A = "user", "assistant"


def msg(role, content):
    return {"role": role, "content": content}


def _trl_rows(n):
    return [{"prompt": [msg("system", "Be brief.")] * (i % 2) + [msg(U, f"q{i}")], "chosen": [msg(A, f"good {i}")],
             "rejected": [msg(A, f"bad {i}")], "rating": i % 4} for i in range(n)]


def _tiny_chat_tokenizer():
    """A word-level tokenizer with a chat template: enough for trl's apply_chat_template (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    t = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]")
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    return tok


def test_save_to_disk_folder_sharded_and_shuffled(tmp_path):
    rows = _trl_rows(30)
    ds = datasets.Dataset.from_list(rows).shuffle(seed=0).select(range(20))      # an indices mapping
    ds.save_to_disk(str(tmp_path / "prefs"), num_shards=3)
    got = ad.load_preferences(tmp_path / "prefs")
    assert [p["chosen"] for p in got] == [r["chosen"][0]["content"] for r in ds]
    first = ds[0]
    assert got[0]["prompt"][-1] == first["prompt"][-1] and got[0]["rating"] == first["rating"]
    assert ("system" in got[0]) == (first["prompt"][0]["role"] == "system")

    bad = rows[:5] + [rows[5] | {"chosen": [msg(A, "")]}] + rows[6:10]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(bad), "test": datasets.Dataset.from_list(rows[:2])}
                         ).save_to_disk(str(tmp_path / "dd"), num_shards={"train": 2, "test": 1})
    with pytest.raises(ad.DataError, match=r"dd/train: row 5 \(in data-00001-of-00002.arrow\): 'chosen'\[0\] "
                                           r"\(assistant\) content is empty"):
        ad.load_preferences(tmp_path / "dd")
    datasets.DatasetDict({"a": datasets.Dataset.from_list(rows[:2]), "b": datasets.Dataset.from_list(rows[:2])}
                         ).save_to_disk(str(tmp_path / "ab"))
    with pytest.raises(ad.DataError, match=r"ab: a DatasetDict with splits \['a', 'b'\] and no 'train': give the split's folder"):
        ad.load_preferences(tmp_path / "ab")
    assert len(ad.load_preferences(tmp_path / "ab" / "b")) == 2
    state = tmp_path / "ab" / "a" / "state.json"         # a state file naming a file outside its folder
    state.write_text(json.dumps(json.loads(state.read_text()) | {"_data_files": [{"filename": "../b/data-00000-of-00001.arrow"}]}))
    with pytest.raises(ad.DataError, match=r"state.json names '../b/data-00000-of-00001.arrow', which is not a file in the folder"):
        ad.load_preferences(tmp_path / "ab" / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ad.DataError, match=r"empty: not a datasets folder written by save_to_disk"):
        ad.load_preferences(tmp_path / "empty")


def test_hh_and_ultrafeedback_as_saved_datasets(tmp_path):
    hh = [{"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes {i}", "rejected": f"\n\nHuman: q{i}\n\nAssistant: no {i}"}
          for i in range(4)]
    datasets.Dataset.from_list(hh).save_to_disk(str(tmp_path / "hh"))
    assert [p["prompt"] for p in ad.load_preferences(tmp_path / "hh")] == [[msg(U, f"q{i}")] for i in range(4)]
    uf = [{"prompt": f"q{i}", "prompt_id": str(i), "chosen": [msg(U, f"q{i}"), msg(A, "a")],
           "rejected": [msg(U, f"q{i}"), msg(A, "b")], "messages": [msg(U, f"q{i}"), msg(A, "a")],
           "score_chosen": 9.0, "score_rejected": 2.0} for i in range(3)]
    datasets.DatasetDict({"train_prefs": datasets.Dataset.from_list(uf)}).save_to_disk(str(tmp_path / "uf"))
    assert [(p["prompt"], p["chosen"]) for p in ad.load_preferences(tmp_path / "uf")] == [([msg(U, f"q{i}")], "a") for i in range(3)]
    assert ad.load_sft(tmp_path / "uf")[0] == {"turns": [msg(U, "q0"), msg(A, "a")]}   # its messages column as SFT


def test_preference_data_output_reads_as_trl_preference_rows(tmp_path):
    """What preference_data writes is trl's conversational preference format, plus our rating and safety."""
    pairs = ad.preference_pairs(60, seed=3)
    m = stages.write_preferences("2026-11-15", tmp_path / "week", source_path=None)
    out = tmp_path / "week" / stages.PREFERENCES_FILE
    assert m["pairs"] == 800 and out.read_text().startswith('{"chosen": [{"content": ')
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == 800 and {"prompt", "chosen", "rejected", "rating", "safety"} <= set(ds.column_names)
    assert ds.features["rating"].dtype == "int64" and ds.features["safety"]["unsafe_prompt"].dtype == "bool"
    tok = _tiny_chat_tokenizer()
    for row, ours in zip(ds, ad.load_preferences(out)):
        assert trl_data.is_conversational(row)
        text = trl_data.apply_chat_template({k: row[k] for k in ("prompt", "chosen", "rejected")}, tok)
        assert (text["chosen"], text["rejected"]) == (ours["chosen"], ours["rejected"])
        sys_ = f"<|system|>{ours['system']}" if ours.get("system") else ""
        turns = "".join(f"<|{t['role']}|>{t['content']}" for t in ours["prompt"])
        assert text["prompt"] == sys_ + turns + "<|assistant|>"
    # the same records back, whichever way the file travels: JSONL, Parquet, save_to_disk
    f = tmp_path / "ours.jsonl"
    f.write_text(ad.preferences_to_jsonl(pairs), encoding="utf-8")
    ds = datasets.load_dataset("json", data_files=str(f), split="train", cache_dir=str(tmp_path / "cache"))
    ds.to_parquet(str(tmp_path / "ours.parquet"))
    ds.save_to_disk(str(tmp_path / "ours_saved"))
    for path in (f, tmp_path / "ours.parquet", tmp_path / "ours_saved"):
        assert ad.load_preferences(path) == pairs


def test_sft_sets_read_as_trl_messages(tmp_path):
    dialogues = ad.sft_dialogues(40, seed=2)
    f = tmp_path / "sft.jsonl"
    f.write_text(ad.sft_to_jsonl(dialogues), encoding="utf-8")
    ds = datasets.load_dataset("json", data_files=str(f), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == ["messages"] and all(trl_data.is_conversational(r) for r in ds)
    tok = _tiny_chat_tokenizer()
    d = next(d for d in dialogues if d.get("system"))
    row = ds[dialogues.index(d)]
    assert trl_data.apply_chat_template(row, tok)["text"] == f"<|system|>{d['system']}" + "".join(
        f"<|{t['role']}|>{t['content']}" for t in d["turns"])
    assert ad.load_sft(f) == dialogues

    # each RLHF version's best samples (its SFT set) are trl message rows with the key and rewards beside
    best = [{"key": "k1", "system": "Be brief.", "turns": [msg(U, "q")], "unsafe": False, "answer": "a",
             "reward": 0.5, "mean_reward": 0.25},
            {"key": "k2", "system": None, "turns": [msg(U, "x")], "unsafe": True, "answer": "", "reward": -1.0,
             "mean_reward": -2.0}]
    f = tmp_path / stages.SAMPLES_FILE
    f.write_text(ad.samples_to_jsonl(best), encoding="utf-8")
    assert ad.read_samples(f) == best
    ds = datasets.load_dataset("json", data_files=str(f), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds[0]["messages"] == [msg("system", "Be brief."), msg(U, "q"), msg(A, "a")] and ds[1]["reward"] == -1.0
    old = {k: best[0][k] for k in best[0]}                     # a file written before samples were trl rows
    f.write_text(json.dumps(old) + "\n")
    assert ad.read_samples(f) == [old]
