"""Checkpoints in the two public layouts, and the full training state with torch.distributed.checkpoint.

    from llama_model.checkpoint import save_meta, load_meta
    save_meta(model, args, "out/base_model")      # consolidated.00.pth + params.json (reference layout)
    model, args = load_meta("out/base_model")     # torch.load(weights_only=True)

The Hugging Face layout (export with tokenizer and chat template, import) is in llama_model/hf.py.

The training state (model, optimizer, scheduler, data position, RNG, step) is saved with DCP, sharded by
rank, so FSDP2 runs save and load without gathering full weights (`save_train_state` / `load_train_state`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import warnings
from pathlib import Path

import torch

from common.io import atomic_path, write_text
from llama_model.configs import ModelArgs
from llama_model.export import EXTRA_PARAMS, META_PARAMS  # the Meta layout's file names live there
from llama_model.model import Transformer

META_WEIGHTS = "consolidated.00.pth"


# --- Meta (reference) layout ------------------------------------------------------------------------

def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Plain {name: cpu tensor} with the reference key names (gathers FSDP / unwraps DDP and compile)."""
    try:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
        sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    except Exception:   # not wrapped: the plain state dict is already full
        sd = model.state_dict()
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v.detach().cpu().contiguous()
            for k, v in sd.items()}


def _args_from_params(params: dict) -> ModelArgs:
    fields = {f.name for f in dataclasses.fields(ModelArgs)}
    return ModelArgs(**{k: v for k, v in params.items() if k in fields})


def _build(args: ModelArgs, sd: dict[str, torch.Tensor], device: str | torch.device, shard=None) -> Transformer:
    """Build on the meta device (no random init, no memory) and adopt the loaded tensors. With shard (a
    function that applies FSDP2 to the meta model) each rank allocates and copies only its own chunks of
    the (memory-mapped) tensors: no rank ever holds the full model."""
    sd = {k: v for k, v in sd.items() if k != "rope.freqs"}   # LLaMA-1 releases carry a RoPE table
    with torch.device("meta"):
        model = Transformer(args)
    names = {n for n, _ in model.named_parameters()}
    missing, unexpected = sorted(names - set(sd)), sorted(set(sd) - names)
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit {args}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if shard is None:
        model.load_state_dict(sd, assign=True)
        return model.to(device)
    from llama_model.parallel import local_chunk
    shard(model)
    model.to_empty(device=device)
    with torch.no_grad():
        for name, p in model.named_parameters():
            local = p.to_local() if hasattr(p, "to_local") else p
            local.copy_(local_chunk(p, sd[name]).to(local.device, local.dtype))
    return model


def gather_for_save(model: torch.nn.Module, out_dir: str | os.PathLike):
    """Collective (every rank calls it): what rank 0 then passes to save_meta as `gathered`. A replicated
    or single-process model: its full state dict. An FSDP2-sharded one: a DCP checkpoint of its shards in a
    staging folder beside out_dir (shared storage), which save_meta converts parameter by parameter
    (export.export_from_dcp), so no rank ever holds the full weights."""
    from llama_model.parallel import is_sharded, reshard
    if not is_sharded(model):
        return full_state_dict(model)
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict
    reshard(model)                     # the shards, not weights an evaluation pass left gathered
    out = Path(out_dir)
    staging = out.parent / f".{out.name}.dcp"
    if dist.get_rank() == 0:
        shutil.rmtree(staging, ignore_errors=True)
    dist.barrier()
    dcp.save({"model": get_model_state_dict(model)}, checkpoint_id=str(staging))
    return staging


def save_meta(model: torch.nn.Module, args: ModelArgs, out_dir: str | os.PathLike,
              state_dict: dict[str, torch.Tensor] | None = None, gathered=None) -> Path:
    """Write consolidated.00.pth + params.json into out_dir (each file atomically). Pass state_dict when it
    was already gathered (FSDP: full_state_dict is collective, every rank calls it, rank 0 saves), or the
    result of gather_for_save as `gathered` (a DCP staging folder is exported into Meta's release split of
    consolidated.NN.pth files, then removed)."""
    from llama_model.configs import release_files
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(gathered, Path):
        from llama_model.export import export_from_dcp
        export_from_dcp(gathered, out, args, files=release_files(args))
        shutil.rmtree(gathered, ignore_errors=True)
        return out
    if gathered is not None:
        state_dict = gathered
    sd = state_dict if state_dict is not None else full_state_dict(model)
    with atomic_path(out / META_WEIGHTS) as tmp:
        torch.save(sd, tmp)
    write_text(out / META_PARAMS, json.dumps(args.params_json(), indent=2) + "\n")
    write_text(out / EXTRA_PARAMS, json.dumps(args.extra_params(), indent=2) + "\n")
    return out


