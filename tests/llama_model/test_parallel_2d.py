"""2-D parallelism (llama_model/tensor_parallel.py) on 4 gloo ranks on CPU: a 2 x 2 (data x tensor) mesh
trains the same losses and final weights as 1 process, and its DCP checkpoint resumes at 4 x 1 and 1 x 4."""
import json
import os
import shutil
import socket

import pytest
import torch

from llama_model.checkpoint import load_meta

pytestmark = pytest.mark.slow

# 8 query heads over 4 KV heads (GQA), so 1 x 4 still splits whole KV heads; hidden 96, vocab 64: both / 4.
MODEL = dict(dim=32, n_layers=2, n_heads=8, n_kv_heads=4, vocab_size=64, multiple_of=16, max_seq_len=32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path, out, **kw):
    from test_train import config
    cfg = config(tmp_path, out, **kw)
    cfg.model_overrides = MODEL
    return cfg


def _rank_main(rank, world, port, fn, args):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        fn(*args)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _meshes(tmp, mesh22, resumed):
    """2 x 2 for 4 steps (checkpoints at 2 and 4); its step-2 checkpoint resumed at 4 x 1 and at 1 x 4."""
    from llama_model.train import train
    train(mesh22)
    for cfg in resumed:
        if torch.distributed.get_rank() == 0:
            shutil.copytree(os.path.join(tmp, "mesh22"), cfg.out,
                            ignore=shutil.ignore_patterns("step_00000004", "consolidated*", "summary.json"))
        torch.distributed.barrier()
        train(cfg)


def _losses(run_dir):
    return [json.loads(ln)["loss"] for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_pretraining_on_a_2x2_mesh_equals_one_process_and_resumes_at_4x1_and_1x4(tmp_path):
    from llama_model.train import train
    torch.set_num_threads(1)
    one = _config(tmp_path, "one", steps=4)
    train(one)
    mesh22 = _config(tmp_path, "mesh22", steps=4, tp=2)
    resumed = [_config(tmp_path, "r41", steps=4, tp=1, parallel="fsdp"), _config(tmp_path, "r14", steps=4, tp=4)]
    torch.multiprocessing.spawn(_rank_main, args=(4, _free_port(), _meshes, (str(tmp_path), mesh22, resumed)),
                                nprocs=4, join=True)
    ref = _losses(tmp_path / "one")
    assert len(ref) == 4 and ref[-1] < ref[0]
    a, _ = load_meta(tmp_path / "one")
    for name in ("mesh22", "r41", "r14"):
        assert _losses(tmp_path / name) == pytest.approx(ref, rel=1e-5), name
        b, _ = load_meta(tmp_path / name)
        for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(x, y, atol=1e-5), (name, k)
