"""TrainingLauncher: the commands and pod spec each mode builds (no cluster needed)."""
import shlex
import sys

import pytest

from resources import TrainingLauncher, build_resources

ARGS = ["--profile", "llama-7b", "--shards", "/data/token shards", "--out", "/data/runs/x"]


def test_one_process_runs_plain_python():
    cmd = TrainingLauncher().train_command(ARGS)
    assert cmd == [sys.executable, "-m", "llama_model.train", *ARGS]


def test_several_processes_run_torchrun_standalone():
    cmd = TrainingLauncher(nproc_per_node=4, python="/venv/bin/python").train_command(ARGS)
    assert cmd[:7] == ["/venv/bin/python", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "4", "-m"]
    assert cmd[7:] == ["llama_model.train", *ARGS]


def test_slurm_srun_command():
    launcher = TrainingLauncher(mode="slurm", nnodes=16, nproc_per_node=8, gpus_per_node=8, cpus_per_node=96,
                                partition="gpu", account="llm", time_limit="72:00:00", python="python3",
                                shared_dir="/shared/pipes")
    cmd = launcher.srun_command(ARGS)
    assert cmd[:8] == ["srun", "--nodes=16", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "--gpus-per-node=8",
                       "--cpus-per-task=96", "--partition=gpu", "--account=llm"]
    assert cmd[8] == "--time=72:00:00" and cmd[9:11] == ["bash", "-c"]
    script = cmd[11]
    assert script.startswith("exec python3 -m torch.distributed.run --nnodes 16 --nproc-per-node 8 --rdzv-backend c10d")
    assert '--rdzv-endpoint "$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1):29500"' in script
    assert script.endswith("-m llama_model.train " + " ".join(shlex.quote(a) for a in ARGS))
    assert "'/data/token shards'" in script            # our arguments are quoted for the remote shell


def test_k8s_pod_spec():
    launcher = TrainingLauncher(mode="k8s", image="reg/llama:1", namespace="ml", nproc_per_node=8,
                                gpus_per_node=8, volume_claim="llama-data", service_account="trainer")
    kw = launcher.k8s_run_kwargs(ARGS)
    assert kw["image"] == "reg/llama:1" and kw["namespace"] == "ml"
    assert kw["command"][:6] == ["python", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "8"]
    spec = kw["base_pod_spec"]
    container = spec["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 8}
    assert {"name": "data", "mount_path": "/data"} in container["volume_mounts"]
    assert {"name": "data", "persistent_volume_claim": {"claim_name": "llama-data"}} in spec["volumes"]
    assert spec["service_account_name"] == "trainer" and spec["restart_policy"] == "Never"


def test_unknown_mode_and_misuse_are_errors():
    with pytest.raises(ValueError, match="subprocess, k8s or slurm"):
        TrainingLauncher(mode="ssh").launch(None, ARGS)
    with pytest.raises(ValueError, match="mode='slurm'"):
        TrainingLauncher().srun_command(ARGS)
    with pytest.raises(ValueError, match="shared_dir"):
        TrainingLauncher(mode="slurm").launch(None, ARGS)


def test_build_resources_has_the_launcher(monkeypatch):
    monkeypatch.setenv("LLAMA_NPROC", "2")
    launcher = build_resources()["launcher"]
    assert isinstance(launcher, TrainingLauncher) and launcher.mode == "subprocess" and launcher.nproc_per_node == 2
