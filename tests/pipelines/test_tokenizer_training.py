"""Tokenizer training (SPEC §2): options, determinism, round trip, digits, byte fallback, empty sources."""
import pytest
import sentencepiece as spm
from tokens_corpus import write_corpus

from llama_model.tokenizer import Tokenizer
from pipelines import tokenizer_training as tt
from pipelines.document import SOURCES

VOCAB = 512


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = write_corpus(tmp_path_factory.mktemp("tok"), {s: 80 if s == "commoncrawl" else 24 for s in SOURCES}, scale=2)
    return {s: root / s for s in SOURCES}


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tokenizer.model"
    report = tt.build_tokenizer(corpus, path, vocab_size=VOCAB, max_chars=200_000, val_fraction=0.1)
    return path, report


def test_special_ids_and_options(model):
    path, report = model
    sp = spm.SentencePieceProcessor(model_file=str(path))   # loads in plain sentencepiece
    assert sp.get_piece_size() == VOCAB == report["vocab_size"]
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert sp.id_to_piece(0) == "<unk>" and sp.id_to_piece(1) == "<s>" and sp.id_to_piece(2) == "</s>"
    assert sum(sp.is_byte(i) for i in range(VOCAB)) == 256
    assert all(v is not None and v > 1.0 for v in report["chars_per_token"].values())


def test_training_is_deterministic(corpus):
    sample = tt.sample_texts(corpus, 60_000, 0.1)
    a, _ = tt.train_tokenizer(sample.texts, 400)
    b, _ = tt.train_tokenizer(tt.sample_texts(corpus, 60_000, 0.1).texts, 400)
    assert a == b


def test_sample_is_mixture_weighted_and_excludes_validation(corpus):
    sample = tt.sample_texts(corpus, 100_000, 0.1)
    assert 95_000 <= sum(sample.chars.values()) <= 110_000
    assert 0.6 < sample.chars["commoncrawl"] / 100_000 < 0.72         # 67% of the sample
    assert sample.chars["c4"] > sample.chars["wikipedia"] > 0
    held_out = set(t for s in SOURCES for t in tt.iter_val_texts(corpus[s], 0.1))
    assert held_out and not held_out & set(sample.texts)


def test_round_trip_held_out_and_every_script(model, corpus):
    path, _ = model
    r = tt.held_out_round_trip(tt.load(path), corpus, 0.1)
    assert r["passed"], r
    assert all(v["checked"] > 0 for v in r["per_source"].values())
    assert {"LATIN", "CYRILLIC"} <= set(r["scripts_seen"])


def test_digits_are_split(model):
    r = tt.digits_split(tt.load(model[0]))
    assert r["passed"] and r["probe_digit_pieces"] == r["probe_digits"]


def test_document_of_only_unknown_characters_falls_back_to_bytes(model):
    sp = tt.load(model[0])
    r = tt.byte_fallback(sp)
    assert r == {"passed": True, "unk": 0, "byte_pieces": r["utf8_bytes"], "utf8_bytes": 19, "round_trip": True}
    ids = sp.encode("\U00013000" * 3)
    assert 0 not in ids and sp.decode(ids) == "\U00013000" * 3


def test_meta_symbol_is_reported_apart(model):
    r = tt.round_trip(tt.load(model[0]), ["plain", "has \u2581 inside"])
    assert (r["checked"], r["failed"], r["skipped_meta_symbol"]) == (1, 0, 1)


def test_empty_and_missing_sources(tmp_path):
    root = write_corpus(tmp_path, {"commoncrawl": 15, "c4": 0})        # c4 empty table, others no folder
    sample = tt.sample_texts({s: root / s for s in SOURCES}, 50_000, 0.1)
    assert sample.chars["c4"] == 0 and sample.chars["commoncrawl"] > 0
    assert any(n.startswith("github:") for n in sample.notes) and any(n.startswith("c4:") for n in sample.notes)
    with pytest.raises(ValueError, match="every source of quality_filtered is empty"):
        tt.train_tokenizer([], 300)


def test_tokenizer_wrapper(model):
    tok = Tokenizer(model[0])
    assert (tok.n_words, tok.bos_id, tok.eos_id, tok.pad_id) == (VOCAB, 1, 2, -1)
    ids = tok.encode("Hello 42\n\tworld", bos=True, eos=True)
    assert ids[0] == 1 and ids[-1] == 2
    assert tok.decode(ids) == "Hello 42\n\tworld"
    assert tok.encode_batch(["a b"], bos=False) == [tok.encode("a b", bos=False)]
    with pytest.raises(FileNotFoundError, match="materialize the tokenizer"):
        Tokenizer("/nonexistent/tokenizer.model")
