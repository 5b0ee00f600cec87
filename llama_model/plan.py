"""Will a profile's pretraining fit a cluster? The model is built on the meta device, tensor parallelism
and FSDP2 (the same `apply_tp` and `shard_fsdp` training uses, with its bf16 mixed-precision policy) are
applied in a fake process group of nodes x GPUs ranks, and the memory of one rank is added up from the real
shard shapes.

    llama-pipeline plan llama2-70b --nodes 16 --gpus-per-node 8              # fits (tp 8, the profile's): exit 0
    llama-pipeline plan llama2-70b --nodes 16 --gpus-per-node 8 --tp 1       # FSDP only: does not fit, exit 1
    llama-pipeline plan llama2-70b --nodes 1 --gpus-per-node 8 --json        # does not fit: exit 1
    llama-pipeline plan paper                                                # every paper profile, 16x8 and
                                                                             # 128x8, FSDP-only vs FSDP x TP

With tensor parallelism of degree tp the blocks' weights are split tp ways before FSDP2 shards them over
the world / tp data-parallel ranks, and (sequence parallelism) so are the blocks' activations.
Communication per step and rank, in bytes received (ring collectives: (n-1)/n of the full buffer): FSDP2
all-gathers each block's bf16 weights twice per micro-batch (forward, and again in backward after the
forward resharded them) and reduce-scatters the fp32 gradients once per step (the last micro-batch);
TP all-gathers the sequence-sharded bf16 block input twice and reduce-scatters two outputs per block in
forward, as many in backward, plus the two all-gathers recomputation repeats (selective / full).
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
import dataclasses
import functools
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


@functools.lru_cache(maxsize=64)
def shard_numel(margs: ModelArgs, world: int, tp: int = 1) -> tuple[int, int, int]:
    """(parameters of rank 0's shards, one block's parameters on a rank once gathered over the data
    ranks (its tensor-parallel slice), root parameters likewise) with tensor parallelism over tp ranks and
    FSDP2 over world / tp applied to a meta-device model in a fake process group of `world` ranks."""
    from torch.distributed.device_mesh import init_device_mesh

    from llama_model.model import Transformer
    from llama_model.parallel import shard_fsdp
    from llama_model.tensor_parallel import apply_tp, check_divisible

    with torch.device("meta"):
        model = Transformer(margs)
    if world % tp:
        raise ValueError(f"tensor-parallel degree {tp} does not divide {world} GPUs")
    check_divisible(margs, tp)
    if world == 1:
        block = sum(p.numel() for p in model.layers[0].parameters())
        root = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("layers."))
        return sum(p.numel() for p in model.parameters()), block, root
    with fake_process_group(world):
        mesh = init_device_mesh("cpu", (world // tp, tp), mesh_dim_names=("dp", "tp"))
        if tp > 1:
            apply_tp(model, mesh["tp"])

        def gathered(p) -> int:        # the parameter's size on a rank once FSDP2 gathered it: its TP slice
            return p.to_local().numel() if hasattr(p, "to_local") else p.numel()
        block = sum(gathered(p) for p in model.layers[0].parameters())
        root = sum(gathered(p) for n, p in model.named_parameters() if not n.startswith("layers."))
        shard_fsdp(model, torch.device("cuda"), mesh=mesh["dp"])   # the GPU policy (bf16 params, fp32 reduce)
        local = sum(p.to_local().numel() for p in model.parameters())
    return local, block, root


def communication(margs: ModelArgs, world: int, tp: int, micro: int, accum: int, seq: int, ac: str,
                  local: int, block: int, root: int) -> dict:
    """Bytes one rank receives per optimizer step: FSDP2's weight all-gathers and gradient reduce-scatters
    over the data ranks, tensor parallelism's activation all-gathers / reduce-scatters over the tp ranks."""
    dp = world // tp
    ring_dp, ring_tp = (dp - 1) / dp, (tp - 1) / tp
    gathered = margs.n_layers * block + root                  # the TP slice of the model, gathered over dp
    fsdp = ring_dp * (2 * accum * gathered * BF16 + gathered * FP32)
    per_block = 8 + (2 if ac in ("selective", "full") else 0)  # collectives per block per micro-batch
    activation = micro * seq * margs.dim * BF16                 # one full [micro, seq, dim] bf16 tensor
    tensor = ring_tp * accum * margs.n_layers * per_block * activation
    return {"fsdp_bytes": int(fsdp), "tp_bytes": int(tensor)}


