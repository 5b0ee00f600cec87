"""Will a profile's pretraining fit a cluster? The model is built on the meta device, FSDP2 (the same
`shard_fsdp` training uses, with its bf16 mixed-precision policy) is applied in a fake process group of
nodes x GPUs ranks, and the memory of one rank is added up from the real shard shapes.

    llama-pipeline plan llama2-70b --nodes 16 --gpus-per-node 8              # fits: exit 0
    llama-pipeline plan llama2-70b --nodes 1 --gpus-per-node 8 --json        # does not fit: exit 1

Per rank (bytes): fp32 parameter shards (4/param) + fp32 gradient shards (4) + AdamW's two fp32 moments (8);
the bf16 all-gathered parameters of two blocks at once (the block computing and the one prefetched) plus
the root's (embeddings, output); activations of one micro-batch: with "full" checkpointing every block keeps
its bf16 input and one block at a time recomputes its working set, with "selective" the linear and attention
outputs are kept, with "none" everything (memory-efficient attention: no [seq, seq] scores are stored; the
fused loss never stores the logits). Plus a fixed allowance for the CUDA context, NCCL buffers and allocator
fragmentation. The global batch is split with TrainArgs.split: micro-batch x accumulation x data-parallel ranks.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

import torch

from llama_model.configs import ModelArgs, Profile, get_profile

GiB = 1 << 30
OVERHEAD_BYTES = 6 * GiB      # CUDA context + NCCL buffers + allocator fragmentation (measured runs use 4-8 GiB)
BF16, FP32 = 2, 4


@contextlib.contextmanager
def fake_process_group(world: int):
    """A process group of `world` ranks in which this process is rank 0 and collectives do nothing."""
    import torch.distributed as dist
    from torch.testing._internal.distributed.fake_pg import FakeStore  # registers the "fake" backend

    if dist.is_initialized():
        raise RuntimeError("plan needs its own (fake) process group; this process already has one")
    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)
    try:
        yield
    finally:
        dist.destroy_process_group()


def shard_numel(margs: ModelArgs, world: int) -> tuple[int, int, int]:
    """(parameters of rank 0's shards, largest block's parameters, root parameters) with FSDP2 applied to a
    meta-device model in a fake process group of `world` ranks."""
    from torch.distributed.device_mesh import init_device_mesh

    from llama_model.model import Transformer
    from llama_model.parallel import shard_fsdp

    with torch.device("meta"):
        model = Transformer(margs)
    block = sum(p.numel() for p in model.layers[0].parameters())
    root = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("layers."))
    if world == 1:
        return sum(p.numel() for p in model.parameters()), block, root
    with fake_process_group(world):
        mesh = init_device_mesh("cpu", (world,))
        shard_fsdp(model, torch.device("cuda"), mesh=mesh)      # the GPU policy (bf16 params, fp32 reduce)
        local = sum(p.to_local().numel() for p in model.parameters())
    return local, block, root


def activation_bytes(margs: ModelArgs, micro: int, seq: int, mode: str) -> int:
    """Activation memory of one micro-batch through the whole model (bf16), by checkpointing mode."""
    d, h, kv = margs.dim, margs.hidden_dim, margs.kv_heads * margs.head_dim
    tokens = micro * seq
    # A block's saved tensors without checkpointing: norm inputs (fp32) and outputs, q/k/v, attention and wo
    # outputs, w1/w3 outputs, SiLU and product, residual: about 8d + 2kv + 4h values per token.
    everything = tokens * ((8 * d + 2 * kv + 4 * h) * BF16 + 2 * d * FP32)
    kept_selective = tokens * (5 * d + 2 * kv + 2 * h) * BF16       # linear / attention outputs + the input
    block_input = tokens * d * BF16
    head = tokens * d * FP32 + 512 * margs.vocab_size * FP32           # final norm + one fused-loss chunk
    if mode == "none":
        return margs.n_layers * everything + head
    if mode == "selective":
        return margs.n_layers * kept_selective + everything + head
    if mode == "full":
        return margs.n_layers * block_input + everything + head
    raise ValueError(f"activation checkpointing must be none, selective or full, not {mode!r}")


def plan(profile: Profile, nodes: int, gpus_per_node: int, gpu_memory_gb: float = 80.0,
         activation_checkpointing: str | None = None) -> dict:
    """The memory plan of one rank for `profile`'s pretraining on nodes x gpus_per_node GPUs."""
    world = nodes * gpus_per_node
    margs, targs = profile.model, profile.train
    ac = activation_checkpointing or targs.activation_checkpointing
    micro, accum = targs.split(world)
    local, block, root = shard_numel(margs, world)
    parts = {
        "parameters_fp32": local * FP32,
        "gradients_fp32": local * FP32,
        "optimizer_fp32": 2 * local * FP32,
        "gathered_bf16": (2 * block + root) * BF16 if world > 1 else 0,
        "activations": activation_bytes(margs, micro, targs.seq_len, ac),
        "overhead": OVERHEAD_BYTES,
    }
    per_rank = sum(parts.values())
    limit = int(gpu_memory_gb * GiB)
    return {
        "profile": profile.name, "nodes": nodes, "gpus_per_node": gpus_per_node, "world_size": world,
        "parameters": margs.num_params(), "parameters_per_rank": local,
        "global_batch_sequences": targs.batch_seqs, "seq_len": targs.seq_len,
        "tokens_per_step": targs.batch_seqs * targs.seq_len, "micro_batch": micro, "accumulation": accum,
        "activation_checkpointing": ac, "per_rank_bytes": per_rank, "per_rank_parts": parts,
        "gpu_memory_bytes": limit, "fits": per_rank <= limit,
    }


