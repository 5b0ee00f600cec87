"""Pretraining loop: the schedule, loss goes down, kill + resume continues exactly, 2 ranks == 1 rank."""
import json
import socket

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from llama_model.checkpoint import load_meta
from llama_model.configs import get_profile
from llama_model.train import RunConfig, build_optimizer, lr_lambda, train

MODEL = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, multiple_of=16, max_seq_len=32)
TRAIN = dict(seq_len=16, batch_tokens=8 * 16, micro_batch=2, total_tokens=6 * 8 * 16, warmup_steps=2,
             checkpoint_every=2, eval_every=3, lr=1e-2)


def write_shards(root, vocab=64):
    """A token_shards folder in the layout llama_model.data.TokenLoader reads (two sources, train + val)."""
    rng = np.random.default_rng(0)
    rows = []
    for split, n in (("train", 3000), ("val", 400)):
        for source in ("wikipedia", "github"):
            name = f"{split}/{source}-00000"
            step = 1 if source == "wikipedia" else 3
            toks = ((rng.integers(3, vocab) + step * np.arange(n)) % (vocab - 3) + 3).astype(np.uint16)
            (root / split).mkdir(parents=True, exist_ok=True)
            toks.tofile(root / f"{name}.bin")
            rows.append({"shard": name, "split": split, "source": source, "documents": 1, "tokens": n})
    pq.write_table(pa.Table.from_pylist(rows), root / "manifest.parquet")
    (root / "meta.json").write_text(json.dumps({"dtype": "uint16", "vocab_size": vocab}))
    return root


def config(tmp_path, out, **kw):
    shards = tmp_path / "shards"
    if not (shards / "manifest.parquet").exists():
        write_shards(shards)
    return RunConfig(profile="tiny", out=str(tmp_path / out), shards=str(shards), eval_batches=2,
                     model_overrides=MODEL, train_overrides=TRAIN, **kw)


def losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_schedule_warmup_then_cosine_to_ten_percent():
    targs = get_profile("tiny").train
    f = lr_lambda(targs, 200)
    assert f(0) == pytest.approx(1 / 20) and f(19) == pytest.approx(1.0)
    assert f(110) == pytest.approx(0.55, abs=0.01) and f(199) == pytest.approx(0.1, abs=1e-3)


def test_weight_decay_only_on_matrices():
    from llama_model.model import Transformer
    model = Transformer(get_profile("tiny").model)
    opt = build_optimizer(model, get_profile("tiny").train)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 1 for p in no_decay["params"]) and len(no_decay["params"]) == 2 * 2 + 1
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-5


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted 6-step run shared by the tests below: (tmp folder, run folder, summary)."""
    tmp = tmp_path_factory.mktemp("train")
    summary = train(config(tmp, "straight"))
    return tmp, tmp / "straight", summary


def test_training_writes_metrics_weights_and_the_loss_falls(straight):
    _, run, summary = straight
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "mfu"} <= set(rows[0])
    assert summary["final_loss"] < summary["first_loss"] - 0.3
    assert set(summary["val"]) == {"wikipedia", "github", "all"} and summary["tokens_seen"] == 6 * 8 * 16
    model, args = load_meta(run)
    assert args.dim == 32 and (run / "summary.json").is_file()


def test_kill_and_resume_continues_the_loss_sequence_exactly(straight):
    tmp_path, run, _ = straight
    # "Killed" after 3 steps: the newest checkpoint is step 2, and step 3 was logged but is lost.
    partial = train(config(tmp_path, "resumed", stop_after=3))
    assert partial == {} and (tmp_path / "resumed" / "checkpoints" / "step_00000002").is_dir()
    train(config(tmp_path, "resumed"))
    assert losses(tmp_path / "resumed") == losses(run)
    a, _ = load_meta(run)
    b, _ = load_meta(tmp_path / "resumed")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_async_checkpoints_resume_exactly_too(straight):
    """Checkpoints written in the background (--async-checkpoint): a killed run resumes to the same losses."""
    tmp_path, run, _ = straight
    partial = train(config(tmp_path, "async", stop_after=3, async_checkpoint=True))
    assert partial == {} and (tmp_path / "async" / "checkpoints" / "step_00000002" / "trainer.pt").is_file()
    train(config(tmp_path, "async", async_checkpoint=True))
    assert losses(tmp_path / "async") == losses(run)
    assert not list((tmp_path / "async" / "checkpoints").glob(".*.tmp"))


def test_same_inputs_give_the_same_weights(tmp_path):
    train(config(tmp_path, "a", steps=2))
    train(config(tmp_path, "b", steps=2))
    a = (tmp_path / "a" / "consolidated.00.pth").read_bytes()
    assert a == (tmp_path / "b" / "consolidated.00.pth").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, cfgs):
    import os
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        for cfg in cfgs:
            train(cfg)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_rank(tmp_path):
    """Same global batch split over 2 ranks (DDP, then FSDP2 on gloo) == 1 rank: losses and weights."""
    train(config(tmp_path, "one", steps=3))
    runs = [config(tmp_path, "ddp", steps=3, parallel="ddp"), config(tmp_path, "fsdp", steps=3, parallel="fsdp")]
    torch.multiprocessing.spawn(_rank_main, args=(2, _free_port(), runs), nprocs=2, join=True)
    a, _ = load_meta(tmp_path / "one")
    for name in ("ddp", "fsdp"):
        assert losses(tmp_path / name) == pytest.approx(losses(tmp_path / "one"), rel=1e-5), name
        b, _ = load_meta(tmp_path / name)
        for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(x, y, atol=1e-5), (name, k)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_training_on_gpu(tmp_path):
    summary = train(config(tmp_path, "gpu", steps=4, device="cuda", activation_checkpointing="selective"))
    assert summary["final_loss"] < summary["first_loss"] and 0 < summary["mfu"] < 1
