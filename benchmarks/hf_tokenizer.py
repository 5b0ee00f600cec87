"""Our SentencePiece ids vs the exported Hugging Face tokenizers (fast and slow) at a larger vocabulary.

    .venv/bin/python benchmarks/hf_tokenizer.py                      # vocab 8000, 60 documents per source
    .venv/bin/python benchmarks/hf_tokenizer.py --vocab 16000 --docs 200

Trains a tokenizer with the project's trainer options on the first documents of every source's bundled
dump, exports it (llama_model/hf_tokenizer.py), and compares the ids of every 4,000-character chunk of
those documents (at most 10 per document). Prints chunks, tokens and mismatches (goal: 0).
"""
from __future__ import annotations

import argparse
import io
import itertools
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--docs", type=int, default=60, help="documents per source")
    a = ap.parse_args()

    import sentencepiece as spm
    from transformers import AutoTokenizer

    from llama_model.hf_tokenizer import write_hf_tokenizer
    from llama_model.tokenizer import Tokenizer
    from pipelines.document import SOURCES
    from pipelines.readers import read_source
    from pipelines.samples import bundled_dumps_dir
    from pipelines.tokenizer_training import trainer_options, training_lines

    def docs(source: str) -> list[str]:
        # a source's bundled folder is one dump, or holds one folder per dump: the first that reads
        root = bundled_dumps_dir() / source
        for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            try:
                out = [d.text for d in itertools.islice(read_source(source, folder), a.docs)]
            except (OSError, ValueError, RuntimeError):
                continue
            if out:
                return out
        return []

    texts = [t for s in SOURCES for t in docs(s)]
    opts = trainer_options(a.vocab, 0.9995) | {"hard_vocab_limit": False}   # the sample may be small for the vocab
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(list(training_lines(texts))), model_writer=model, **opts)
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "tokenizer.model").write_bytes(model.getvalue())
        write_hf_tokenizer(Path(d) / "tokenizer.model", Path(d) / "hf", model_max_length=1 << 20)
        ours = Tokenizer(Path(d) / "tokenizer.model")
        fast = AutoTokenizer.from_pretrained(Path(d) / "hf")
        slow = AutoTokenizer.from_pretrained(Path(d) / "hf", use_fast=False)
        chunks = tokens = bad = 0
        t0 = time.perf_counter()
        for t in texts:
            for chunk in (t[i:i + 4000] for i in range(0, min(len(t), 40000), 4000)):
                ids = ours.encode(chunk)
                chunks, tokens = chunks + 1, tokens + len(ids)
                bad += fast(chunk).input_ids != ids or slow(chunk).input_ids != ids
    print(f"vocab {ours.n_words}: {chunks} chunks, {tokens} tokens, {bad} mismatches "
          f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