def load_meta(ckpt_dir: str | os.PathLike, device: str | torch.device = "cpu",
              shard=None) -> tuple[Transformer, ModelArgs]:
    """Load a reference-layout folder (params.json + consolidated.00.pth) into our Transformer; shard: see
    _build (the alignment stages pass llama_model.parallel.shard_stage_model under FSDP2)."""
    d = Path(ckpt_dir)
    for name in (META_PARAMS, META_WEIGHTS):
        if not (d / name).is_file():
            raise FileNotFoundError(f"{d / name}: not a Meta-layout checkpoint (needs {META_PARAMS} + {META_WEIGHTS})")
    params = json.loads((d / META_PARAMS).read_text())
    if (d / EXTRA_PARAMS).is_file():       # absent in Meta's releases: the ModelArgs defaults then apply
        params |= json.loads((d / EXTRA_PARAMS).read_text())
    args = _args_from_params(params)
    files = sorted(d.glob("consolidated.*.pth"))     # Meta's model-parallel split (13B: 2 ... 70B: 8 files)
    sds = [torch.load(f, map_location="cpu", weights_only=True, mmap=True) for f in files]
    if len(sds) == 1:
        return _build(args, sds[0], device, shard), args
    from llama_model.export import merge_model_parallel
    if shard is None:
        return _build(args, merge_model_parallel(sds), device), args
    return _build(args, _LazyMerge(sds, merge_model_parallel), device, shard), args


class _LazyMerge(dict):
    """{name: full tensor} over a model-parallel split, merging one parameter when it is asked for: a
    sharded load then holds one full parameter at a time, never the whole model."""

    def __init__(self, sds: list[dict], merge):
        super().__init__({k: None for k in sds[0]})
        self._sds, self._merge = sds, merge

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._merge([{name: sd[name]} for sd in self._sds])[name]

    def items(self):
        return ((k, self[k]) for k in self)


# --- full training state with torch.distributed.checkpoint --------------------------------------------

def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather_objects(obj) -> list:
    import torch.distributed as dist
    rank, world = _rank_world()
    if world == 1:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


@contextlib.contextmanager
def _quiet_single_process():
    """DCP warns that it runs without a process group; for a 1-process run that is the intent."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class PendingSave:
    """A checkpoint saving in the background (save_train_state(..., async_save=True)): wait() finishes it
    (trainer state, atomic rename). Every rank calls wait() at the same point of the loop."""

    def __init__(self, future, finish):
        self.future, self.finish = future, finish

    def wait(self) -> Path:
        self.future.result()
        return self.finish()


_ASYNC_GROUP = None


def _async_group():
    """A gloo group of its own for background saves, so their collectives never interleave with training's."""
    import torch.distributed as dist
    global _ASYNC_GROUP
    if _rank_world()[1] > 1 and _ASYNC_GROUP is None:
        _ASYNC_GROUP = dist.new_group(backend="gloo")
    return _ASYNC_GROUP


def save_train_state(ckpt_dir: str | os.PathLike, model, optimizer, scheduler=None, loader=None,
                     step: int = 0, extra: dict | None = None, async_save: bool = False) -> Path | PendingSave:
    """Save model + optimizer (sharded, via DCP) and the trainer state (step, scheduler, every rank's loader
    position and RNG) into ckpt_dir; the folder appears atomically (rank 0 renames a temp folder). With
    async_save the shards are copied to CPU memory and written by a background thread: the call returns a
    PendingSave at once and training continues (the folder appears at its wait())."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    rank, world = _rank_world()
    final = Path(ckpt_dir)
    tmp = final.with_name(f".{final.name}.tmp")
    msd, osd = get_state_dict(model, optimizer)
    trainer = {
        "step": step, "world_size": world,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "loader": _gather_objects(loader.state_dict() if loader is not None else None),
        "rng": _gather_objects(rng_state()),
        "extra": extra or {},
    }
    # The trainer state holds non-tensor objects: keep it in a plain file next to the DCP shards.
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    if world > 1:
        dist.barrier()

    def finish() -> Path:
        if rank == 0:
            torch.save(trainer, tmp / "trainer.pt")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        if world > 1:
            dist.barrier()
        return final

    with _quiet_single_process():
        if async_save:
            future = dcp.async_save({"model": msd, "optim": osd}, checkpoint_id=str(tmp),
                                    process_group=_async_group(), no_dist=world == 1)
            return PendingSave(future, finish)
        dcp.save({"model": msd, "optim": osd}, checkpoint_id=str(tmp))
    return finish()


def load_train_state(ckpt_dir: str | os.PathLike, model, optimizer, scheduler=None, loader=None) -> dict:
    """Restore what save_train_state wrote into model, optimizer, scheduler, loader; returns the trainer dict."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    rank, world = _rank_world()
    d = Path(ckpt_dir)
    trainer = torch.load(d / "trainer.pt", weights_only=True)
    msd, osd = get_state_dict(model, optimizer)
    state = {"model": msd, "optim": osd}
    with _quiet_single_process():
        dcp.load(state, checkpoint_id=str(d))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    if scheduler is not None and trainer["scheduler"] is not None:
        scheduler.load_state_dict(trainer["scheduler"])
    # The loader position is global (windows consumed by all ranks), so any rank's entry fits any world
    # size the loader accepts; RNG streams are per rank and only restored for the same world size.
    saved = trainer["loader"][rank if rank < len(trainer["loader"]) else 0]
    if loader is not None and saved is not None:
        loader.load_state_dict(saved)
    if trainer["world_size"] == world:
        set_rng_state(trainer["rng"][rank])
    return trainer


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest step_XXXXXXXX folder under run_dir/checkpoints, or None."""
    d = Path(run_dir) / "checkpoints"
    steps = sorted(p for p in d.glob("step_*") if p.is_dir() and (p / "trainer.pt").is_file()) if d.is_dir() else []
    return steps[-1] if steps else None


__all__ = ["save_meta", "load_meta", "save_train_state", "load_train_state", "latest_checkpoint"]
