"""How training runs are launched: torchrun through Dagster Pipes, here, on Kubernetes or on Slurm.

    launcher = TrainingLauncher(mode="subprocess", nproc_per_node=2)   # this machine (the default, 1 process)
    launcher = TrainingLauncher(mode="k8s", image="registry/llama-pipeline:1", gpus_per_node=8)
    launcher = TrainingLauncher(mode="slurm", nnodes=16, gpus_per_node=8, partition="gpu", shared_dir="/shared/pipes")
    invocation = launcher.launch(context, ["--profile", "tiny", "--shards", ..., "--out", ...])

Every mode runs the same entry point, `python -m llama_model.train ARGS` (under `torchrun` when there is more
than one process); rank 0 talks to Dagster through `dagster_pipes`, so logs stream into the run and the
final metrics come back as the asset's materialization metadata.
- subprocess: `dg.PipesSubprocessClient` on this machine (`torchrun --standalone --nproc-per-node N`).
- k8s: one pod from `image` with N GPUs through `dagster_k8s.PipesK8sClient` (an optional dependency:
  `pip install dagster-k8s`); multi-node jobs belong to a PyTorchJob operator, not this resource.
- slurm: `srun` over `nnodes` nodes, one torchrun per node, rendezvous on the first node; launched from the
  login node with PipesSubprocessClient, context and messages through files in `shared_dir` (a
  filesystem the compute nodes see).
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import dagster as dg


class TrainingLauncher(dg.ConfigurableResource):
    mode: str = "subprocess"                 # subprocess | k8s | slurm
    nproc_per_node: int = 1                  # processes (GPUs) per node; 1 = plain python, no torchrun
    nnodes: int = 1                          # slurm only
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

    # --- commands ----------------------------------------------------------------------------------

    def _python(self) -> str:
        return self.python or sys.executable

    def train_command(self, train_args: list[str]) -> list[str]:
        """The command of one node: plain python for one process, else torchrun --standalone."""
        args = [str(a) for a in train_args]
        if self.nproc_per_node <= 1:
            return [self._python(), "-m", "llama_model.train", *args]
        return [self._python(), "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", str(self.nproc_per_node), "-m", "llama_model.train", *args]

    def srun_command(self, train_args: list[str]) -> list[str]:
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
            "-m", "llama_model.train", *(shlex.quote(str(a)) for a in train_args)])
        return [*srun, "bash", "-c", script]

    def k8s_run_kwargs(self, train_args: list[str]) -> dict:
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
        command = self.train_command(train_args)
        command[0] = "python"                   # the image's interpreter, not this machine's
        return {"image": self.image, "command": command, "namespace": self.namespace,
                "env": dict(self.env), "base_pod_spec": spec,
                "base_pod_meta": {"labels": {"app": "llama-pipeline", "component": "train"}}}

    # --- launching ---------------------------------------------------------------------------------

    def launch(self, context, train_args: list[str], extras: dict | None = None) -> dg.PipesClientCompletedInvocation:
        """Run training for `context` (an asset context) and wait; Pipes messages flow back into the run."""
        if self.mode == "subprocess":
            client = dg.PipesSubprocessClient(env=dict(self.env))
            return client.run(context=context, command=self.train_command(train_args), extras=extras)
        if self.mode == "k8s":
            try:
                from dagster_k8s import PipesK8sClient
            except ImportError as e:
                raise RuntimeError("mode='k8s' needs dagster-k8s: pip install dagster-k8s") from e
            return PipesK8sClient().run(context=context, extras=extras, **self.k8s_run_kwargs(train_args))
        if self.mode == "slurm":
            if not self.shared_dir:
                raise ValueError("mode='slurm' needs shared_dir: a folder both this machine and the nodes see")
            shared = Path(self.shared_dir)
            shared.mkdir(parents=True, exist_ok=True)
            run_id = context.run.run_id
            client = dg.PipesSubprocessClient(
                env=dict(self.env),
                context_injector=dg.PipesFileContextInjector(str(shared / f"{run_id}-context.json")),
                message_reader=dg.PipesFileMessageReader(str(shared / f"{run_id}-messages.jsonl")))
            return client.run(context=context, command=self.srun_command(train_args), extras=extras)
        raise ValueError(f"TrainingLauncher.mode must be subprocess, k8s or slurm, not {self.mode!r}")
