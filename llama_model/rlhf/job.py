"""The alignment and evaluation stages as torchrun jobs: what TrainingLauncher runs for SFT, preferences, the
reward models, rejection sampling (generation + fine-tuning), PPO and the three evaluation reports when they
leave the Dagster process.

    python -m llama_model.rlhf.job sft --align-json '{...AlignArgs...}' --args-json '{"base_dir": ..., "out_dir": ...}'
    torchrun --standalone --nproc-per-node 4 -m llama_model.rlhf.job reward_model --align-json ... --args-json ...
    torchrun --standalone --nproc-per-node 2 -m llama_model.rlhf.job base_eval --args-json '{"base_dir": ...}'

Every rank runs the stage function of llama_model/rlhf/stages.py (or llama_model/eval/stages.py) with the
same arguments: generation and RM scoring are split over the ranks by prompt chunk (policy.sample_answers,
RewardModel.score), the gradient steps and the validation perplexity are data parallel (sft.fit, ppo,
eval/perplexity.py), and rank 0 writes the artifacts. The evaluation stages take no AlignArgs (--align-json
is then not needed). The models are FSDP2-sharded on GPU and replicated on CPU ($LLAMA_STAGE_PARALLEL,
llama_model/parallel.py stage_mode); with --tp N (default: AlignArgs.tp) the alignment stages run on a
(data × tensor) mesh instead: tensor + sequence parallelism inside each block over N ranks, FSDP2 over the
world / N data ranks, the data split over the data ranks only (llama_model/tensor_parallel.py). The evaluation
stages stay data parallel. On GPU the stage computes under bf16 autocast (and FSDP2's bf16
MixedPrecisionPolicy, fp32 master weights). When
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

from common.io import write_text
from llama_model.configs import AlignArgs
from llama_model.eval import stages as eval_stages
from llama_model.parallel import init_distributed, init_mesh, open_pipes
from llama_model.rlhf import stages

STAGES = {"sft": stages.run_sft, "preferences": stages.write_preferences,
          "reward_model": stages.run_reward_model, "rejection": stages.run_rejection, "ppo": stages.run_ppo,
          "base_eval": eval_stages.run_base_eval, "rm_eval": eval_stages.run_reward_model_eval,
          "chat_eval": eval_stages.run_chat_eval}


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


def run_stage(stage: str, kwargs: dict, align: AlignArgs | None = None, log=print) -> dict:
    """STAGES[stage](**kwargs), given `log` and `align` when it takes them (the eval stages take no align)."""
    fn = STAGES[stage]
    params = inspect.signature(fn).parameters
    if "log" in params:
        kwargs = dict(kwargs, log=log)
    if "align" in params:
        if align is None:
            raise ValueError(f"stage {stage} needs the profile's AlignArgs (--align-json)")
        kwargs = dict(kwargs, align=align)
    return fn(**kwargs)


def stage_tp(stage: str, align: AlignArgs | None, world: int, requested: int | None = None) -> int:
    """The tensor-parallel degree of a stage job: --tp, else AlignArgs.tp, for the alignment stages on more
    than one rank; 1 for one process and for the evaluation stages (data parallel only)."""
    if world == 1 or "align" not in inspect.signature(STAGES[stage]).parameters:
        return 1
    tp = requested or (align.tp if align is not None else 1)
    if world % tp:
        raise ValueError(f"--tp {tp} does not divide the {world} ranks")
    return tp


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llama_model.rlhf.job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=sorted(STAGES))
    p.add_argument("--align-json", help="the profile's AlignArgs as JSON (dataclasses.asdict); alignment stages")
    p.add_argument("--args-json", required=True, help="keyword arguments of the stage function (paths)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--result-json", help="rank 0 also writes the stage's result dict here (runs outside Dagster)")
    p.add_argument("--parallel", choices=["auto", "fsdp", "replicate"],
                   help="models FSDP2-sharded or replicated over the ranks (sets $LLAMA_STAGE_PARALLEL; "
                        "default: the variable, else auto = fsdp on GPU, replicate on CPU)")
    p.add_argument("--tp", type=int, help="tensor-parallel degree of the alignment stages (default: AlignArgs.tp); "
                                          "it must divide the world size")
    a = p.parse_args(argv)
    align = align_from_json(a.align_json) if a.align_json else None
    kwargs = json.loads(a.args_json)
    rank, world, device = init_distributed(a.device)
    init_mesh(stage_tp(a.stage, align, world, a.tp), device.type)
    os.environ["LLAMA_STAGE_DEVICE"] = str(device)
    if a.parallel:
        os.environ["LLAMA_STAGE_PARALLEL"] = a.parallel
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
            if a.result_json and rank == 0:
                write_text(a.result_json, json.dumps(jsonable(result), indent=2) + "\n")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
