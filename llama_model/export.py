"""Export a trained model from its DCP checkpoint, one tensor at a time, in the reference layout: with
`files` > 1 Meta's model-parallel split (consolidated.00.pth ... consolidated.NN.pth, as Meta released the
13B (2 files), 33B/34B (4) and 65B/70B (8) models).

    export_from_dcp("run/checkpoints/step_00476837", "out", margs, files=8)
    sd = merge_model_parallel([torch.load(f) for f in files])      # back to one full state dict

Training ends by saving its DCP checkpoint; rank 0 then builds each output file from it alone: for every
parameter the full tensor is read from the shards (DCP reshards to one process), the file's slice is kept
and the tensor dropped. Memory: one output file (1/files of the model) + one full parameter (940 MB for
Llama-2-70B's largest), never the whole model, and nothing is gathered through the GPUs.

Split dimension of each parameter in the reference code (fairscale layers): column-parallel (dim 0) for
wq, wk, wv, w1, w3 and output; row-parallel (dim 1) for wo, w2 and the embeddings (ParallelEmbedding
splits the embedding dimension); norms are replicated in every file.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from llama_model.configs import ModelArgs

# The Meta layout's file names (checkpoint.py reads and writes them too: defined here, below it, so the
# two modules import in one direction only).
META_PARAMS = "params.json"
EXTRA_PARAMS = "pipeline_params.json"    # max_seq_len, rope_theta: not keys the reference params.json accepts


def split_dim(name: str) -> int | None:
    """The dimension `name` is split along in Meta's model-parallel files; None = replicated."""
    if name.endswith("norm.weight"):
        return None
    if name.endswith(("attention.wo.weight", "feed_forward.w2.weight", "tok_embeddings.weight")):
        return 1
    return 0


def merge_model_parallel(shards: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One full state dict from Meta's model-parallel files (in file order)."""
    if len(shards) == 1:
        return dict(shards[0])
    out = {}
    for name in shards[0]:
        dim = split_dim(name)
        out[name] = shards[0][name] if dim is None else torch.cat([s[name] for s in shards], dim=dim)
    return out


def dcp_model_keys(ckpt_dir: str | os.PathLike) -> dict[str, torch.Size]:
    """{parameter name: full shape} of the model in a save_train_state checkpoint."""
    from torch.distributed.checkpoint import FileSystemReader

    meta = FileSystemReader(str(ckpt_dir)).read_metadata().state_dict_metadata
    return {k.removeprefix("model."): v.size for k, v in meta.items()
            if k.startswith("model.") and hasattr(v, "size")}


def read_dcp_tensor(ckpt_dir: str | os.PathLike, name: str, shape: torch.Size) -> torch.Tensor:
    """One full parameter from the checkpoint's shards, read in this process alone."""
    import warnings

    import torch.distributed.checkpoint as dcp

    state = {"model": {name: torch.empty(shape)}}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(ckpt_dir), no_dist=True)
    return state["model"][name]


def export_from_dcp(ckpt_dir: str | os.PathLike, out_dir: str | os.PathLike, margs: ModelArgs, files: int = 1,
                    dtype: torch.dtype | None = None) -> list[Path]:
    """Write consolidated.NN.pth (NN < files) + params.json into out_dir from a DCP checkpoint (rank 0 only).
    Each file appears atomically; dtype (e.g. torch.bfloat16) converts the weights, None keeps them."""
    import json

    from common.io import atomic_path, write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = dcp_model_keys(ckpt_dir)
    for name, shape in keys.items():
        dim = split_dim(name)
        if dim is not None and shape[dim] % files:
            raise ValueError(f"{name} {tuple(shape)} does not split in {files} files along dim {dim}")
    written = []
    for i in range(files):
        part = {}
        for name, shape in keys.items():
            full = read_dcp_tensor(ckpt_dir, name, shape)
            dim = split_dim(name)
            t = full if dim is None or files == 1 else full.chunk(files, dim=dim)[i]
            part[name] = (t.to(dtype) if dtype is not None else t).contiguous().clone()
            del full
        path = out / f"consolidated.{i:02d}.pth"
        with atomic_path(path) as tmp:
            torch.save(part, tmp)
        written.append(path)
        del part
    write_text(out / META_PARAMS, json.dumps(margs.params_json(), indent=2) + "\n")
    write_text(out / EXTRA_PARAMS, json.dumps(margs.extra_params(), indent=2) + "\n")
    return written
