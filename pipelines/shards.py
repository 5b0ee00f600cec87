"""Encode the curated documents into mixture-weighted binary token shards (SPEC §1, §2).

    from pipelines.shards import build_token_shards
    result = build_token_shards({"commoncrawl": Path("data/quality_filtered/commoncrawl"), ...},
                                "data/tokenizer/tokenizer.model", "data/token_shards",
                                token_budget=2_000_000, val_fraction=0.05, workers=2)

Layout of `out_dir` (built under a temporary name and renamed, so it appears complete or not at all):

    train/<source>-00000.bin   tokens, uint16 when the vocabulary has at most 65,535 pieces, else uint32
    train/<source>-00000.idx   int64 document boundaries: offsets[0] = 0, ..., offsets[-1] = tokens
    val/<source>-00000.bin     held-out documents of one source (one pass), for per-source perplexity
    manifest.parquet           one row per shard: shard, split, source, documents, tokens, epochs, dtype
    mixture.parquet            per source: target vs achieved tokens and proportions, epochs
    meta.json                  dtype, vocabulary size, tokenizer checksum, budget, seed, split fraction

Every document is written as BOS ... EOS. Encoding runs in worker processes (each loads the model once);
results come back in task order, so the output is byte-identical for the same inputs and code.
Training documents are encoded once into a per-source cache, then copied into the shards following the
mixture plan (pipelines.mixture): repeated for sources that run out, the last one cut at the target.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import json
import multiprocessing as mp
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sentencepiece as spm

from common.io import atomic_path
from pipelines.fs import parquet_file
from pipelines.mixture import PROPORTIONS, ValidationSplit, accounting, plan_mixture, source_files

MANIFEST_SCHEMA = pa.schema([
    ("shard", pa.string()),      # path relative to the shard folder, without extension: "train/c4-00000"
    ("split", pa.string()),      # train | val
    ("source", pa.string()),
    ("documents", pa.int64()),   # documents (or document pieces) in the shard
    ("tokens", pa.int64()),
    ("epochs", pa.float64()),    # passes over the source's unique training tokens (val: 1.0)
    ("dtype", pa.string()),
])
DEFAULT_SHARD_TOKENS = 1 << 26   # 64M tokens (128 MB as uint16) per shard
TASK_CHARS = 1 << 18             # characters of text per worker task: small enough to balance, big enough to amortize IPC


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65535 else np.dtype(np.uint32)


# ---- encoding in worker processes ----

_SP: spm.SentencePieceProcessor | None = None
_DTYPE: np.dtype | None = None


def _init_worker(model_path: str, dtype: str) -> None:
    """Each worker loads the SentencePiece model once."""
    global _SP, _DTYPE
    _SP = spm.SentencePieceProcessor(model_file=model_path)
    _DTYPE = np.dtype(dtype)


def _init_pool_worker(model_path: str, dtype: str) -> None:
    # A forked worker inherits the parent's signal handlers (Dagster installs its own, which raise on
    # SIGTERM); restore the defaults so Pool.terminate() ends workers quietly.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(model_path, dtype)


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(all tokens of the texts as BOS ... EOS, concatenated; each document's length)."""
    ids = _SP.encode(texts, add_bos=True, add_eos=True)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=_DTYPE, count=int(lengths.sum()))
    return flat, lengths