def format_plan(p: dict) -> str:
    lines = [(f"{p['profile']}: {p['parameters'] / 1e9:.2f}B parameters on {p['nodes']} x {p['gpus_per_node']} "
              f"= {p['world_size']} GPUs"),
             (f"  batch: {p['global_batch_sequences']} x {p['seq_len']} = {p['tokens_per_step']:,} tokens/step "
              f"= micro-batch {p['micro_batch']} x accumulation {p['accumulation']} x {p['world_size']} ranks"),
             f"  activation checkpointing: {p['activation_checkpointing']}",
             "  per rank:"]
    for k, v in p["per_rank_parts"].items():
        lines.append(f"    {k:<18}{v / GiB:8.2f} GiB")
    verdict = "fits" if p["fits"] else "does NOT fit"
    lines.append(f"    {'total':<18}{p['per_rank_bytes'] / GiB:8.2f} GiB of {p['gpu_memory_bytes'] / GiB:.0f} GiB: "
                 f"{verdict}")
    return "\n".join(lines)


def _cmd_plan(args: argparse.Namespace) -> int:
    try:
        p = plan(get_profile(args.profile), args.nodes, args.gpus_per_node, args.gpu_memory_gb, args.ac)
    except ValueError as e:
        print(f"plan: {e}", file=sys.stderr)
        return 2
    print(json.dumps(p, indent=2) if args.json else format_plan(p))
    return 0 if p["fits"] else 1


def register(sub) -> None:
    """The `plan` sub-command of llama-pipeline (assets/cli.py)."""
    p = sub.add_parser("plan", help="per-GPU memory of a profile's pretraining on a cluster; exit 1 if it does not fit")
    p.add_argument("profile", help="e.g. llama2-70b")
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--gpus-per-node", type=int, required=True)
    p.add_argument("--gpu-memory-gb", type=float, default=80.0, help="memory per GPU in GiB (default 80)")
    p.add_argument("--ac", choices=["none", "selective", "full"],
                   help="activation checkpointing (default: the profile's train.activation_checkpointing)")
    p.add_argument("--json", action="store_true", help="one JSON object (parameters, global_batch_sequences, "
                                                       "seq_len, per_rank_bytes, fits, ...)")
    p.set_defaults(func=_cmd_plan)
