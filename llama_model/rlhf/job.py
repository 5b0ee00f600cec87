"""The alignment stages as torchrun jobs: what TrainingLauncher runs for SFT, preferences, the reward models,
rejection sampling (generation + fine-tuning) and PPO when they leave the Dagster process.

    python -m llama_model.rlhf.job sft --align-json '{...AlignArgs...}' --args-json '{"base_dir": ..., "out_dir": ...}'
    torchrun --standalone --nproc-per-node 4 -m llama_model.rlhf.job reward_model --align-json ... --args-json ...

Every rank runs the stage function of llama_model/rlhf/stages.py with the same arguments: generation and
RM scoring are split over the ranks by prompt chunk (policy.sample_answers, RewardModel.score), the gradient
steps are data parallel (sft.fit, ppo), and rank 0 writes the artifacts. The models are FSDP2-sharded on GPU
and replicated on CPU ($LLAMA_STAGE_PARALLEL, llama_model/parallel.py stage_mode); on GPU the stage
computes under bf16 autocast (and FSDP2's bf16 MixedPrecisionPolicy, fp32 master weights). When
launched by Dagster, rank 0 streams logs through Pipes and sends the stage's result dict back as a custom
message (the asset turns it into metadata, exactly as for an in-process run).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import math
import os
import sys

import torch
import torch.distributed as dist

from llama_model.configs import AlignArgs
from llama_model.parallel import init_distributed, open_pipes
from llama_model.rlhf import stages

STAGES = {"sft": stages.run_sft, "preferences": stages.write_preferences,
          "reward_model": stages.run_reward_model, "rejection": stages.run_rejection, "ppo": stages.run_ppo}


def align_from_json(text: str) -> AlignArgs:
    """AlignArgs from its asdict() JSON (tuples come back as lists; every field must be known)."""
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(AlignArgs)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"--align-json: unknown AlignArgs fields {sorted(unknown)}")
    return AlignArgs(**data)


def jsonable(x):
    """The stage's result with NaN as None and non-JSON values as strings (it travels as a Pipes message)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def run_stage(stage: str, kwargs: dict, align: AlignArgs, log=print) -> dict:
    fn = STAGES[stage]
    if "log" in inspect.signature(fn).parameters:
        kwargs = dict(kwargs, log=log)
    return fn(**kwargs, align=align)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llama_model.rlhf.job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=sorted(STAGES))
    p.add_argument("--align-json", required=True, help="the profile's AlignArgs as JSON (dataclasses.asdict)")
    p.add_argument("--args-json", required=True, help="keyword arguments of the stage function (paths)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a = p.parse_args(argv)
    align, kwargs = align_from_json(a.align_json), json.loads(a.args_json)
    rank, world, device = init_distributed(a.device)
    os.environ["LLAMA_STAGE_DEVICE"] = str(device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    try:
        with open_pipes(rank) as pipes:
            log = pipes.log.info if pipes is not None else (print if rank == 0 else (lambda _m: None))
            if pipes is not None:
                log(f"{a.stage}: {world} rank(s) on {device.type}")
            with amp:
                result = run_stage(a.stage, kwargs, align, log)
            if world > 1:
                dist.barrier()                       # rank 0 has written the artifacts
            if pipes is not None:
                pipes.report_custom_message(jsonable(result))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