def _ordered_map(pool, func, tasks: Iterator, ahead: int) -> Iterator:
    """pool.imap with at most `ahead` tasks in flight, so memory stays bounded on any corpus size."""
    pending: collections.deque = collections.deque()
    for t in tasks:
        pending.append(pool.apply_async(func, (t,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


@dataclass
class EncodeTask:
    source: str
    texts: list[str]
    is_val: np.ndarray   # bool per text


def _source_tasks(source: str, directory, val_fraction: float, seed: int, skips: collections.Counter
                  ) -> Iterator[EncodeTask]:
    """Chunks of about TASK_CHARS characters of one source's documents, in file order."""
    files = source_files(directory)
    val = ValidationSplit.of_files(files, val_fraction, seed)
    texts, flags, chars = [], [], 0
    for f in files:
        for batch in parquet_file(f).iter_batches(batch_size=4_000, columns=["id", "text"]):
            for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                if text is None:
                    skips[f"{source}: null text"] += 1
                    continue
                texts.append(text)
                flags.append(doc_id in val)
                chars += len(text)
                if chars >= TASK_CHARS:
                    yield EncodeTask(source, texts, np.array(flags, dtype=bool))
                    texts, flags, chars = [], [], 0
    if texts:
        yield EncodeTask(source, texts, np.array(flags, dtype=bool))


def _run_task(task: EncodeTask) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    flat, lengths = _encode(task.texts)
    return task.source, flat, lengths, task.is_val


# ---- shard writing ----

class ShardWriter:
    """Append documents to numbered `<split>/<source>-NNNNN.bin/.idx` files, a new one every `shard_tokens`."""

    def __init__(self, root: Path, split: str, source: str, dtype: np.dtype, shard_tokens: int):
        self.root, self.split, self.source, self.dtype = root, split, source, dtype
        self.shard_tokens = shard_tokens
        self.rows: list[dict] = []
        self._file = None
        self._offsets: list[np.ndarray] = []
        self._tokens = 0

    def _open(self) -> None:
        name = f"{self.split}/{self.source}-{len(self.rows):05d}"
        (self.root / self.split).mkdir(parents=True, exist_ok=True)
        self._name = name
        self._file = open(self.root / f"{name}.bin", "wb")
        self._offsets, self._tokens = [np.zeros(1, np.int64)], 0

    def write(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        """Documents `lengths` laid out back to back in `flat`; a document never straddles two shards."""
        start = 0
        while len(lengths):
            if self._file is None:
                self._open()
            room = self.shard_tokens - self._tokens
            cum = np.cumsum(lengths)
            n = max(1, int(np.searchsorted(cum, room, side="right")))  # at least one document per shard
            stop = int(cum[n - 1])
            self._file.write(flat[start:start + stop].astype(self.dtype, copy=False).tobytes())
            self._offsets.append(self._tokens + cum[:n])
            self._tokens += stop
            start += stop
            lengths = lengths[n:]
            if self._tokens >= self.shard_tokens:
                self._close_shard()

    def _close_shard(self) -> None:
        self._file.close()
        offsets = np.concatenate(self._offsets).astype(np.int64)
        offsets.tofile(self.root / f"{self._name}.idx")
        self.rows.append({"shard": self._name, "split": self.split, "source": self.source,
                          "documents": len(offsets) - 1, "tokens": int(offsets[-1]), "epochs": 1.0,
                          "dtype": self.dtype.name})
        self._file = None

    def close(self) -> list[dict]:
        if self._file is not None:
            self._close_shard()
        return self.rows


@dataclass
class ShardsResult:
    out_dir: Path
    manifest: pa.Table
    mixture: list[dict]                   # pipelines.mixture.accounting rows
    val_tokens: dict[str, int]
    val_documents: dict[str, int]
    encoded_tokens: int                   # tokens produced by the encoders (every document once)
    encoded_chars: int
    encode_seconds: float
    write_seconds: float
    workers: int
    dtype: str
    notes: list[str] = field(default_factory=list)
    skips: dict[str, int] = field(default_factory=dict)


def build_token_shards(source_dirs: Mapping[str, str | Path], model_path: str | Path, out_dir: str | Path,
                       token_budget: int, val_fraction: float, seed: int = 0, workers: int | None = None,
                       shard_tokens: int = DEFAULT_SHARD_TOKENS, start_method: str | None = None,
                       proportions: Mapping[str, float] = PROPORTIONS, progress=None) -> ShardsResult:
    """Encode, split, mix and write the shards of every source of `proportions` (see the module doc).
    `progress(documents encoded, documents)` after each encoded batch."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"no tokenizer model at {model_path}: materialize the tokenizer asset first")
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    dtype = token_dtype(sp.get_piece_size())
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    notes: list[str] = []
    skips: collections.Counter = collections.Counter()
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        cache = tmp / "_cache"
        cache.mkdir()
        # 1. Encode every document once: validation documents straight into their shards, training ones
        #    into a per-source cache the mixture copies from.
        t0 = time.perf_counter()
        val_writers = {s: ShardWriter(tmp, "val", s, dtype, shard_tokens) for s in proportions}
        train_files = {s: open(cache / f"{s}.bin", "wb") for s in proportions}
        train_lengths: dict[str, list[np.ndarray]] = {s: [] for s in proportions}
        encoded_tokens = encoded_chars = encoded_docs = 0
        total_docs = sum(pq.ParquetFile(f).metadata.num_rows for s in proportions if source_dirs.get(s) is not None
                         for f in source_files(source_dirs[s])) if progress else 0

        def tasks() -> Iterator[EncodeTask]:
            for s in proportions:
                d = source_dirs.get(s)
                if d is None or not source_files(d):
                    notes.append(f"{s}: no curated documents (empty source); it gets no tokens")
                    continue
                yield from _source_tasks(s, d, val_fraction, seed, skips)

        def consume(results) -> None:
            nonlocal encoded_tokens, encoded_docs
            for source, flat, lengths, is_val in results:
                encoded_tokens += len(flat)
                encoded_docs += len(lengths)
                if progress:
                    progress(encoded_docs, total_docs)
                token_is_val = np.repeat(is_val, lengths)
                for mask, sink in ((is_val, "val"), (~is_val, "train")):
                    if not mask.any():
                        continue
                    part = flat[token_is_val if sink == "val" else ~token_is_val]
                    if sink == "val":
                        val_writers[source].write(part, lengths[mask])
                    else:
                        train_files[source].write(part.tobytes())
                        train_lengths[source].append(lengths[mask])

        def counted(it: Iterator[EncodeTask]) -> Iterator[EncodeTask]:
            nonlocal encoded_chars
            for t in it:
                encoded_chars += sum(len(x) for x in t.texts)
                yield t

        try:
            if workers == 1:
                _init_worker(str(model_path), dtype.name)
                consume(_run_task(t) for t in counted(tasks()))
            else:
                # fork by default: a spawned worker re-imports the caller's main module (torch, Dagster:
                # seconds each). The forked workers only run SentencePiece and NumPy, never a lock the
                # parent's threads may hold; start_method="spawn" or "forkserver" where fork is unwanted.
                ctx = mp.get_context(start_method or ("fork" if "fork" in mp.get_all_start_methods() else "spawn"))
                with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(str(model_path), dtype.name)) as pool:
                    consume(_ordered_map(pool, _run_task, counted(tasks()), ahead=2 * workers))
        finally:
            for f in train_files.values():
                f.close()
            val_rows = [r for w in val_writers.values() for r in w.close()]
        encode_seconds = time.perf_counter() - t0

        # 2. Plan the mixture on the training documents' lengths and copy the tokens into train shards.
        t1 = time.perf_counter()
        lengths = {s: np.concatenate(v) if v else np.zeros(0, np.int64) for s, v in train_lengths.items()}
        plans = plan_mixture(lengths, token_budget, seed, proportions)
        train_rows = []
        for s, plan in plans.items():
            if plan.note:
                notes.append(plan.note)
            if not plan.achieved:
                continue
            tokens = np.memmap(cache / f"{s}.bin", dtype=dtype, mode="r")
            offsets = np.concatenate([[0], np.cumsum(lengths[s])])
            writer = ShardWriter(tmp, "train", s, dtype, shard_tokens)
            for i in range(0, len(plan.order), 4096):   # gather in blocks: bounded memory, few writes
                docs, take = plan.order[i:i + 4096], plan.take[i:i + 4096]
                flat = np.concatenate([tokens[offsets[d]:offsets[d] + n] for d, n in zip(docs, take)])
                writer.write(flat, take)
            rows = writer.close()
            del tokens  # unmap before the cache is removed
            for r in rows:
                r["epochs"] = plan.epochs
            train_rows += rows
        shutil.rmtree(cache)
        manifest = pa.Table.from_pylist(train_rows + val_rows, schema=MANIFEST_SCHEMA)
        pq.write_table(manifest, tmp / "manifest.parquet")
        mix = accounting(plans, proportions)
        pq.write_table(pa.Table.from_pylist(mix), tmp / "mixture.parquet")
        meta = {"dtype": dtype.name, "vocab_size": sp.get_piece_size(), "bos_id": sp.bos_id(),
                "eos_id": sp.eos_id(), "tokenizer_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
                "token_budget": token_budget, "val_fraction": val_fraction, "seed": seed,
                "notes": notes, "skipped": dict(sorted(skips.items()))}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        write_seconds = time.perf_counter() - t1
    val_tokens = {s: 0 for s in proportions}
    val_docs = {s: 0 for s in proportions}
    for r in val_rows:
        val_tokens[r["source"]] += r["tokens"]
        val_docs[r["source"]] += r["documents"]
    return ShardsResult(out_dir, manifest, mix, val_tokens, val_docs, encoded_tokens, encoded_chars,
                        encode_seconds, write_seconds, workers, dtype.name, notes, dict(skips))


def read_manifest(shard_dir: str | Path) -> pa.Table:
    path = Path(shard_dir) / "manifest.parquet"
    if not path.exists():
        raise FileNotFoundError(f"no token shard manifest at {path}: materialize token_shards first")
    return pq.read_table(path)


def read_shard(shard_dir: str | Path, shard: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(tokens memory-mapped, document offsets) of one shard named as in the manifest."""
    base = Path(shard_dir) / shard
    tokens = np.memmap(f"{base}.bin", dtype=np.dtype(dtype), mode="r")
    offsets = np.fromfile(f"{base}.idx", dtype=np.int64)
    if offsets[-1] != len(tokens):
        raise ValueError(f"{base}.idx ends at {offsets[-1]} but {base}.bin holds {len(tokens)} tokens")
    return tokens, offsets
