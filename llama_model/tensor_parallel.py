"""2-D parallelism: a (data × tensor) device mesh, Megatron-style tensor parallelism with sequence
parallelism inside each block (DTensor `parallelize_module`, as torchtitan does), FSDP2 over the data
dimension (llama_model/parallel.py). Applied from outside: llama_model/model.py stays the reference.

    mesh = init_mesh(tp=2)                 # world 4 -> dp 2 × tp 2; remembered for data_group()
    apply_tp(model, mesh["tp"])            # before fully_shard; parameter names unchanged

Per block: wq/wk/wv/w1/w3 column-parallel (each rank a slice of the heads / of the SwiGLU width),
wo/w2 row-parallel (their partial sums reduce-scattered back onto the sequence dimension); the norms and
the residual stream between them are sequence-parallel (each rank keeps T/tp positions, the
activation memory of the cheap ops divides by tp too); the attention and feed-forward inputs are all-gathered
over the sequence. GQA: each rank holds n_heads/tp query heads and n_kv_heads/tp K/V heads (tp must divide
n_kv_heads), set on the attention modules from here. The token embeddings are row-parallel (vocabulary split,
output sequence-sharded). The final norm and the output projection are left replicated over tp: the loss is
fused with the output projection (llama_model/loss.py) and reads its weight directly, so the hidden states
are all-gathered before the final norm and every tp rank computes the (identical) loss; that costs the output
layer's matmul tp times over (0.4% of 70B's FLOPs per copy) and keeps the loss exact.

The residual stream stays a DTensor (not local tensors) so that a sequence shorter than tp, as in
generation's one-token steps, is sharded unevenly without error.
"""
from __future__ import annotations

import dataclasses
import types

import torch
import torch.distributed as dist

_MESH = None          # the 2-D mesh of this process, once init_mesh ran with tp > 1


def init_mesh(tp: int, device_type: str = "cpu"):
    """The (dp, tp) DeviceMesh over the default process group (world = dp × tp), remembered for
    data_group() / current_mesh(); None (and nothing remembered) when tp == 1."""
    global _MESH
    world = dist.get_world_size() if dist.is_initialized() else 1
    if tp <= 1:
        _MESH = None
        return None
    if world % tp:
        raise ValueError(f"tensor-parallel degree {tp} does not divide the world size {world}")
    from torch.distributed.device_mesh import init_device_mesh
    _MESH = init_device_mesh(device_type, (world // tp, tp), mesh_dim_names=("dp", "tp"))
    return _MESH


def current_mesh():
    return _MESH


def reset_mesh() -> None:
    global _MESH
    _MESH = None


def tp_size() -> int:
    return _MESH["tp"].size() if _MESH is not None else 1


def data_group():
    """The process group of this rank's data-parallel peers (the ranks holding the same tensor-parallel
    slice), or None for the default group when there is no 2-D mesh."""
    return _MESH.get_group("dp") if _MESH is not None else None


def data_rank_world() -> tuple[int, int]:
    """(data-parallel rank, data-parallel size): the ranks of one tensor-parallel group see the same data."""
    if _MESH is not None:
        return _MESH["dp"].get_local_rank(), _MESH["dp"].size()
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def check_divisible(args, tp: int) -> None:
    """The shapes tensor parallelism splits must split evenly over tp ranks."""
    for name, n in (("n_heads", args.n_heads), ("n_kv_heads", args.kv_heads), ("hidden_dim", args.hidden_dim),
                    ("vocab_size", args.vocab_size)):
        if n % tp:
            raise ValueError(f"tensor-parallel degree {tp} does not divide {name} = {n}")


def apply_tp(model, tp_mesh) -> None:
    """Tensor + sequence parallelism over tp_mesh on a Transformer (meta or real), in place."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        PrepareModuleInput,
        RowwiseParallel,
        SequenceParallel,
        parallelize_module,
    )
    tp = tp_mesh.size()
    check_divisible(model.args, tp)
    parallelize_module(model, tp_mesh, {
        "tok_embeddings": RowwiseParallel(input_layouts=Replicate(), output_layouts=Shard(1), use_local_output=False),
        # the full hidden states, plain tensors, for the final norm and the fused loss / heads
        "norm": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),),
                                   use_local_output=True),
    })
    for layer in model.layers:
        parallelize_module(layer, tp_mesh, {
            "attention_norm": SequenceParallel(),
            # attention(x, freqs_cis, start_pos, kv_cache): only x is a sequence-sharded tensor
            "attention": PrepareModuleInput(input_layouts=(Shard(1), None, None, None),
                                            desired_input_layouts=(Replicate(), None, None, None)),
            "attention.wq": ColwiseParallel(),
            "attention.wk": ColwiseParallel(),
            "attention.wv": ColwiseParallel(),
            "attention.wo": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
            "ffn_norm": SequenceParallel(),
            "feed_forward": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),)),
            "feed_forward.w1": ColwiseParallel(),
            "feed_forward.w3": ColwiseParallel(),
            "feed_forward.w2": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
        })
        # the attention reshapes its local q/k/v by these counts (torchtitan sets them the same way)
        layer.attention.n_heads //= tp
        layer.attention.n_kv_heads //= tp
    # generation's KV cache holds this rank's K/V heads only
    local_args = dataclasses.replace(model.args, n_kv_heads=model.args.kv_heads // tp)
    model.new_kv_cache = types.MethodType(_local_kv_cache(local_args), model)


def _local_kv_cache(local_args):
    def new_kv_cache(self, batch_size: int, max_len: int | None = None, dtype: torch.dtype | None = None):
        from llama_model.model import KVCache
        p = self.output.weight
        return KVCache(local_args, batch_size, max_len, device=p.device, dtype=dtype or p.dtype)
    return new_kv_cache


def copies(t) -> int:
    """How many ranks of the world hold the same values as this rank's local part of t: a DTensor on a
    sub-mesh is repeated on every other sub-mesh, and its Replicate dimensions repeat it within its mesh;
    a plain tensor is on every rank."""
    world = dist.get_world_size() if dist.is_initialized() else 1
    if not hasattr(t, "device_mesh"):
        return world
    n = world // t.device_mesh.size()
    for i, placement in enumerate(t.placements):
        if placement.is_replicate():
            n *= t.device_mesh.size(i)
    return n


@torch.no_grad()
def grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The global L2 norm of gradients that may be DTensors on different meshes (the 2-D blocks, the
    data-only root) and plain replicated tensors, which torch's clip_grad_norm_ will not stack: each
    rank's local squares, divided by how many ranks hold the same values, summed over the world."""
    device = grads[0].device
    local = torch.zeros((), device=device, dtype=torch.float32)
    for g in grads:
        part = g.to_local() if hasattr(g, "to_local") else g
        local += part.float().pow(2).sum() / copies(g)
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(local)
    return local.sqrt()


@torch.no_grad()
def clip_grads(params, max_norm: float) -> torch.Tensor:
    """clip_grad_norm_ over any mix of DTensor meshes (see grad_norm); returns the norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    total = grad_norm(grads)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        (g.to_local() if hasattr(g, "to_local") else g).mul_(coef.to(g.dtype))
    return total
