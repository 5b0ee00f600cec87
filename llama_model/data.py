"""The pretraining data loader: memory-mapped token shards cut into windows of seq_len + 1 tokens.

    from llama_model.data import TokenLoader
    loader = TokenLoader("data/token_shards", "train", seq_len=128, batch_size=16, seed=1337,
                         rank=0, world_size=1)
    x, y = loader.next_batch()                  # LongTensors [B, T]; y is x shifted by one token
    state = loader.state_dict()                 # save with the checkpoint ...
    loader.load_state_dict(state)               # ... and the resumed run gets exactly the next batch
    for x, y in loader.val_batches("wikipedia"):  # per-source validation (one val shard per source)
        ...

Each shard (see pipelines/shards.py) is cut into non-overlapping windows of seq_len + 1 tokens that
share their boundary token (the last < seq_len tokens of a shard are unused). The windows of all
shards are visited in a seeded random order, a new permutation every epoch. Global step s, rank r
takes the windows at positions (s * world_size + r) * batch_size ... + batch_size - 1 of that stream,
so ranks never overlap and the position is one integer: a resumed run (even on a different number
of ranks, when the global batch divides) continues exactly where the last one stopped.
SyntheticLoader has the same interface over a learnable fake stream, for runs without shards.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq
import torch


class TokenLoader:
    def __init__(self, shard_dir: str | Path, split: str, seq_len: int, batch_size: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.shard_dir = Path(shard_dir)
        manifest_path = self.shard_dir / "manifest.parquet"
        if not manifest_path.exists():
            raise FileNotFoundError(f"no token shard manifest at {manifest_path}: materialize token_shards first")
        meta = json.loads((self.shard_dir / "meta.json").read_text())
        self.dtype = np.dtype(meta["dtype"])
        self.bos_id, self.eos_id = meta.get("bos_id", 1), meta.get("eos_id", 2)
        self.split, self.seq_len, self.batch_size = split, seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        rows = [r for r in pq.read_table(manifest_path).to_pylist() if r["split"] == split]
        self.shards = [r["shard"] for r in rows]
        self.shard_source = [r["source"] for r in rows]
        self.sources = sorted(set(self.shard_source), key=self.shard_source.index)
        self.tokens = sum(r["tokens"] for r in rows)
        self._data = [np.memmap(self.shard_dir / f"{s}.bin", dtype=self.dtype, mode="r") for s in self.shards]
        # Windows per shard and the first global window index of each shard.
        counts = np.array([max(0, (len(d) - 1) // seq_len) for d in self._data], dtype=np.int64)
        self._first = np.concatenate([[0], np.cumsum(counts)])
        self.n_windows = int(self._first[-1])
        self.step = 0                      # global steps taken (every rank takes one batch per step)
        self._perm_epoch, self._perm = -1, None

    # ---- training stream ----

    def _window(self, w: int) -> np.ndarray:
        shard = int(np.searchsorted(self._first, w, side="right")) - 1
        start = (w - int(self._first[shard])) * self.seq_len
        return self._data[shard][start:start + self.seq_len + 1]

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_windows)
            self._perm_epoch = epoch
        return self._perm

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) LongTensors [batch_size, seq_len] of this rank for the current step; advances one step."""
        if self.n_windows == 0:
            raise ValueError(f"the {self.split} shards under {self.shard_dir} hold {self.tokens} tokens: "
                             f"not one window of {self.seq_len + 1}; lower seq_len or raise the token budget")
        base = (self.step * self.world_size + self.rank) * self.batch_size
        rows = []
        for g in range(base, base + self.batch_size):
            epoch, i = divmod(g, self.n_windows)
            rows.append(self._window(int(self._permutation(epoch)[i])))
        batch = torch.from_numpy(np.stack(rows).astype(np.int64))
        self.step += 1
        return batch[:, :-1], batch[:, 1:]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next_batch()

    @property
    def epoch(self) -> float:
        """Passes over the training windows so far (all ranks together)."""
        return self.step * self.world_size * self.batch_size / max(1, self.n_windows)

    def state_dict(self) -> dict:
        return {"windows_consumed": self.step * self.world_size * self.batch_size, "seed": self.seed,
                "seq_len": self.seq_len, "n_windows": self.n_windows, "split": self.split}

    def load_state_dict(self, state: dict) -> None:
        for k in ("seed", "seq_len", "n_windows", "split"):
            if state[k] != getattr(self, k):
                raise ValueError(f"loader state was saved with {k}={state[k]!r}, this loader has "
                                 f"{getattr(self, k)!r}: the data or settings changed, the position is meaningless")
        per_step = self.world_size * self.batch_size
        if state["windows_consumed"] % per_step:
            raise ValueError(f"{state['windows_consumed']} windows consumed is not a whole number of global "
                             f"batches of {per_step} (world_size {self.world_size} x batch {self.batch_size})")
        self.step = state["windows_consumed"] // per_step

    # ---- validation ----

    def val_sources(self) -> list[str]:
        """Sources with held-out validation tokens (the manifest's val shards)."""
        return list(dict.fromkeys(r["source"] for r in self._val_rows()))

    def _val_rows(self) -> list[dict]:
        return [r for r in pq.read_table(self.shard_dir / "manifest.parquet").to_pylist() if r["split"] == "val"]

    def val_windows(self, source: str | None = None, batch_size: int | None = None) -> Iterator[torch.Tensor]:
        """Every window of the val shards (of one source, or all) in order, as [B, seq_len + 1] LongTensors.

        Reads the val split whatever split this loader trains on. A shard shorter than one window
        yields itself as one shorter window, so a small source still gets a perplexity.
        """
        bs = batch_size or self.batch_size
        rows: list[np.ndarray] = []
        for r in self._val_rows():
            if source is not None and r["source"] != source:
                continue
            d = np.memmap(self.shard_dir / f"{r['shard']}.bin", dtype=self.dtype, mode="r")
            n = (len(d) - 1) // self.seq_len
            if n == 0 and len(d) >= 2:
                if rows:  # windows of one batch must have one length
                    yield torch.from_numpy(np.stack(rows).astype(np.int64))
                    rows = []
                yield torch.from_numpy(np.asarray(d, dtype=np.int64)[None])
                continue
            for k in range(n):
                rows.append(d[k * self.seq_len: k * self.seq_len + self.seq_len + 1])
                if len(rows) == bs:
                    yield torch.from_numpy(np.stack(rows).astype(np.int64))
                    rows = []
        if rows:
            yield torch.from_numpy(np.stack(rows).astype(np.int64))

    def val_batches(self, source: str | None = None, batch_size: int | None = None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Like val_windows, as (x, y) pairs [B, T]."""
        for w in self.val_windows(source, batch_size):
            yield w[:, :-1], w[:, 1:]


class SyntheticLoader:
    """Learnable fake token stream with TokenLoader's interface (tests, benchmarks, runs without data).

    Window w is an arithmetic sequence (a + b·i) mod vocab with a, b drawn from a generator seeded by
    (seed, w); windows are laid out like TokenLoader's (global step, rank, batch), so world sizes agree."""

    def __init__(self, vocab_size: int, split: str, seq_len: int, batch_size: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.vocab_size, self.split, self.seq_len, self.batch_size = vocab_size, split, seq_len, batch_size
        self.seed, self.rank, self.world_size, self.step = seed, rank, world_size, 0

    def _window(self, w: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 0 if self.split == "train" else 1, w])
        a, b = int(rng.integers(3, self.vocab_size)), int(rng.integers(1, 8))
        return (a + b * np.arange(self.seq_len + 1)) % (self.vocab_size - 3) + 3

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        base = (self.step * self.world_size + self.rank) * self.batch_size
        batch = torch.from_numpy(np.stack([self._window(g) for g in range(base, base + self.batch_size)]))
        self.step += 1
        return batch[:, :-1].long(), batch[:, 1:].long()

    def state_dict(self) -> dict:
        return {"windows_consumed": self.step * self.world_size * self.batch_size, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["windows_consumed"] // (self.world_size * self.batch_size)

    def val_sources(self) -> list[str]:
        return ["synthetic"]

    def val_windows(self, source: str | None = None, batch_size: int | None = None):
        val = SyntheticLoader(self.vocab_size, "val", self.seq_len, batch_size or self.batch_size, self.seed)
        while True:
            x, y = val.next_batch()
            yield torch.cat([x, y[:, -1:]], dim=1)
