"""Distributed setup and parallelization shared by pretraining and the alignment stages (torchtitan style:
applied from outside, parameter names unchanged).

    rank, world, device = init_distributed("auto")          # torchrun's environment; gloo on CPU, NCCL on GPU
    init_mesh(tp)                                           # tp > 1: a (data × tensor) mesh (tensor_parallel.py)
    model = build_model(margs, seed, world, device, mode)   # meta device -> TP/FSDP2 -> init this rank's part
    grads_all_reduce(model)                                 # replicated models: the summed gradient everywhere
    shard_stage_model(policy, device)                       # alignment stages on GPU: FSDP2 + forward methods

Initialisation is per parameter: parameter i is drawn from its own generator seeded by (seed, i), full size,
on the training device, and each rank keeps its shard. The weights therefore do not depend on the world size
or on FSDP vs DDP, and a rank never holds more than one full parameter (940 MB for Llama-2-70B's largest).
FSDP2 runs with a MixedPrecisionPolicy on GPU: bf16 parameters in forward/backward, fp32 gradient
reduction and fp32 master weights in the optimizer.

With a 2-D mesh (tp > 1) every data-parallel helper here (rank_world, all_reduce_sum, gather_list, spread,
grads_all_reduce) works over the data dimension: the ranks of one tensor-parallel group hold slices of
the same model and see the same data, so to the stages' loops they are one rank.
"""
from __future__ import annotations

import contextlib
import math
import os

import torch
import torch.distributed as dist

from llama_model.configs import ModelArgs
from llama_model.model import Transformer, enable_activation_checkpointing

# init_mesh: re-exported, the entry points (train.py, rlhf/job.py) take it from here
from llama_model.tensor_parallel import apply_tp, clip_grads, current_mesh, data_group, data_rank_world, init_mesh  # noqa: F401


def init_distributed(device_kind: str = "auto") -> tuple[int, int, torch.device]:
    """(rank, world_size, device) from torchrun's environment; a process group when world_size > 1."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_kind == "cuda" or (device_kind == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return rank, world, device


def rank_world() -> tuple[int, int]:
    """(rank, size) over the data dimension: the global ones without a 2-D mesh."""
    return data_rank_world()


def global_rank() -> int:
    """This process's rank in the world (the writer of artifacts is global rank 0)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def parallel_mode(requested: str, world: int, device: torch.device, tp: int = 1) -> str:
    """none (1 process) | ddp | fsdp | 2d (tensor parallel, FSDP2 over the data dimension when it is > 1);
    auto = FSDP2 on GPU, DDP on CPU. One process: none, unless FSDP2 is asked for explicitly (its bf16
    mixed-precision path on one GPU, benchmarks/gpu_check.sh)."""
    if tp > 1:
        if requested == "ddp":
            raise ValueError("tensor parallelism (tp > 1) composes with FSDP2, not DDP")
        return "2d"
    if world == 1:
        return "fsdp" if requested == "fsdp" else "none"
    return requested if requested != "auto" else ("fsdp" if device.type == "cuda" else "ddp")


def mixed_precision(device: torch.device):
    """FSDP2 policy: bf16 compute on GPU with fp32 gradient reduction; None (fp32 everywhere) on CPU."""
    if device.type != "cuda":
        return None
    from torch.distributed.fsdp import MixedPrecisionPolicy
    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)


def shard_fsdp(model: Transformer, device: torch.device, mesh=None) -> Transformer:
    """fully_shard every block, then the root (embeddings, final norm, output)."""
    from torch.distributed.fsdp import fully_shard
    kw = {"mp_policy": mixed_precision(device)} if mixed_precision(device) is not None else {}
    if mesh is not None:
        kw["mesh"] = mesh
    for layer in model.layers:
        fully_shard(layer, **kw)
    fully_shard(model, **kw)
    return model


def init_std(name: str, n_layers: int) -> float | None:
    """The rule of Transformer.init_weights: None (ones) for norms, N(0, 0.02) for matrices, the residual
    projections (wo, w2) scaled by 1/sqrt(2·n_layers)."""
    if name.endswith("norm.weight"):
        return None
    if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
        return 0.02 / math.sqrt(2 * n_layers)
    return 0.02


@torch.no_grad()
def init_params(model: torch.nn.Module, seed: int, n_layers: int) -> None:
    """Per-parameter seeded init of a model whose parameters may be FSDP2 shards (DTensor, dim-0 chunks)."""
    for i, (name, p) in enumerate(model.named_parameters()):
        local = p.to_local() if hasattr(p, "to_local") else p
        std = init_std(name, n_layers)
        if std is None:
            local.fill_(1.0)
            continue
        g = torch.Generator(device=local.device).manual_seed(seed * 1_000_003 + i)
        full = torch.empty(p.shape, device=local.device, dtype=torch.float32).normal_(0.0, std, generator=g)
        local.copy_(local_chunk(p, full).to(local.dtype))


