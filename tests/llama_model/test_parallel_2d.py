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
MODEL = {"dim": 32, "n_layers": 2, "n_heads": 8, "n_kv_heads": 4, "vocab_size": 64, "multiple_of": 16, "max_seq_len": 32}


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
    """2 x 2 for 4 steps (checkpoints at 2 and 4); its step-2 checkpoint resumed at 4 x 1 and at 1 x 4; then
    the training state one rank holds at 2 x 2."""
    from llama_model.train import train
    train(mesh22)
    for cfg in resumed:
        if torch.distributed.get_rank() == 0:
            shutil.copytree(os.path.join(tmp, "mesh22"), cfg.out,
                            ignore=shutil.ignore_patterns("step_00000004", "consolidated*", "summary.json"))
        torch.distributed.barrier()
        train(cfg)
    _measure_state(os.path.join(tmp, "state_bytes.json"))


def _local_bytes(t) -> int:
    t = t.to_local() if hasattr(t, "to_local") else t
    return t.numel() * t.element_size()


def _measure_state(path):
    """Bytes of parameters + gradients + AdamW state each rank holds after one step at 2 x 2 (its shards)."""
    from llama_model.configs import ModelArgs, get_profile
    from llama_model.parallel import build_model, init_mesh
    from llama_model.train import build_optimizer
    init_mesh(2)
    model, _ = build_model(ModelArgs(**MODEL), 0, 4, torch.device("cpu"), "2d")
    opt = build_optimizer(model, get_profile("tiny").train)
    x = torch.randint(0, 64, (2, 17), generator=torch.Generator().manual_seed(0))
    model(x[:, :-1], targets=x[:, 1:]).backward()
    opt.step()
    params = list(model.parameters())
    state = sum(_local_bytes(v) for p in params for v in opt.state[p].values() if torch.is_tensor(v) and v.dim())
    mine = {"parameters": sum(map(_local_bytes, params)), "gradients": sum(_local_bytes(p.grad) for p in params),
            "optimizer": state}
    every = [None] * 4
    torch.distributed.all_gather_object(every, mine)
    init_mesh(1)
    if torch.distributed.get_rank() == 0:
        with open(path, "w") as f:
            json.dump(every, f)


def _losses(run_dir):
    return [json.loads(ln)["loss"] for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_pretraining_on_a_2x2_mesh_equals_one_process_and_resumes_at_4x1_and_1x4(tmp_path):
    from llama_model.train import train
    torch.set_num_threads(1)
    one = _config(tmp_path, "one", steps=4)
    train(one)
    # selective recomputation at 2 x 2, full at 1 x 4: recomputing under tensor parallelism changes nothing either
    mesh22 = _config(tmp_path, "mesh22", steps=4, tp=2, activation_checkpointing="selective")
    resumed = [_config(tmp_path, "r41", steps=4, tp=1, parallel="fsdp"),
               _config(tmp_path, "r14", steps=4, tp=4, activation_checkpointing="full")]
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
    # `llama-pipeline plan`'s per-rank training state at 2 x 2 (fake process group, shard shapes) against what
    # the ranks held: parameters, gradients and AdamW moments, fp32 on CPU
    from test_train import TRAIN

    from llama_model.configs import ModelArgs, Profile, TrainArgs
    from llama_model.plan import plan
    p = plan(Profile("mesh", ModelArgs(**MODEL), TrainArgs(**TRAIN)), nodes=1, gpus_per_node=4, tp=2)
    parts = p["per_rank_parts"]
    estimate = parts["parameters_fp32"] + parts["gradients_fp32"] + parts["optimizer_fp32"]
    measured = [sum(r.values()) for r in json.loads((tmp_path / "state_bytes.json").read_text())]
    assert p["tp"] == 2 and p["dp"] == 2
    assert max(measured) == pytest.approx(estimate, rel=0.2) and min(measured) == pytest.approx(estimate, rel=0.2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stage_steps_with_fsdp2_on_an_nccl_group_in_bf16():
    """What the stage jobs do on GPUs (llama_model/rlhf/job.py): FSDP2-sharded policy, reward model and PPO
    reference on an NCCL process group (1 rank here), bf16 autocast with fp32 master weights, and the 2-D
    path's helpers (clip over DTensors) on CUDA."""
    from align_helpers import tiny_model, tokenizer

    from llama_model import align_data as ad
    from llama_model.parallel import shard_stage_model
    from llama_model.reward import RewardModel, train_rm
    from llama_model.rlhf import ppo
    from llama_model.sft import sft_examples, train_sft

    torch.distributed.init_process_group("nccl", store=torch.distributed.HashStore(), rank=0, world_size=1)
    try:
        tok = tokenizer()
        cuda = torch.device("cuda")

        def sharded(seed):
            return shard_stage_model(tiny_model(tok.n_words, seed=seed)[0].to(cuda), cuda)

        policy = sharded(0)
        assert all(hasattr(p, "to_local") for p in policy.parameters())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            sft = train_sft(policy, sft_examples(tok, ad.sft_dialogues(16, seed=1), max_len=96), lr=1e-2, batch=8,
                            epochs=2)
            rm = RewardModel(sharded(0), 32)
            rm_losses = train_rm(rm, tok, ad.preference_pairs(16, seed=2), lr=1e-2, batch=8, min_warmup=1,
                                 max_len=96)
            hist = ppo.train_ppo(policy, tok, ad.sample_tasks(4, 3, {"single": 1.0}), rm, rm,
                                 ppo.PPOArgs(lr=1e-3, batch=4, minibatch=2, iterations=1, max_new_tokens=8),
                                 generator=torch.Generator(device="cuda").manual_seed(0), ref=sharded(0))
        assert sft[-1] < sft[0] and len(rm_losses) == 2 and len(hist) == 1
        assert next(policy.parameters()).dtype == torch.float32          # fp32 master weights
    finally:
        torch.distributed.destroy_process_group()
