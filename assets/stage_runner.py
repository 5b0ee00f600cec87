"""Where a stage of the alignment or evaluation assets runs: in the Dagster process or as a torchrun job.

    m = run_stage(context, launcher, "sft", profile.get().align, base_dir=..., out_dir=...)
    m = run_stage(context, launcher, "base_eval", base_dir=..., report_dir=...)      # eval stages: no align

The stage functions live in llama_model/rlhf/stages.py and llama_model/eval/stages.py, named in
llama_model/rlhf/job.py STAGES. With TrainingLauncher.stages == "local" (the tiny demo's default) the function
runs here; with "launcher" the launcher starts `python -m llama_model.rlhf.job` (subprocess, Kubernetes,
Slurm; torchrun when several processes) and rank 0 sends the same result dict back through Pipes.
"""
from __future__ import annotations

import dataclasses
import json

from resources import TrainingLauncher
from resources.launcher import STAGE_MODULE


def _plain(value):
    """Keyword arguments as JSON: paths as strings, recursively through lists and dicts."""
    if hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def job_args(stage: str, align=None, **kwargs) -> list[str]:
    """The command-line arguments of llama_model.rlhf.job for one stage."""
    args = [stage]
    if align is not None:
        args += ["--align-json", json.dumps(dataclasses.asdict(align))]
    return args + ["--args-json", json.dumps(_plain(kwargs))]


def run_stage(context, launcher: TrainingLauncher, stage: str, align=None, **kwargs) -> dict:
    """The stage's result dict, computed in this process or by the launched job's rank 0."""
    from llama_model.rlhf import job

    if launcher.stages == "local":
        return job.run_stage(stage, kwargs, align, log=context.log.info)
    if launcher.stages != "launcher":
        raise ValueError(f"TrainingLauncher.stages must be local or launcher, not {launcher.stages!r}")
    context.log.info(f"launching {stage} ({launcher.mode}, {launcher.world_size} process(es))")
    args = job_args(stage, align, **kwargs) + ["--parallel", launcher.stage_parallel]
    messages = launcher.launch(context, args, module=STAGE_MODULE).get_custom_messages()
    if not messages:
        raise RuntimeError(f"the {stage} job finished without reporting its result")
    return messages[-1]
