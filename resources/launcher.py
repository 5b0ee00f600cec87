"""How training runs are launched: torchrun through Dagster Pipes, here, on Kubernetes or on Slurm.

    launcher = TrainingLauncher(mode="subprocess", nproc_per_node=2)   # this machine (the default, 1 process)
    launcher = TrainingLauncher(mode="k8s", image="registry/llama-pipeline:1", gpus_per_node=8)
    launcher = TrainingLauncher(mode="slurm", nnodes=16, gpus_per_node=8, partition="gpu", shared_dir="/shared/pipes")
    invocation = launcher.launch(context, ["--profile", "tiny", "--shards", ..., "--out", ...])
    launcher.launch(context, ["sft", "--align-json", ..., "--args-json", ...], module="llama_model.rlhf.job")

Every mode runs an entry point module (`llama_model.train` for pretraining, `llama_model.rlhf.job` for the
alignment and evaluation stages) under `torchrun` when there is more than one process; rank 0 talks to Dagster through
`dagster_pipes`, so logs stream into the run and results come back to the asset.
- subprocess: `dg.PipesSubprocessClient` on this machine (`torchrun --standalone --nproc-per-node N`).
- k8s, one node: one pod from `image` with N GPUs through `dagster_k8s.PipesK8sClient` (optional
  dependency: `pip install dagster-k8s`).
- k8s, nnodes > 1: an indexed Job of nnodes pods plus a headless Service (resources/k8s_job.py), pod i is
  torchrun's node i, rendezvous on pod 0; submitted with kubectl from this machine, Pipes context and
  messages through files in `shared_dir`, which must be on the volume claim the pods mount (same path).
- slurm: `srun` over `nnodes` nodes, one torchrun per node, rendezvous on the first node; launched from the
  login node with PipesSubprocessClient, context and messages through files in `shared_dir` (a
  filesystem the compute nodes see).
`stages`: "local" runs the alignment and evaluation stages inside the Dagster process (the tiny demo's default, fastest on
a laptop); "launcher" sends them through this launcher like pretraining. `from_env` reads every field
from LLAMA_* variables (see ENV); Dagster run config can set any field too
(`resources: {launcher: {config: {mode: slurm, nnodes: 16, ...}}}`).
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import dagster as dg

from resources.k8s_job import indexed_job_manifest

TRAIN_MODULE = "llama_model.train"
STAGE_MODULE = "llama_model.rlhf.job"

# Environment variable -> field. Numbers are parsed as int; everything else is a string.
ENV = {"LLAMA_LAUNCHER": "mode", "LLAMA_NPROC": "nproc_per_node", "LLAMA_NNODES": "nnodes",
       "LLAMA_GPUS_PER_NODE": "gpus_per_node", "LLAMA_CPUS_PER_NODE": "cpus_per_node", "LLAMA_PYTHON": "python",
       "LLAMA_K8S_IMAGE": "image", "LLAMA_K8S_NAMESPACE": "namespace", "LLAMA_K8S_SERVICE_ACCOUNT": "service_account",
       "LLAMA_K8S_VOLUME_CLAIM": "volume_claim", "LLAMA_K8S_DATA_MOUNT": "data_mount",
       "LLAMA_SLURM_PARTITION": "partition", "LLAMA_SLURM_ACCOUNT": "account", "LLAMA_SLURM_TIME": "time_limit",
       "LLAMA_SHARED_DIR": "shared_dir", "LLAMA_RDZV_PORT": "rdzv_port", "LLAMA_STAGES": "stages",
       "LLAMA_STAGE_PARALLEL": "stage_parallel", "LLAMA_TP": "tp"}


# Accepted values, checked when the Definitions load (from_env) and again before a launch (validate).
CHOICES = {"mode": ("subprocess", "k8s", "slurm"), "stages": ("local", "launcher"),
           "stage_parallel": ("auto", "fsdp", "replicate")}
# Smallest value of each integer field: a count of nodes or processes is at least 1, a resource request
# may be 0 (= ask for none / leave it to the scheduler), a port is a port.
INT_RANGES = {"nproc_per_node": (1, 4096), "nnodes": (1, 100_000), "gpus_per_node": (0, 4096),
              "cpus_per_node": (0, 1_000_000), "rdzv_port": (1, 65535), "tp": (0, 4096)}


class TrainingLauncher(dg.ConfigurableResource):
    mode: str = "subprocess"                 # subprocess | k8s | slurm
    stages: str = "local"                    # alignment + eval stages: local (in the Dagster process) | launcher
    stage_parallel: str = "auto"             # launched stages' models: auto (fsdp on GPU) | fsdp | replicate
    tp: int = 0                              # tensor-parallel degree (--tp); 0 = the profile's train.tp / align.tp
    nproc_per_node: int = 1                  # processes (GPUs) per node; 1 = plain python, no torchrun
    nnodes: int = 1                          # slurm, k8s (indexed Job when > 1)
    gpus_per_node: int = 0                   # k8s / slurm resource request
    cpus_per_node: int = 0                   # k8s / slurm; 0 = leave to the scheduler
    python: str = ""                         # interpreter; default: the one running Dagster
    env: dict[str, str] = {}                 # extra environment for the training processes
    # Kubernetes
    image: str = "llama-pipeline:latest"
    namespace: str = "default"
    service_account: str = ""
    volume_claim: str = ""                   # PVC mounted at data_mount (artifacts, checkpoints)
    data_mount: str = "/data"
    # Slurm
    partition: str = ""
    account: str = ""
    time_limit: str = ""                     # e.g. "72:00:00"
    shared_dir: str = ""                     # Pipes context/messages files visible from the compute nodes
    rdzv_port: int = 29500

    @classmethod
    def from_env(cls, environ: dict | None = None) -> TrainingLauncher:
        """A launcher configured from LLAMA_* variables (ENV); unset ones keep the defaults."""
        environ = os.environ if environ is None else environ
        kw = {}
        for var, name in ENV.items():
            value = environ.get(var)
            if value:
                try:
                    kw[name] = int(value) if name in INT_RANGES else value.strip().lower() if name in CHOICES else value
                except ValueError:
                    raise ValueError(f"${var}={value!r}: expected an integer") from None
        launcher = cls(**kw)
        launcher.validate({name: var for var, name in ENV.items() if environ.get(var)})
        return launcher

    def validate(self, names: dict[str, str] | None = None) -> None:
        """One-line ValueError for a value no launch could use (names: field -> the variable that set it)."""
        names = names or {}
        for field, allowed in CHOICES.items():
            if getattr(self, field) not in allowed:
                where = f"${names[field]}" if field in names else f"TrainingLauncher.{field}"
                raise ValueError(f"{where} must be {', '.join(allowed[:-1])} or {allowed[-1]}, "
                                 f"not {getattr(self, field)!r}")
        for field, (low, high) in INT_RANGES.items():
            value = getattr(self, field)
            if not low <= value <= high:
                where = f"${names[field]}" if field in names else f"TrainingLauncher.{field}"
                raise ValueError(f"{where} must be a whole number from {low} to {high}, got {value}")

    @property
    def world_size(self) -> int:
        return max(1, self.nnodes) * max(1, self.nproc_per_node)

    # --- commands ----------------------------------------------------------------------------------

    def with_tp(self, train_args: list[str]) -> list[str]:
        """The entry point's arguments plus --tp when this launcher sets a tensor-parallel degree (both
        llama_model.train and llama_model.rlhf.job take it; it must divide the world size)."""
        args = [str(a) for a in train_args]
        return args + ["--tp", str(self.tp)] if self.tp > 0 and "--tp" not in args else args

    def _python(self) -> str:
        return self.python or sys.executable

    def train_command(self, train_args: list[str], module: str = TRAIN_MODULE) -> list[str]:
        """The command of one node: plain python for one process, else torchrun --standalone."""
        args = [str(a) for a in train_args]
        if self.nproc_per_node <= 1:
            return [self._python(), "-m", module, *args]
        return [self._python(), "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", str(self.nproc_per_node), "-m", module, *args]

    def srun_command(self, train_args: list[str], module: str = TRAIN_MODULE) -> list[str]:
        """srun on nnodes nodes, one torchrun per node; rank-0 host found from the allocation's node list."""
        if self.mode != "slurm":
            raise ValueError("srun_command is for mode='slurm'")
        srun = ["srun", f"--nodes={self.nnodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
        if self.gpus_per_node:
            srun.append(f"--gpus-per-node={self.gpus_per_node}")
        if self.cpus_per_node:
            srun.append(f"--cpus-per-task={self.cpus_per_node}")
        for flag, value in (("--partition", self.partition), ("--account", self.account), ("--time", self.time_limit)):
            if value:
                srun.append(f"{flag}={value}")
        # The remote shell on each node expands the Slurm variables; our own arguments are quoted.
        script = " ".join([
            "exec", shlex.quote(self._python()), "-m", "torch.distributed.run",
            "--nnodes", str(self.nnodes), "--nproc-per-node", str(max(1, self.nproc_per_node)),
            "--rdzv-backend", "c10d", "--rdzv-id", '"$SLURM_JOB_ID"',
            "--rdzv-endpoint", f'"$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1):{self.rdzv_port}"',
            "-m", module, *(shlex.quote(str(a)) for a in train_args)])
        return [*srun, "bash", "-c", script]

    def k8s_job_manifest(self, train_args: list[str], name: str, module: str = TRAIN_MODULE,
                         env: dict[str, str] | None = None) -> list[dict]:
        """The multi-node Kubernetes objects (headless Service + indexed Job) for nnodes pods."""
        return indexed_job_manifest(
            name=name, namespace=self.namespace, image=self.image, nnodes=self.nnodes,
            nproc_per_node=max(1, self.nproc_per_node), gpus_per_node=self.gpus_per_node,
            cpus_per_node=self.cpus_per_node, module=module, args=[str(a) for a in train_args],
            env=dict(self.env) | (env or {}), service_account=self.service_account,
            volume_claim=self.volume_claim, data_mount=self.data_mount, port=self.rdzv_port)

    def k8s_run_kwargs(self, train_args: list[str], module: str = TRAIN_MODULE) -> dict:
        """Keyword arguments of PipesK8sClient.run (minus context): image, command, pod spec."""
        resources: dict = {}
        if self.gpus_per_node:
            resources = {"limits": {"nvidia.com/gpu": self.gpus_per_node},
                         "requests": {"nvidia.com/gpu": self.gpus_per_node}}
        if self.cpus_per_node:
            resources.setdefault("requests", {})["cpu"] = str(self.cpus_per_node)
        container: dict = {"resources": resources} if resources else {}
        spec: dict = {"restart_policy": "Never"}
        if self.service_account:
            spec["service_account_name"] = self.service_account
        if self.volume_claim:
            spec["volumes"] = [{"name": "data", "persistent_volume_claim": {"claim_name": self.volume_claim}}]
            container["volume_mounts"] = [{"name": "data", "mount_path": self.data_mount}]
        # torchrun needs shared memory beyond the default 64 MB for its worker processes.
        spec.setdefault("volumes", []).append({"name": "dshm", "empty_dir": {"medium": "Memory"}})
        container.setdefault("volume_mounts", []).append({"name": "dshm", "mount_path": "/dev/shm"})
        spec["containers"] = [container]
        command = self.train_command(train_args, module)
        command[0] = "python"                   # the image's interpreter, not this machine's
        return {"image": self.image, "command": command, "namespace": self.namespace,
                "env": dict(self.env), "base_pod_spec": spec,
                "base_pod_meta": {"labels": {"app": "llama-pipeline", "component": "train"}}}

    # --- launching ---------------------------------------------------------------------------------

    def _file_client(self, context) -> dg.PipesSubprocessClient:
        """Pipes through files in shared_dir (Slurm nodes, multi-node pods): they cannot see our pipes."""
        if not self.shared_dir:
            raise ValueError(f"mode={self.mode!r} with several nodes needs shared_dir: a folder both this "
                             "machine and the nodes see")
        shared = Path(self.shared_dir)
        shared.mkdir(parents=True, exist_ok=True)
        run_id = context.run.run_id
        return dg.PipesSubprocessClient(
            env=dict(self.env),
            context_injector=dg.PipesFileContextInjector(str(shared / f"{run_id}-context.json")),
            message_reader=dg.PipesFileMessageReader(str(shared / f"{run_id}-messages.jsonl")))

    def launch(self, context, train_args: list[str], extras: dict | None = None,
               module: str = TRAIN_MODULE) -> dg.PipesClientCompletedInvocation:
        """Run `module` for `context` (an asset context) and wait; Pipes messages flow back into the run."""
        self.validate()          # run config can set fields the environment check never saw
        train_args = self.with_tp(train_args)
        if self.mode == "subprocess":
            client = dg.PipesSubprocessClient(env=dict(self.env))
            return client.run(context=context, command=self.train_command(train_args, module), extras=extras)
        if self.mode == "k8s" and self.nnodes > 1:
            if not self.shared_dir:
                raise ValueError("mode='k8s' with several nodes needs shared_dir: a folder both this "
                                 "machine and the nodes see")
            name = f"llama-{context.run.run_id[:8]}-{context.asset_key.path[-1].replace('_', '-')}"[:52]
            manifest = Path(self.shared_dir) / f"{name}.json"
            manifest.parent.mkdir(parents=True, exist_ok=True)
            manifest.write_text(json.dumps(self.k8s_job_manifest(train_args, name, module), indent=2))
            command = [sys.executable, "-m", "resources.k8s_job", "submit", str(manifest)]
            return self._file_client(context).run(context=context, command=command, extras=extras)
        if self.mode == "k8s":
            try:
                from dagster_k8s import PipesK8sClient
            except ImportError as e:
                raise RuntimeError("mode='k8s' needs dagster-k8s: pip install dagster-k8s") from e
            return PipesK8sClient().run(context=context, extras=extras, **self.k8s_run_kwargs(train_args, module))
        if self.mode == "slurm":
            if not self.shared_dir:
                raise ValueError("mode='slurm' needs shared_dir: a folder both this machine and the nodes see")
            return self._file_client(context).run(context=context, command=self.srun_command(train_args, module),
                                                  extras=extras)
        raise ValueError(f"TrainingLauncher.mode must be subprocess, k8s or slurm, not {self.mode!r}")
