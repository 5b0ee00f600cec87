"""Tiny stand-ins for the eval tests: a character tokenizer and a bigram language model with set odds."""
import math

import torch


class CharTokenizer:
    """One id per character of `alphabet` (ids from 3), everything else -> <unk>=0; <s>=1, </s>=2."""

    def __init__(self, alphabet: str = "ab xyz?.:\nQAnswerio"):
        self.alphabet = "".join(dict.fromkeys(alphabet))
        self.bos_id, self.eos_id = 1, 2
        self.n_words = 3 + len(self.alphabet)

    def encode(self, s: str, bos: bool, eos: bool) -> list[int]:
        ids = [3 + self.alphabet.index(c) if c in self.alphabet else 0 for c in s]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids) -> str:
        return "".join(self.alphabet[i - 3] for i in ids if i >= 3)


class BigramLM(torch.nn.Module):
    """logits[b, t] = table[tokens[b, t]]: the next token depends only on the current one."""

    def __init__(self, vocab: int, probs: dict[tuple[int, int], float] | None = None):
        super().__init__()
        table = torch.zeros(vocab, vocab)
        for (prev, nxt), p in (probs or {}).items():
            # Put probability p on `nxt` and spread the rest evenly.
            rest = (1 - p) / (vocab - 1)
            table[prev] = math.log(rest)
            table[prev, nxt] = math.log(p)
        self.table = torch.nn.Parameter(table)

    def forward(self, tokens, start_pos=0, kv_cache=None):
        return self.table[tokens]
