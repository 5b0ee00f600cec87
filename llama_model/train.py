"""Pretraining entry point (SPEC §3): runs standalone, under torchrun, or launched by Dagster through Pipes.

    python -m llama_model.train --profile tiny --shards data/token_shards --out runs/pretrain
    torchrun --standalone --nproc-per-node 8 -m llama_model.train --profile llama-7b --shards ... --out ...
    torchrun ... --nproc-per-node 8 -m llama_model.train --profile llama2-70b --tp 8 ...   # 2-D: FSDP2 x TP
    python -m llama_model.train --profile tiny --synthetic --out /tmp/run        # no data needed
    python -m llama_model.train --profile small --set model.dim=2048 --set model.n_layers=16 ...  # overrides

AdamW (β 0.9/0.95, eps 1e-5), weight decay 0.1 on matrices only (not norms), gradient clipping 1.0,
linear warm-up then cosine decay to 10% of the peak; bf16 autocast on GPU; FSDP2 (`fully_shard`, default on
GPU when world_size > 1) or DDP (default on CPU, gloo); with --tp N (default: the profile's train.tp) a
(data × tensor) mesh: tensor + sequence parallelism inside each block over N ranks, FSDP2 over the
world / N data-parallel groups (llama_model/tensor_parallel.py). The global batch (profile.train.batch_tokens) is
split over the data-parallel ranks and micro-batches (gradient accumulation), so the run is the same whatever the world size.

Every `checkpoint_every` steps the full state (model, optimizer, scheduler, loader position, RNG) is saved
with torch.distributed.checkpoint under OUT/checkpoints/step_N; a restarted run resumes from the newest
one and continues the loss sequence exactly. Per-step metrics go to OUT/metrics.jsonl (loss, lr, grad
norm, tokens/s, MFU = 6·N·tokens/s / peak); the final weights to OUT in the reference Meta layout, a
summary to OUT/summary.json. When launched by Dagster (PipesSubprocessClient / PipesK8sClient) rank 0
streams logs and reports the final metrics through `dagster_pipes`; run by hand, Pipes stays off.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from llama_model.checkpoint import (
    PendingSave,
    full_state_dict,
    latest_checkpoint,
    load_train_state,
    save_meta,
    save_train_state,
)
from llama_model.configs import ModelArgs, TrainArgs, get_profile
from llama_model.export import export_from_dcp
from llama_model.parallel import (
    build_model,
    clip_grad_norm,
    init_distributed,
    init_mesh,
    open_pipes,
    parallel_mode,
    peak_flops,
    rank_world,
)
from llama_model.train_log import MetricsLog, loss_decrease, pipes_metadata, plot_loss_curve, read_metrics, summarize  # noqa: F401


@dataclass
class RunConfig:
    profile: str = "tiny"
    out: str = "runs/pretrain"                # metrics, checkpoints and final weights go here
    shards: str | None = None                 # token_shards folder; None -> synthetic data
    steps: int | None = None                  # override the profile's steps (total_tokens / batch)
    stop_after: int | None = None             # stop after this many steps in this process (tests a kill)
    resume: bool = True                       # continue from the newest checkpoint under out/
    device: str = "auto"                      # auto | cpu | cuda
    parallel: str = "auto"                    # auto | ddp | fsdp (only when world_size > 1)
    tp: int | None = None                     # tensor-parallel degree; None: the profile's train.tp
    activation_checkpointing: str | None = None   # None | full | selective
    compile: bool = False                     # torch.compile each block (GPU)
    peak_tflops: float | None = None          # per-device peak for MFU; default by device (see peak_flops)
    eval_batches: int = 8                     # validation batches per source at each evaluation
    keep_checkpoints: int = 2
    async_checkpoint: bool = False            # write checkpoints in the background (the final one is synchronous)
    model_overrides: dict = field(default_factory=dict)
    train_overrides: dict = field(default_factory=dict)


# --- data -------------------------------------------------------------------------------------------

def make_loader(cfg: RunConfig, margs: ModelArgs, targs: TrainArgs, micro: int, rank: int, world: int):
    from llama_model.data import SyntheticLoader, TokenLoader
    if cfg.shards is None:
        return SyntheticLoader(margs.vocab_size, "train", targs.seq_len, micro, targs.seed, rank, world)
    meta_path = Path(cfg.shards) / "meta.json"
    vocab = json.loads(meta_path.read_text()).get("vocab_size") if meta_path.exists() else None
    if vocab and vocab > margs.vocab_size:
        raise ValueError(f"{meta_path}: the shards use a {vocab}-token vocabulary, the model has "
                         f"{margs.vocab_size} embeddings (profile {cfg.profile})")
    return TokenLoader(cfg.shards, "train", targs.seq_len, micro, targs.seed, rank, world)


# --- optimization ----------------------------------------------------------------------------------

def lr_lambda(targs: TrainArgs, total_steps: int):
    """Multiplier of the peak lr at step s: linear warm-up, then cosine down to min_lr_ratio."""
    warmup = min(targs.warmup_steps, max(1, total_steps - 1))

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return targs.min_lr_ratio + (1 - targs.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse (no heap trimming, no mmap for big blocks). A training
    step frees and reallocates the same large activations every step; by default glibc hands them back
    to the OS and every step pays page faults for them again (~4% of a CPU step at the `small` shape,
    benchmarks/train.py --keep-freed-memory). Returns whether it applied (glibc only)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3          # from <malloc.h>
        return bool(libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


def build_optimizer(model: torch.nn.Module, targs: TrainArgs, fused: bool = True):
    """AdamW; weight decay on matrices (linear layers, embeddings) only, not on the RMSNorm gains.
    The fused kernel (one pass per parameter; CPU and GPU) is ~4x faster than the per-op one on CPU."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": targs.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=targs.lr, betas=tuple(targs.betas), eps=targs.eps, fused=fused)


