"""Tiny SentencePiece model and tiny Transformers for the alignment tests (trained once per session)."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch

from llama_model import align_data
from llama_model.chat_format import format_dialogue
from llama_model.configs import ModelArgs


@functools.lru_cache(maxsize=1)
def tokenizer_path() -> str:
    d = Path(tempfile.mkdtemp(prefix="align-tok-"))
    lines = [format_dialogue(x["turns"], x.get("system")) for x in align_data.sft_dialogues(400, seed=3)]
    (d / "corpus.txt").write_text("\n".join(lines))
    spm.SentencePieceTrainer.train(
        input=str(d / "corpus.txt"), model_prefix=str(d / "tok"), vocab_size=512, hard_vocab_limit=False,
        model_type="bpe", split_digits=True, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        minloglevel=2)
    return str(d / "tok.model")


def tokenizer():
    from llama_model.tokenizer import Tokenizer
    return Tokenizer(tokenizer_path())


def tiny_args(vocab: int) -> ModelArgs:
    return ModelArgs(dim=32, n_layers=1, n_heads=2, n_kv_heads=1, vocab_size=vocab, multiple_of=16,
                     norm_eps=1e-5, max_seq_len=256)


def tiny_model(vocab: int, seed: int = 0):
    from llama_model.model import Transformer
    torch.manual_seed(seed)
    args = tiny_args(vocab)
    return Transformer(args), args
