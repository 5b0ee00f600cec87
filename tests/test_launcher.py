"""TrainingLauncher: the commands and pod spec each mode builds (no cluster needed)."""
import json
import shlex
import sys
from pathlib import Path

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


# --- configured from the environment; golden specs at 16 nodes x 8 GPUs ------------------------------------

GOLDEN = Path(__file__).parent / "golden"
ARGS_70B = ["--profile", "llama2-70b", "--shards", "/data/token_shards", "--out", "/data/runs/base_model/abc"]
SLURM_ENV = {"LLAMA_LAUNCHER": "slurm", "LLAMA_NNODES": "16", "LLAMA_NPROC": "8", "LLAMA_GPUS_PER_NODE": "8",
             "LLAMA_CPUS_PER_NODE": "96", "LLAMA_SLURM_PARTITION": "gpu", "LLAMA_SLURM_ACCOUNT": "llm",
             "LLAMA_SLURM_TIME": "72:00:00", "LLAMA_PYTHON": "/opt/venv/bin/python", "LLAMA_SHARED_DIR": "/shared/pipes"}
K8S_ENV = {"LLAMA_LAUNCHER": "k8s", "LLAMA_NNODES": "16", "LLAMA_NPROC": "8", "LLAMA_GPUS_PER_NODE": "8",
           "LLAMA_CPUS_PER_NODE": "96", "LLAMA_K8S_IMAGE": "registry.example/llama-pipeline:1",
           "LLAMA_K8S_NAMESPACE": "ml", "LLAMA_K8S_SERVICE_ACCOUNT": "trainer", "LLAMA_K8S_VOLUME_CLAIM": "llama-data",
           "LLAMA_SHARED_DIR": "/data/pipes"}


def test_launcher_fields_come_from_the_environment():
    launcher = TrainingLauncher.from_env(SLURM_ENV | {"LLAMA_STAGES": "launcher"})
    assert (launcher.mode, launcher.nnodes, launcher.nproc_per_node, launcher.gpus_per_node) == ("slurm", 16, 8, 8)
    assert launcher.partition == "gpu" and launcher.shared_dir == "/shared/pipes" and launcher.stages == "launcher"
    assert launcher.world_size == 128
    k8s = TrainingLauncher.from_env(K8S_ENV)
    assert (k8s.image, k8s.namespace, k8s.volume_claim) == ("registry.example/llama-pipeline:1", "ml", "llama-data")
    assert TrainingLauncher.from_env({}).stages == "local"        # the tiny demo runs its stages in-process
    with pytest.raises(ValueError, match="LLAMA_NNODES"):
        TrainingLauncher.from_env({"LLAMA_NNODES": "sixteen"})


def test_slurm_golden_16x8():
    cmd = TrainingLauncher.from_env(SLURM_ENV).srun_command(ARGS_70B)
    assert cmd == json.loads((GOLDEN / "slurm_16x8.json").read_text())


def test_k8s_indexed_job_golden_16x8():
    objects = TrainingLauncher.from_env(K8S_ENV).k8s_job_manifest(ARGS_70B, "llama-1a2b3c4d-base-model")
    assert objects == json.loads((GOLDEN / "k8s_16x8.json").read_text())
    job = objects[1]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"] == 16
    script = job["template"]["spec"]["containers"][0]["command"][2]
    assert "--nnodes 16 --nproc-per-node 8" in script and '--node-rank "$JOB_COMPLETION_INDEX"' in script


def test_k8s_submit_passes_the_pipes_variables_to_the_pods():
    from resources.k8s_job import with_pipes_env
    objects = TrainingLauncher.from_env(K8S_ENV).k8s_job_manifest(ARGS_70B, "j")
    out = with_pipes_env(objects, {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg", "HOME": "/root"})
    env = out[1]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "DAGSTER_PIPES_CONTEXT", "value": "ctx"}, {"name": "DAGSTER_PIPES_MESSAGES", "value": "msg"}]
    assert objects[1]["spec"]["template"]["spec"]["containers"][0]["env"] == []     # the input is not changed


def test_stage_jobs_run_their_own_module():
    cmd = TrainingLauncher(nproc_per_node=2, python="py").train_command(["sft"], module="llama_model.rlhf.job")
    assert cmd[-2:] == ["llama_model.rlhf.job", "sft"]


def test_tensor_parallel_degree_travels_as_tp_argument():
    """LLAMA_TP (launcher.tp) reaches llama_model.train and llama_model.rlhf.job as --tp; 0 leaves the profile's."""
    launcher = TrainingLauncher.from_env(SLURM_ENV | {"LLAMA_TP": "8"})
    assert launcher.tp == 8
    assert launcher.with_tp(["--profile", "llama2-70b"]) == ["--profile", "llama2-70b", "--tp", "8"]
    assert launcher.with_tp(["sft", "--tp", "4"]) == ["sft", "--tp", "4"]          # an explicit one wins
    assert TrainingLauncher.from_env({}).with_tp(["--profile", "tiny"]) == ["--profile", "tiny"]


@pytest.mark.parametrize("var, value, message", [
    ("LLAMA_NNODES", "-3", "$LLAMA_NNODES must be a whole number from 1 to 100000, got -3"),
    ("LLAMA_NNODES", "0", "$LLAMA_NNODES must be a whole number from 1"),
    ("LLAMA_NPROC", "0", "$LLAMA_NPROC must be a whole number from 1"),
    ("LLAMA_GPUS_PER_NODE", "-8", "$LLAMA_GPUS_PER_NODE must be a whole number from 0"),
    ("LLAMA_LAUNCHER", "foo", "$LLAMA_LAUNCHER must be subprocess, k8s or slurm, not 'foo'"),
    ("LLAMA_STAGES", "bogus", "$LLAMA_STAGES must be local or launcher, not 'bogus'"),
    ("LLAMA_RDZV_PORT", "70000", "$LLAMA_RDZV_PORT must be a whole number from 1 to 65535"),
])
def test_bad_launcher_settings_fail_when_the_definitions_load(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError) as e:
        build_resources()
    assert str(e.value) == message or str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_run_config_values_are_checked_before_a_launch():
    with pytest.raises(ValueError, match="TrainingLauncher.nnodes must be a whole number from 1"):
        TrainingLauncher(mode="slurm", nnodes=-3, shared_dir="/x").launch(None, ARGS)
    assert TrainingLauncher.from_env({"LLAMA_LAUNCHER": " Slurm "}).mode == "slurm"


def test_stage_jobs_take_the_tensor_parallel_degree_of_the_alignment_stages_only():
    import dataclasses

    from llama_model.configs import get_profile
    from llama_model.rlhf.job import stage_tp
    align = dataclasses.replace(get_profile("tiny").align, tp=2)
    assert stage_tp("sft", align, world=4) == 2 and stage_tp("ppo", align, world=4, requested=4) == 4
    assert stage_tp("sft", align, world=1) == 1                 # one process cannot split a layer
    assert stage_tp("base_eval", None, world=4, requested=2) == 1   # evaluation stages stay data parallel
    with pytest.raises(ValueError, match="does not divide"):
        stage_tp("reward_model", align, world=6, requested=4)
