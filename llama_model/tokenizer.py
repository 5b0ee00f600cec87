"""The SentencePiece tokenizer (SPEC §2), as in the reference llama code: ids in, text out.

    from llama_model.tokenizer import Tokenizer
    tok = Tokenizer("data/tokenizer/tokenizer.model")
    ids = tok.encode("Hello", bos=True, eos=False)   # [1, ...]
    tok.decode(ids) == "Hello"
"""
from __future__ import annotations

import os

from sentencepiece import SentencePieceProcessor


class Tokenizer:
    def __init__(self, model_path: str | os.PathLike):
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"no tokenizer model at {model_path}: materialize the tokenizer asset first")
        self.sp_model = SentencePieceProcessor(model_file=str(model_path))
        self.n_words: int = self.sp_model.vocab_size()
        self.bos_id: int = self.sp_model.bos_id()   # 1
        self.eos_id: int = self.sp_model.eos_id()   # 2
        self.pad_id: int = self.sp_model.pad_id()   # -1: no padding token
        assert self.n_words == self.sp_model.get_piece_size()

    def encode(self, s: str, bos: bool = True, eos: bool = False) -> list[int]:
        assert isinstance(s, str)
        t = self.sp_model.encode(s)
        if bos:
            t = [self.bos_id] + t
        if eos:
            t = t + [self.eos_id]
        return t

    def encode_batch(self, texts: list[str], bos: bool = True, eos: bool = False) -> list[list[int]]:
        return self.sp_model.encode(texts, add_bos=bos, add_eos=eos)

    def decode(self, t: list[int]) -> str:
        # BOS/EOS/unk are control pieces: SentencePiece drops them when decoding.
        return self.sp_model.decode([int(i) for i in t])

    def id_to_piece(self, i: int) -> str:
        return self.sp_model.id_to_piece(int(i))
