"""KenLM scoring from word ids: native/kenlm_score.cc, built by `make install` into the venv's lib folder.

The `kenlm` module scores one string per call, so the perplexity filter spent most of its time joining
SentencePiece pieces into a string per line and KenLM splitting and hashing them again (profiled on
CommonCrawl pages: the join, the split and the calls were over half of KenLM's time). Here the lines
of a batch go to KenLM as arrays of its word ids in one call, with the module's arithmetic, so every
line's log10 probability has the same bits as `kenlm.Model.score(line)`. Without the library (KenLM
not built) `load` returns None and lm.py scores through the `kenlm` module as before.
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys
from pathlib import Path

import numpy as np

LIBRARY = "llama_kenlm.so"
_ERROR_SIZE = 4096


def library_path() -> Path | None:
    """The built library in this Python's environment (`<venv>/lib/llama_kenlm.so`), or None."""
    path = Path(sys.prefix) / "lib" / LIBRARY
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _library(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    lib.llama_kenlm_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.llama_kenlm_load.restype = ctypes.c_void_p
    lib.llama_kenlm_free.argtypes = [ctypes.c_void_p]
    lib.llama_kenlm_free.restype = None
    lib.llama_kenlm_index.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.llama_kenlm_index.restype = ctypes.c_uint32
    lib.llama_kenlm_score.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                      ctypes.c_void_p]
    lib.llama_kenlm_score.restype = None
    return lib


class Scorer:
    """One KenLM model (ARPA or binary) loaded by the native library."""

    def __init__(self, model_path: str | os.PathLike, library: str | os.PathLike):
        self.lib = _library(str(library))
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        handle = self.lib.llama_kenlm_load(os.fsencode(model_path), error, _ERROR_SIZE)
        if not handle:
            message = error.value.decode("utf-8", "replace").replace("\n", " ").strip()
            raise OSError(f"KenLM cannot load {model_path}: {message}")
        self.handle = handle

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.llama_kenlm_free(self.handle)
            self.handle = None

    def index(self, word: bytes) -> int:
        """KenLM's id of a word; its <unk> id for a word it does not know."""
        return self.lib.llama_kenlm_index(self.handle, word, len(word))

    def score(self, words: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """log10 P(line </s> | <s>) per line, float32 as KenLM sums it: line k is
        words[ends[k-1]:ends[k]] (KenLM ids)."""
        words = np.ascontiguousarray(words, dtype=np.uint32)
        ends = np.ascontiguousarray(ends, dtype=np.int64)
        if len(ends) and (ends[-1] > len(words) or np.any(np.diff(ends, prepend=0) < 0)):
            raise ValueError("line ends must be non-decreasing and within the words")
        out = np.empty(len(ends), dtype=np.float32)
        self.lib.llama_kenlm_score(self.handle, words.ctypes.data, ends.ctypes.data, len(ends), out.ctypes.data)
        return out


def load(model_path: str | os.PathLike) -> Scorer | None:
    """The native scorer of a model, or None when the library is not built here."""
    library = library_path()
    return Scorer(model_path, library) if library else None