def _apply_overrides(obj, overrides: dict):
    fields = {f.name: f for f in dataclasses.fields(obj)}
    typed = {}
    for k, v in overrides.items():
        if k not in fields:
            raise ValueError(f"unknown field {k!r} of {type(obj).__name__}; fields: {', '.join(fields)}")
        current = getattr(obj, k)
        typed[k] = _parse_value(v, current) if isinstance(v, str) else v
    return dataclasses.replace(obj, **typed)


def _parse_value(text: str, current):
    if text.lower() in ("none", "null"):
        return None
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(current, (int, float)):
        return type(current)(float(text)) if isinstance(current, int) and "e" in text.lower() else type(current)(text)
    if current is None:
        for cast in (int, float):
            try:
                return cast(text)
            except ValueError:
                pass
    return text


# --- the loop ---------------------------------------------------------------------------------------

def evaluate(model: torch.nn.Module, loader, batches: int, device: torch.device, amp) -> dict:
    """Validation loss / perplexity per source (and pooled over all) on up to `batches` batches each."""
    from llama_model.eval.perplexity import perplexity_per_source

    sources = loader.val_sources() if hasattr(loader, "val_sources") else []
    if not sources or batches <= 0:
        return {}
    with amp():
        return perplexity_per_source(model, {s: (w.to(device) for w in loader.val_windows(s)) for s in sources},
                                     max_batches=batches)