def local_chunk(p: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
    """This rank's part of the full tensor `full` of parameter p: all of it for a plain tensor, the chunk
    its placements give for a DTensor (FSDP2's Shard(0), tensor parallelism's column / row slices, both on
    a 2-D mesh), cut locally from the full tensor every rank holds (no communication)."""
    if not hasattr(p, "to_local"):
        return full
    from torch.distributed.tensor import distribute_tensor
    return distribute_tensor(full.to(p.to_local().device), p.device_mesh, p.placements,
                             src_data_rank=None).to_local()


def shard_2d(model: Transformer, device: torch.device, fsdp_always: bool = True) -> Transformer:
    """Tensor + sequence parallelism over the mesh's tp dimension, then FSDP2 over its dp dimension:
    torchtitan's order. With one data rank FSDP2 only makes every parameter a DTensor (pretraining's fused
    AdamW cannot mix DTensors with the plain final norm and output weights); fsdp_always=False leaves
    them plain then (the stages: no FSDP2 root whose no-grad passes leave its weights gathered)."""
    mesh = current_mesh()
    if mesh is None:
        raise RuntimeError("2-D parallelism needs init_mesh(tp) first")
    apply_tp(model, mesh["tp"])
    if fsdp_always or mesh["dp"].size() > 1:
        shard_fsdp(model, device, mesh=mesh["dp"])
    return model


def build_model(margs: ModelArgs, seed: int, world: int, device: torch.device, mode: str,
                activation_checkpointing: str | None = None, compile: bool = False) -> tuple:
    """(wrapped model, raw Transformer): built on the meta device, checkpointing/compile/TP/FSDP2 or DDP
    applied, then only this rank's storage allocated and initialised (identical weights whatever the world
    size and mesh)."""
    with torch.device("meta"):
        raw = Transformer(margs)
    if activation_checkpointing and activation_checkpointing != "none":
        enable_activation_checkpointing(raw, activation_checkpointing)
    if compile:
        for layer in raw.layers:
            layer.compile()
    if mode == "fsdp":
        shard_fsdp(raw, device)
    elif mode == "2d":
        shard_2d(raw, device)
    raw.to_empty(device=device)
    init_params(raw, seed, margs.n_layers)
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP
        return DDP(raw, device_ids=[device.index] if device.type == "cuda" else None), raw
    return raw, raw


# --- replicated data parallelism for the alignment stages ----------------------------------------------

def local_part(items: list, rank: int, world: int) -> list:
    """Rank r's share of a batch: items r, r + world, ... (every item on exactly one rank)."""
    return items[rank::world]


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over ranks, in place (no-op without a process group)."""
    if rank_world()[1] > 1:
        dist.all_reduce(x, group=data_group())
    return x


def grads_all_reduce(params: list[torch.nn.Parameter]) -> None:
    """Sum every parameter's gradient over ranks, in one flat buffer: each rank's loss is its share of the
    global sum, so the sum is the 1-rank gradient. A gradient missing on some ranks counts as zero there;
    one missing on every rank stays None (an unused weight, like a reward model's LM head, must not get
    AdamW's weight decay on a zero gradient where one process would skip it). FSDP2 shards
    (DTensors) were already reduce-scattered as a mean: they are scaled back to the sum. (FSDP2's
    set_gradient_divide_factor(1) would sum directly, but gloo has no PREMUL_SUM.)"""
    world = rank_world()[1]
    if world == 1:
        return
    for p in params:
        if is_dtensor(p) and p.grad is not None:
            p.grad.to_local().mul_(world)
    params = [p for p in params if not is_dtensor(p)]
    if not params:
        return
    had = torch.tensor([float(p.grad is not None) for p in params], device=params[0].device)
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1).to(had.dtype) for p in params] + [had])
    dist.all_reduce(flat, group=data_group())
    offset = 0
    for p, anyone in zip(params, flat[-len(params):].tolist()):
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        if not anyone:
            p.grad = None
        offset += n


def gather_list(items: list) -> list:
    """Concatenate every rank's list, rank 0's first (no-op without a process group)."""
    world = rank_world()[1]
    if world == 1:
        return list(items)
    parts: list = [None] * world
    dist.all_gather_object(parts, items, group=data_group())
    return [x for part in parts for x in part]


# --- FSDP2 for the alignment stages ------------------------------------------------------------------

def is_dtensor(p) -> bool:
    return hasattr(p, "device_mesh") and hasattr(p, "to_local")


def is_sharded(model: torch.nn.Module) -> bool:
    return any(is_dtensor(p) for p in model.parameters())


def stage_mode(device: torch.device) -> str:
    """How an alignment stage spreads its models over the ranks ($LLAMA_STAGE_PARALLEL, default auto):
    "fsdp" (FSDP2 shards, a rank holds 1/world of every model: the default on GPU) or "replicate" (a full
    copy per rank, gradients all-reduced: the default on CPU, where the models are small and gloo
    all-gathers cost more than they save). "none" in a single process."""
    want = os.environ.get("LLAMA_STAGE_PARALLEL") or "auto"
    if want not in ("auto", "fsdp", "replicate"):
        raise ValueError(f"LLAMA_STAGE_PARALLEL must be auto, fsdp or replicate, not {want!r}")
    if current_mesh() is not None:
        return "2d"                    # tensor parallel: FSDP2 over the data dimension
    if rank_world()[1] == 1:
        return "none"
    if want == "auto":
        return "fsdp" if device.type == "cuda" else "replicate"
    return want


def shard_stage_model(model: Transformer, device: torch.device) -> Transformer:
    """FSDP2 for a stage's Transformer (policy, reference, reward-model trunk). The methods the stages call
    besides forward (forward_hidden for reward and value heads, hidden_and_logits for generation and PPO)
    are registered so that they gather the weights too. (The stages' losses are each rank's share of a
    global sum: grads_all_reduce turns FSDP2's averaged gradients back into sums.)"""
    from torch.distributed.fsdp import FSDPModule, register_fsdp_forward_method
    if current_mesh() is not None:
        shard_2d(model, device, fsdp_always=False)
    else:
        shard_fsdp(model, device)
    if isinstance(model, FSDPModule):
        for name in ("forward_hidden", "hidden_and_logits"):
            register_fsdp_forward_method(model, name)
    return model


def reshard(model: torch.nn.Module) -> None:
    """Free the weights FSDP2 left gathered. After a forward pass without backward (generation, scoring)
    the root module keeps its gathered parameters, and while gathered, `model.parameters()` yields those
    full tensors instead of the sharded ones: an optimizer built then would update copies that FSDP2
    throws away, and the embeddings and output layer would silently stop learning. The training loops
    call this before they collect the parameters (sft.fit, ppo.train_ppo)."""
    from torch.distributed.fsdp import FSDPModule
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.reshard()


def spread(n_parts: int, run, idle=None) -> list:
    """[run(i) for i in range(n_parts)] with part i computed on rank i % world and every result gathered
    onto every rank, in order. A rank without a part in a round calls idle() instead: with FSDP2 shards it
    must join the others' all-gathers. Results travel pickled (lists, floats; no device tensors)."""
    rank, world = rank_world()
    if world == 1:
        return [run(i) for i in range(n_parts)]
    mine = {}
    for r in range(math.ceil(n_parts / world)):
        i = r * world + rank
        if i < n_parts:
            mine[i] = run(i)
        elif idle is not None:
            idle()
    parts: list = [None] * world
    dist.all_gather_object(parts, mine, group=data_group())
    merged = {i: x for part in parts for i, x in part.items()}
    return [merged[i] for i in range(n_parts)]


def clip_grad_norm(params: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """torch's clip_grad_norm_, also over a mix of FSDP2 / tensor-parallel shards on different meshes and
    replicated parameters (a reward or value head beside a sharded trunk), whose norms torch will not stack
    (tensor_parallel.grad_norm)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not any(is_dtensor(g) for g in grads):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    return clip_grads(params, max_norm)


def peak_flops(device: torch.device, override_tflops: float | None = None) -> float:
    """Per-device dense peak FLOP/s for MFU: bf16 tensor-core peak on known GPUs; on CPU the fp32 FMA
    peak per thread at an assumed 3 GHz: 192 GFLOP/s with AVX-512 (two 16-wide FMA units), 96 with
    AVX2, 24 otherwise. Override with --peak-tflops / $LLAMA_PEAK_TFLOPS."""
    override_tflops = override_tflops or (float(os.environ["LLAMA_PEAK_TFLOPS"])
                                          if os.environ.get("LLAMA_PEAK_TFLOPS") else None)
    if override_tflops:
        return override_tflops * 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in (("H200", 989), ("H100", 989), ("A100", 312), ("L40", 181), ("A10", 125), ("4090", 165)):
            if key in name:
                return tflops * 1e12
        return 312e12
    return {"AVX512": 192e9, "AVX2": 96e9}.get(torch.backends.cpu.get_cpu_capability(), 24e9) * torch.get_num_threads()


def open_pipes(rank: int):
    """The Dagster Pipes context when launched by Dagster (rank 0 only), else a null context."""
    if rank != 0:
        return contextlib.nullcontext(None)
    try:
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
    except ImportError:
        return contextlib.nullcontext(None)
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return contextlib.nullcontext(None)
    return open_dagster_pipes()