def activation_bytes(margs: ModelArgs, micro: int, seq: int, mode: str, tp: int = 1) -> int:
    """Activation memory of one micro-batch through the whole model (bf16), by checkpointing mode; with
    tensor + sequence parallelism a block's activations are split tp ways (heads, SwiGLU width, sequence),
    the final norm and the fused loss's chunk are not."""
    d, h, kv = margs.dim, margs.hidden_dim, margs.kv_heads * margs.head_dim
    tokens = micro * seq
    # A block's saved tensors without checkpointing: norm inputs (fp32) and outputs, q/k/v, attention and wo
    # outputs, w1/w3 outputs, SiLU and product, residual: about 8d + 2kv + 4h values per token.
    everything = tokens * ((8 * d + 2 * kv + 4 * h) * BF16 + 2 * d * FP32)
    kept_selective = tokens * (5 * d + 2 * kv + 2 * h) * BF16       # linear / attention outputs + the input
    block_input = tokens * d * BF16
    everything, kept_selective, block_input = everything // tp, kept_selective // tp, block_input // tp
    head = tokens * d * FP32 + 512 * margs.vocab_size * FP32           # final norm + one fused-loss chunk
    if mode == "none":
        return margs.n_layers * everything + head
    if mode == "selective":
        return margs.n_layers * kept_selective + everything + head
    if mode == "full":
        return margs.n_layers * block_input + everything + head
    raise ValueError(f"activation checkpointing must be none, selective or full, not {mode!r}")


