"""TokenLoader: windows of seq_len + 1, seeded order, rank sharding, exact resume, per-source validation."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from llama_model.data import TokenLoader
from pipelines.shards import MANIFEST_SCHEMA, ShardWriter

T, B = 8, 3


@pytest.fixture
def shard_dir(tmp_path):
    """Two train shards and two val shards of known tokens (value = position, so windows are checkable)."""
    rows = []
    for split, source, n in [("train", "c4", 101), ("train", "books", 57), ("val", "c4", 40), ("val", "books", 5)]:
        w = ShardWriter(tmp_path, split, source, np.dtype(np.uint16), shard_tokens=1 << 20)
        base = {"c4": 0, "books": 10_000}[source] + (20_000 if split == "val" else 0)
        w.write(np.arange(base, base + n), np.array([n // 2, n - n // 2]))
        rows += w.close()
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), tmp_path / "manifest.parquet")
    (tmp_path / "meta.json").write_text(json.dumps({"dtype": "uint16", "bos_id": 1, "eos_id": 2}))
    return tmp_path


def _windows_of(x, y):
    """Each row as the window it came from (its first token identifies it)."""
    assert torch.equal(x[:, 1:], y[:, :-1])
    return [int(v) for v in x[:, 0]]


def test_batches_are_shifted_windows(shard_dir):
    loader = TokenLoader(shard_dir, "train", seq_len=T, batch_size=B, seed=0)
    assert loader.n_windows == 100 // T + 56 // T == 19
    x, y = loader.next_batch()
    assert x.dtype == torch.long and x.shape == y.shape == (B, T)
    for row_x, row_y in zip(x, y):
        start = int(row_x[0])
        assert start % T == 0 or (start - 10_000) % T == 0
        assert row_x.tolist() == list(range(start, start + T)) and row_y.tolist() == list(range(start + 1, start + T + 1))


def test_seeded_order_and_every_window_once_per_epoch(shard_dir):
    a = TokenLoader(shard_dir, "train", T, B, seed=1)
    b = TokenLoader(shard_dir, "train", T, B, seed=1)
    c = TokenLoader(shard_dir, "train", T, B, seed=2)
    seen_a = [w for _ in range(19) for w in _windows_of(*a.next_batch())]   # 57 windows = 3 epochs
    seen_b = [w for _ in range(19) for w in _windows_of(*b.next_batch())]
    seen_c = [w for _ in range(19) for w in _windows_of(*c.next_batch())]
    assert seen_a == seen_b and seen_a != seen_c
    for e in range(3):
        assert len(set(seen_a[e * 19:(e + 1) * 19])) == 19
    assert seen_a[:19] != seen_a[19:38]          # a new permutation every epoch


def test_resume_continues_with_exactly_the_next_batch(shard_dir):
    run = TokenLoader(shard_dir, "train", T, B, seed=5)
    for _ in range(7):
        run.next_batch()
    state = run.state_dict()
    expected = [run.next_batch() for _ in range(10)]
    resumed = TokenLoader(shard_dir, "train", T, B, seed=5)
    resumed.load_state_dict(state)
    for x, y in expected:
        rx, ry = resumed.next_batch()
        assert torch.equal(x, rx) and torch.equal(y, ry)


def test_ranks_split_the_global_batch(shard_dir):
    single = TokenLoader(shard_dir, "train", T, 2 * B, seed=3)
    ranks = [TokenLoader(shard_dir, "train", T, B, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(5):
        whole = _windows_of(*single.next_batch())
        parts = [_windows_of(*r.next_batch()) for r in ranks]
        assert parts[0] + parts[1] == whole
        assert not set(parts[0]) & set(parts[1]) or len(set(whole)) < len(whole)   # disjoint within an epoch


def test_resume_on_another_world_size(shard_dir):
    single = TokenLoader(shard_dir, "train", T, 2 * B, seed=3)
    for _ in range(4):
        single.next_batch()
    state = single.state_dict()
    nxt = _windows_of(*single.next_batch())
    ranks = [TokenLoader(shard_dir, "train", T, B, seed=3, rank=r, world_size=2) for r in range(2)]
    for r in ranks:
        r.load_state_dict(state)
    assert _windows_of(*ranks[0].next_batch()) + _windows_of(*ranks[1].next_batch()) == nxt


def test_state_from_other_settings_is_refused(shard_dir):
    state = TokenLoader(shard_dir, "train", T, B, seed=0).state_dict()
    with pytest.raises(ValueError, match="seed"):
        TokenLoader(shard_dir, "train", T, B, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="rank"):
        TokenLoader(shard_dir, "train", T, B, rank=2, world_size=2)


def test_val_batches_per_source(shard_dir):
    loader = TokenLoader(shard_dir, "train", T, B)
    assert loader.val_sources() == ["c4", "books"]
    c4 = torch.cat([x for x, _ in loader.val_batches("c4")])
    assert c4.shape == (39 // T, T) and int(c4[0, 0]) == 20_000
    books = list(loader.val_windows("books"))          # 5 tokens < one window: one short window
    assert len(books) == 1 and books[0].tolist() == [list(range(30_000, 30_005))]
    assert sum(w.shape[0] for w in loader.val_windows()) == 39 // T + 1
    assert list(loader.val_windows("github")) == []


def test_missing_or_too_small_data(tmp_path, shard_dir):
    with pytest.raises(FileNotFoundError, match="token_shards"):
        TokenLoader(tmp_path / "nothing", "train", T, B)
    with pytest.raises(ValueError, match="not one window"):
        TokenLoader(shard_dir, "train", seq_len=500, batch_size=1).next_batch()