def train(cfg: RunConfig) -> dict:
    rank, world, device = init_distributed(cfg.device)
    profile = get_profile(cfg.profile)
    margs = _apply_overrides(profile.model, cfg.model_overrides)
    targs = _apply_overrides(profile.train, cfg.train_overrides)
    total_steps = cfg.steps or targs.steps
    batch_seqs = targs.batch_seqs
    # One process cannot split a layer: the profile's tp applies from 2 ranks on (world % tp == 0).
    tp = (cfg.tp or targs.tp) if world > 1 else 1
    init_mesh(tp, device.type)
    dp_rank, dp = rank_world()                 # the ranks of one tensor-parallel group read the same batches
    micro, accum = targs.split(dp)             # micro x accum x dp == batch_seqs
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(targs.seed)
    mode = parallel_mode(cfg.parallel, world, device, tp)
    if mode == "fsdp" and world == 1 and not dist.is_initialized():
        # FSDP2 asked for on one process (its bf16 path on one GPU): a 1-rank group of its own
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=dist.HashStore(), rank=0,
                                world_size=1)
    fsdp = mode in ("fsdp", "2d")              # sharded: DCP export, evaluation through the wrapped model
    # Meta device, then only this rank's shard allocated; per-parameter seeded init, so the weights are the
    # same whatever the world size and parallelism (llama_model/parallel.py).
    ac = cfg.activation_checkpointing or targs.activation_checkpointing
    model, raw = build_model(margs, targs.seed, world, device, mode, ac, cfg.compile)
    n_params = margs.num_params()
    optimizer = build_optimizer(model, targs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(targs, total_steps))
    loader = make_loader(cfg, margs, targs, micro, dp_rank, dp)
    use_amp = device.type == "cuda"

    def amp():
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()

    start_step = 0
    ckpt = latest_checkpoint(out) if cfg.resume else None
    if ckpt is not None:
        start_step = load_train_state(ckpt, model, optimizer, scheduler, loader)["step"]
    log = MetricsLog(out / "metrics.jsonl", start_step, enabled=rank == 0)
    peak = peak_flops(device, cfg.peak_tflops)
    tokens_per_step = batch_seqs * targs.seq_len

    with open_pipes(rank) as pipes:
        if pipes is not None:
            pipes.log.info(f"training {n_params:,} parameters for {total_steps} steps "
                           f"({dp} x {accum} x {micro} x {targs.seq_len} tokens/step, tp {tp}) from step {start_step}")
        step, ran, t_start, rates, last_val, pending = start_step, 0, time.perf_counter(), [], {}, None
        while step < total_steps and (cfg.stop_after is None or ran < cfg.stop_after):
            t0 = time.perf_counter()
            model.train()
            lr = scheduler.get_last_lr()[0]
            loss_sum = torch.zeros((), device=device)
            for m in range(accum):
                x, y = loader.next_batch()
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                last = m == accum - 1
                # Reduce gradients across ranks only on the last micro-batch (DDP no_sync / FSDP2 flag).
                if hasattr(model, "set_requires_gradient_sync"):
                    model.set_requires_gradient_sync(last)
                sync = model.no_sync() if (not last and hasattr(model, "no_sync")) else contextlib.nullcontext()
                with sync:
                    with amp():
                        # Loss fused with the output projection: the [batch, seq, vocab] logits are never stored.
                        loss = model(x, targets=y) / accum
                    loss.backward()
                loss_sum += loss.detach()
            if mode == "2d":      # DTensors on two meshes (blocks: dp x tp, root: dp), which torch's clip won't mix
                grad_norm = clip_grad_norm(list(model.parameters()), targs.grad_clip)
            else:
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), targs.grad_clip)
            if hasattr(grad_norm, "full_tensor"):       # FSDP2 returns a DTensor
                grad_norm = grad_norm.full_tensor()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if world > 1:
                dist.all_reduce(loss_sum)
                loss_sum /= world
            step, ran = step + 1, ran + 1
            loss_value = float(loss_sum)                  # also synchronizes the device
            dt = time.perf_counter() - t0
            tps = tokens_per_step / dt
            if ran > 1:                                   # the first step includes warm-up costs
                rates.append(tps)
            record = {"step": step, "loss": loss_value, "lr": lr, "grad_norm": float(grad_norm),
                      "tokens": step * tokens_per_step, "tokens_per_s": tps,
                      "mfu": 6 * n_params * tps / (peak * world), "step_s": dt}
            if step % targs.eval_every == 0 or step == total_steps:
                last_val = evaluate(model if fsdp else raw, loader,
                                    cfg.eval_batches, device, amp)
                record["val"] = last_val
            log.write(record)
            if pipes is not None and (step % max(1, total_steps // 20) == 0 or step == total_steps):
                pipes.log.info(f"step {step}/{total_steps} loss {loss_value:.4f} lr {lr:.2e} "
                               f"grad_norm {float(grad_norm):.3f} tokens/s {tps:,.0f}")
            if step % targs.checkpoint_every == 0 or step == total_steps:
                if pending is not None:                   # the previous background save must be complete
                    pending.wait()
                saved = save_train_state(out / "checkpoints" / f"step_{step:08d}", model, optimizer, scheduler,
                                         loader, step, async_save=cfg.async_checkpoint and step < total_steps)
                pending = saved if isinstance(saved, PendingSave) else None
                if rank == 0 and pending is None:
                    _prune_checkpoints(out, cfg.keep_checkpoints)
        if pending is not None:
            pending.wait()
        log.close()

        summary = {}
        if step >= total_steps:
            if fsdp:      # from the final DCP checkpoint, tensor by tensor: no full model on any device
                if rank == 0:
                    export_from_dcp(out / "checkpoints" / f"step_{step:08d}", out, margs, targs.export_files)
            else:
                sd = full_state_dict(model)
                if rank == 0:
                    save_meta(raw, margs, out, state_dict=sd)
            if rank == 0:
                summary = summarize(out / "metrics.jsonl", n_params, world, time.perf_counter() - t_start, rates)
                (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
                if pipes is not None:
                    pipes.log.info(f"done: final loss {summary['final_loss']:.4f}")
                    pipes.report_asset_materialization(metadata=pipes_metadata(summary))
    if world > 1:
        dist.barrier()
    init_mesh(1)
    return summary


def _prune_checkpoints(out: Path, keep: int) -> None:
    steps = sorted((out / "checkpoints").glob("step_*"))
    for old in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


# --- command line -----------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> RunConfig:
    p = argparse.ArgumentParser(prog="python -m llama_model.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default=os.environ.get("LLAMA_PROFILE", "tiny"))
    p.add_argument("--out", required=True)
    p.add_argument("--shards", help="token_shards folder (default: synthetic data)")
    p.add_argument("--synthetic", action="store_true", help="train on the synthetic stream (no --shards)")
    p.add_argument("--steps", type=int)
    p.add_argument("--stop-after", type=int, help="stop after N steps of this process (simulates a kill)")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--parallel", default="auto", choices=["auto", "ddp", "fsdp"])
    p.add_argument("--tp", type=int, help="tensor-parallel degree (default: the profile's train.tp); it must "
                                          "divide the world size; FSDP2 runs over the world / tp data ranks")
    p.add_argument("--ac", default=None, choices=["none", "full", "selective"],
                   help="activation checkpointing (default: the profile's train.activation_checkpointing)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--peak-tflops", type=float)
    p.add_argument("--async-checkpoint", action="store_true", help="write checkpoints in the background")
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--set", action="append", default=[], metavar="model.FIELD=V|train.FIELD=V",
                   help="override a profile field, e.g. --set model.dim=2048 --set train.micro_batch=8")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    overrides: dict[str, dict] = {"model": {}, "train": {}}
    for item in a.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if section not in overrides or not name or not value:
            raise SystemExit(f"--set {item!r}: expected model.FIELD=VALUE or train.FIELD=VALUE")
        overrides[section][name] = value
    return RunConfig(profile=a.profile, out=a.out, shards=None if a.synthetic else a.shards, steps=a.steps,
                     stop_after=a.stop_after, resume=not a.no_resume, device=a.device, parallel=a.parallel, tp=a.tp,
                     activation_checkpointing=a.ac, compile=a.compile, peak_tflops=a.peak_tflops,
                     eval_batches=a.eval_batches, async_checkpoint=a.async_checkpoint,
                     model_overrides=overrides["model"],
                     train_overrides=overrides["train"])


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.device == "cpu" or not torch.cuda.is_available():
        keep_freed_memory()               # this process is ours: a process-wide allocator setting is fine
    try:
        summary = train(cfg)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if summary:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