def plan(profile: Profile, nodes: int, gpus_per_node: int, gpu_memory_gb: float = 80.0,
         activation_checkpointing: str | None = None, tp: int | None = None) -> dict:
    """The memory plan of one rank for `profile`'s pretraining on nodes x gpus_per_node GPUs, with
    tensor-parallel degree tp (default: the profile's train.tp; 1 on a single GPU)."""
    world = nodes * gpus_per_node
    margs, targs = profile.model, profile.train
    ac = activation_checkpointing or targs.activation_checkpointing
    tp = (tp or targs.tp) if world > 1 else 1
    local, block, root = shard_numel(margs, world, tp)
    micro, accum = targs.split(world // tp)
    parts = {
        "parameters_fp32": local * FP32,
        "gradients_fp32": local * FP32,
        "optimizer_fp32": 2 * local * FP32,
        "gathered_bf16": (2 * block + root) * BF16 if world > 1 else 0,
        "activations": activation_bytes(margs, micro, targs.seq_len, ac, tp),
        "overhead": OVERHEAD_BYTES,
    }
    per_rank = sum(parts.values())
    limit = int(gpu_memory_gb * GiB)
    return {
        "profile": profile.name, "nodes": nodes, "gpus_per_node": gpus_per_node, "world_size": world,
        "tp": tp, "dp": world // tp,
        "communication_per_step": communication(margs, world, tp, micro, accum, targs.seq_len, ac,
                                                local, block, root),
        "parameters": margs.num_params(), "parameters_per_rank": local,
        "global_batch_sequences": targs.batch_seqs, "seq_len": targs.seq_len,
        "tokens_per_step": targs.batch_seqs * targs.seq_len, "micro_batch": micro, "accumulation": accum,
        "activation_checkpointing": ac, "per_rank_bytes": per_rank, "per_rank_parts": parts,
        "gpu_memory_bytes": limit, "fits": per_rank <= limit,
    }


# What each alignment stage holds besides the policy it trains (fp32 FSDP2 shards of whole models: 4 bytes
# a parameter, divided over the ranks like the policy's) and how its training rows are counted.
STAGES = ("pretrain", "sft", "reward_model", "rejection", "ppo")
_FROZEN_MODELS = {"sft": 0, "reward_model": 0, "rejection": 2, "ppo": 3}     # RMs; PPO: + the reference


def stage_plan(profile: Profile, nodes: int, gpus_per_node: int, gpu_memory_gb: float = 80.0,
               stage: str = "sft", tp: int | None = None) -> dict:
    """The memory plan of one rank for an alignment stage run through the launcher with FSDP2-sharded
    models (llama_model/rlhf/job.py): the trained model's fp32 parameter, gradient and AdamW shards, the
    frozen models' fp32 shards (both RMs; PPO's reference), then the larger of the two phases: a training
    step (one pass of AlignArgs.micro_batch items, under AlignArgs.activation_checkpointing) or generation
    (the KV cache of one chunk of full-context rows, llama_model.rlhf.policy.rows_per_chunk)."""
    from llama_model.rlhf.policy import rows_per_chunk

    if stage not in _FROZEN_MODELS:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    world = nodes * gpus_per_node
    margs, align = profile.model, profile.align
    ac = align.activation_checkpointing or "none"
    tp = (tp or align.tp) if world > 1 else 1        # the tp ranks of a group share their items
    local, block, root = shard_numel(margs, world, tp)
    dp = world // tp
    batch, seq, per_item = {"sft": (align.sft_batch, align.sft_seq_len, 1),
                            "reward_model": (align.rm_batch, align.rm_seq_len, 2),    # chosen + rejected
                            "rejection": (align.sft_batch, align.sft_seq_len, 1),
                            "ppo": (align.ppo_minibatch, margs.max_seq_len, 1)}[stage]
    seq = min(seq, margs.max_seq_len)
    share = -(-batch // dp)                               # each data rank's items of a batch (sft.fit, ppo)
    items = min(share, align.micro_batch) if align.micro_batch else share     # per forward/backward pass
    accum, micro = -(-share // items), items * per_item
    train_act = activation_bytes(margs, micro, seq, ac, tp)
    kv = 0
    if stage in ("rejection", "ppo"):                     # generation: one chunk's bf16 KV cache at full context
        rows = rows_per_chunk(margs)
        kv = rows * 2 * margs.n_layers * margs.kv_heads * margs.head_dim * margs.max_seq_len * BF16 // tp
    parts = {
        "parameters_fp32": local * FP32,
        "gradients_fp32": local * FP32,
        "optimizer_fp32": 2 * local * FP32,
        "frozen_models_fp32": _FROZEN_MODELS[stage] * local * FP32,
        "gathered_bf16": (2 * block + root) * BF16 if world > 1 else 0,
        "activations_or_kv_cache": max(train_act, kv),
        "overhead": OVERHEAD_BYTES,
    }
    per_rank = sum(parts.values())
    limit = int(gpu_memory_gb * GiB)
    return {
        "profile": profile.name, "stage": stage, "nodes": nodes, "gpus_per_node": gpus_per_node, "world_size": world,
        "tp": tp, "dp": dp,
        "parameters": margs.num_params(), "parameters_per_rank": local, "global_batch_sequences": batch * per_item,
        "seq_len": seq, "tokens_per_step": batch * per_item * seq, "micro_batch": micro, "accumulation": accum,
        "activation_checkpointing": ac, "per_rank_bytes": per_rank, "per_rank_parts": parts,
        "gpu_memory_bytes": limit, "fits": per_rank <= limit,
    }


def format_plan(p: dict) -> str:
    stage = f" ({p['stage']})" if p.get("stage") else ""
    lines = [(f"{p['profile']}{stage}: {p['parameters'] / 1e9:.2f}B parameters on {p['nodes']} x "
              f"{p['gpus_per_node']} = {p['world_size']} GPUs as {p['dp']} data x {p['tp']} tensor-parallel ranks"),
             (f"  batch: {p['global_batch_sequences']} x {p['seq_len']} = {p['tokens_per_step']:,} tokens/step "
              f"= micro-batch {p['micro_batch']} x accumulation {p['accumulation']} x {p['dp']} data ranks"),
             f"  activation checkpointing: {p['activation_checkpointing']}"]
    if "communication_per_step" in p:
        c = p["communication_per_step"]
        lines.append(f"  received per step and rank: FSDP2 {c['fsdp_bytes'] / GiB:.1f} GiB, "
                     f"tensor parallel {c['tp_bytes'] / GiB:.1f} GiB")
    lines.append("  per rank:")
    for k, v in p["per_rank_parts"].items():
        lines.append(f"    {k:<24}{v / GiB:8.2f} GiB")
    verdict = "fits" if p["fits"] else "does NOT fit"
    lines.append(f"    {'total':<24}{p['per_rank_bytes'] / GiB:8.2f} GiB of {p['gpu_memory_bytes'] / GiB:.0f} GiB: "
                 f"{verdict}")
    return "\n".join(lines)


PAPER_CLUSTERS = ((16, 8), (128, 8))


def largest_micro_batch(profile: Profile, nodes: int, gpus_per_node: int, gpu_memory_gb: float, tp: int,
                        most: int = 16) -> dict:
    """The plan with the largest micro-batch (a power of two <= most) that fits, else micro-batch 1's: memory
    left over turns into fewer micro-batches, and FSDP2 all-gathers the weights once per micro-batch."""
    first = None
    micro = most
    while micro >= 1:
        trial = dataclasses.replace(profile, train=dataclasses.replace(profile.train, micro_batch=micro))
        p = plan(trial, nodes, gpus_per_node, gpu_memory_gb, tp=tp)
        first = p if micro == 1 else first
        if p["fits"]:
            return p
        micro //= 2
    return first


def paper_table(gpu_memory_gb: float = 80.0) -> list[dict]:
    """Pretraining plans of every paper profile on 16x8 and 128x8 GPUs, FSDP2 only (tp 1) and FSDP2 x TP
    (the profile's tp, else 8), with the profile's recomputation and the largest micro-batch that fits."""
    from llama_model.configs import PROFILES
    rows = []
    for profile in (p for p in PROFILES.values() if p.paper):
        for nodes, gpus in PAPER_CLUSTERS:
            for tp in (1, profile.train.tp if profile.train.tp > 1 else 8):
                rows.append(largest_micro_batch(profile, nodes, gpus, gpu_memory_gb, tp))
    return rows


def format_table(rows: list[dict]) -> str:
    header = (f"{'profile':<12}{'GPUs':>6}{'tp':>4}{'micro x accum':>15}{'GiB/rank':>10}  fits"
              f"{'FSDP GiB/step':>15}{'TP GiB/step':>13}")
    lines = [header]
    for p in rows:
        c = p["communication_per_step"]
        lines.append(f"{p['profile']:<12}{p['world_size']:>6}{p['tp']:>4}"
                     f"{str(p['micro_batch']) + ' x ' + str(p['accumulation']):>15}{p['per_rank_bytes'] / GiB:>10.1f}  "
                     f"{'yes ' if p['fits'] else 'NO  '}{c['fsdp_bytes'] / GiB:>15.1f}{c['tp_bytes'] / GiB:>13.1f}")
    return "\n".join(lines)


def _cmd_plan(args: argparse.Namespace) -> int:
    if args.profile == "paper":
        rows = paper_table(args.gpu_memory_gb)
        print(json.dumps(rows, indent=2) if args.json else format_table(rows))
        return 0
    if args.nodes is None or args.gpus_per_node is None:
        print("plan: --nodes and --gpus-per-node are required (except for `plan paper`)", file=sys.stderr)
        return 2
    try:
        for flag, value in (("--nodes", args.nodes), ("--gpus-per-node", args.gpus_per_node)):
            if not 0 < value <= 1_000_000:      # 0 divided the batch by zero; 10**20 is no cluster
                raise ValueError(f"{flag} must be a whole number from 1 to 1000000, got {value}")
        if not 0 < args.gpu_memory_gb <= 1e6:
            raise ValueError(f"--gpu-memory-gb must be a positive number of GiB, got {args.gpu_memory_gb:g}")
        if args.stage == "pretrain":
            p = plan(get_profile(args.profile), args.nodes, args.gpus_per_node, args.gpu_memory_gb, args.ac,
                     tp=args.tp)
        else:
            p = stage_plan(get_profile(args.profile), args.nodes, args.gpus_per_node, args.gpu_memory_gb, args.stage,
                           tp=args.tp)
    except ValueError as e:
        print(f"plan: {e}", file=sys.stderr)
        return 2
    print(json.dumps(p, indent=2) if args.json else format_plan(p))
    return 0 if p["fits"] else 1


def register(sub) -> None:
    """The `plan` sub-command of llama-pipeline (assets/cli.py)."""
    p = sub.add_parser("plan", help="per-GPU memory of a profile's pretraining on a cluster; exit 1 if it does not fit")
    p.add_argument("profile", help="e.g. llama2-70b; `paper`: a table of every paper profile on 16x8 and 128x8 "
                                   "GPUs, FSDP2 only vs FSDP2 x TP")
    p.add_argument("--nodes", type=int)
    p.add_argument("--gpus-per-node", type=int)
    p.add_argument("--tp", type=int, help="tensor-parallel degree (default: the profile's train.tp / align.tp)")
    p.add_argument("--gpu-memory-gb", type=float, default=80.0, help="memory per GPU in GiB (default 80)")
    p.add_argument("--ac", choices=["none", "selective", "full"],
                   help="activation checkpointing (default: the profile's train.activation_checkpointing)")
    p.add_argument("--stage", choices=STAGES, default="pretrain",
                   help="pretrain (default) or an alignment stage run through the launcher with FSDP2")
    p.add_argument("--json", action="store_true", help="one JSON object (parameters, global_batch_sequences, "
                                                       "seq_len, per_rank_bytes, fits, ...)")
    p.set_defaults(func=_cmd_plan)
