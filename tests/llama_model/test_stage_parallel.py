"""Data parallelism of the alignment stages and of checkpoints: 2 and 4 gloo ranks on CPU train the same
models as 1 process (SFT, reward model, PPO), and a DCP checkpoint saved by 4 ranks resumes on 2."""
import json
import os
import socket

import pytest
import torch
from align_helpers import tiny_model, tokenizer

from llama_model import align_data as ad
from llama_model.checkpoint import load_meta
from llama_model.reward import RewardModel, train_rm
from llama_model.rlhf import ppo
from llama_model.sft import sft_examples, train_sft

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stages(out_path: str) -> None:
    """SFT, RM and two PPO iterations from fixed seeds; losses and final weights saved by rank 0."""
    torch.set_num_threads(1)
    tok = tokenizer()
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    policy, _ = tiny_model(tok.n_words, seed=0)
    examples = sft_examples(tok, ad.sft_dialogues(24, seed=1), max_len=96)
    sft = train_sft(policy, examples, lr=1e-2, batch=8, epochs=1, seed=0)
    torch.manual_seed(1)
    rm = RewardModel.from_policy(policy)
    pairs = ad.preference_pairs(20, seed=2)
    rm_losses = train_rm(rm, tok, pairs, lr=1e-2, batch=6, epochs=1, min_warmup=1, max_len=96)
    torch.manual_seed(2)
    tasks = ad.sample_tasks(6, 3, {"single": 1.0})
    g = torch.Generator().manual_seed(4)
    hist = ppo.train_ppo(policy, tok, tasks, rm, rm, ppo.PPOArgs(lr=1e-3, batch=6, minibatch=3, iterations=2,
                                                                 max_new_tokens=8), generator=g, seed=5)
    if rank == 0:
        torch.save({"sft": sft, "rm": rm_losses, "ppo": [h["loss"] for h in hist],
                    "policy": policy.state_dict(), "rm_head": rm.head.state_dict()}, out_path)


def _rank_main(rank, world, port, fn, args):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(*args)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize("world", [2, 4])
def test_alignment_stages_on_gloo_ranks_equal_one_process(tmp_path, world):
    _stages(str(tmp_path / "one.pt"))
    torch.multiprocessing.spawn(_rank_main, args=(world, _free_port(), _stages, (str(tmp_path / "many.pt"),)),
                                nprocs=world, join=True)
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    many = torch.load(tmp_path / "many.pt", weights_only=True)
    for stage in ("sft", "rm", "ppo"):
        assert len(one[stage]) > 1 and many[stage] == pytest.approx(one[stage], rel=1e-4, abs=1e-6), stage
    for k, v in one["policy"].items():
        assert torch.allclose(v, many["policy"][k], atol=1e-5), k
    # Only the head's weight: the bias's gradient is exactly zero in exact arithmetic (scores enter the loss as
    # differences), so Adam turns rounding noise into steps and the bias drifts differently on any machine.
    assert torch.allclose(one["rm_head"]["weight"], many["rm_head"]["weight"], atol=1e-5)


# --- DCP: saved at 4 ranks, resumed at 2 -------------------------------------------------------------------

def _train(cfgs):
    from llama_model.train import train
    torch.set_num_threads(1)
    for cfg in cfgs:
        train(cfg)


def _train_rank(rank, world, port, cfgs):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        _train(cfgs)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize("parallel,background", [("ddp", False), ("fsdp", False), ("fsdp", True)])
def test_checkpoint_saved_at_four_ranks_resumes_at_two(tmp_path, parallel, background):
    from test_train import config
    straight = config(tmp_path, "straight", steps=4)
    _train([straight])
    first = config(tmp_path, "resized", steps=4, stop_after=2, parallel=parallel,       # checkpoint at step 2
                   async_checkpoint=background)
    torch.multiprocessing.spawn(_train_rank, args=(4, _free_port(), [first]), nprocs=4, join=True)
    assert (tmp_path / "resized" / "checkpoints" / "step_00000002" / "trainer.pt").is_file()
    rest = config(tmp_path, "resized", steps=4, parallel=parallel)
    torch.multiprocessing.spawn(_train_rank, args=(2, _free_port(), [rest]), nprocs=2, join=True)

    def losses(name):
        return [json.loads(ln)["loss"] for ln in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]

    assert len(losses("resized")) == 4 and losses("resized") == pytest.approx(losses("straight"), rel=1e-5)
    a, _ = load_meta(tmp_path / "straight")
    b, _ = load_meta(tmp_path / "resized")
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x, y, atol=1e-5), k


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stage_job_steps_on_gpu_in_bf16(tmp_path):
    """What llama_model/rlhf/job.py does on a GPU: the SFT, RM and PPO steps on cuda under bf16 autocast."""
    tok = tokenizer()
    policy, _ = tiny_model(tok.n_words)
    policy = policy.cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        sft = train_sft(policy, sft_examples(tok, ad.sft_dialogues(16, seed=1), max_len=96), lr=1e-2, batch=8,
                        epochs=2)
        rm = RewardModel.from_policy(policy)
        rm_losses = train_rm(rm, tok, ad.preference_pairs(16, seed=2), lr=1e-2, batch=8, min_warmup=1, max_len=96)
        hist = ppo.train_ppo(policy, tok, ad.sample_tasks(4, 3, {"single": 1.0}), rm, rm,
                             ppo.PPOArgs(lr=1e-3, batch=4, minibatch=2, iterations=1, max_new_tokens=8),
                             generator=torch.Generator(device="cuda").manual_seed(0))
    assert sft[-1] < sft[0] and len(rm_losses) == 2 and len(hist) == 1
    assert next(policy.parameters()).dtype == torch.float32          # fp32 master weights
