"""Multi-node training on Kubernetes without an operator: an indexed Job of N pods and a headless Service.

Pod i of the Job (JOB_COMPLETION_INDEX = i) is torchrun's node i; all rendezvous on pod 0, reachable as
`<job>-0.<service>` because the pods' subdomain is the headless Service (the Kubernetes documentation's
pattern for indexed Jobs with pod-to-pod communication). Pods that fail are not retried (backoffLimit 0):
training resumes from its last checkpoint when the asset runs again.

    objects = indexed_job_manifest(name="llama-1a2b3c4d-base-model", namespace="ml", image="reg/llama:1",
                                   nnodes=16, nproc_per_node=8, gpus_per_node=8, module="llama_model.train",
                                   args=[...], env={}, volume_claim="llama-data")
    python -m resources.k8s_job submit MANIFEST.json     # kubectl apply, wait for the Job, delete it

`submit` runs under Dagster's PipesSubprocessClient: it copies the DAGSTER_PIPES_* variables it was given
into the pods' environment, so rank 0 in pod 0 reads the context and writes its messages through files on
the shared volume.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time


def indexed_job_manifest(name: str, namespace: str, image: str, nnodes: int, nproc_per_node: int,
                         gpus_per_node: int, module: str, args: list[str], env: dict[str, str],
                         cpus_per_node: int = 0, service_account: str = "", volume_claim: str = "",
                         data_mount: str = "/data", port: int = 29500) -> list[dict]:
    """[headless Service, indexed Job] as plain dicts (kubectl apply accepts them as a List)."""
    labels = {"app": "llama-pipeline", "job-name": name}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace,
                                                                    "labels": labels},
               "spec": {"clusterIP": "None", "selector": {"job-name": name},
                        "ports": [{"name": "rendezvous", "port": port}]}}
    # The node rank comes from the pod's completion index; our own arguments are quoted for the shell.
    script = " ".join([
        "exec python -m torch.distributed.run", f"--nnodes {nnodes}", f"--nproc-per-node {nproc_per_node}",
        '--node-rank "$JOB_COMPLETION_INDEX"', f"--master-addr {name}-0.{name}", f"--master-port {port}",
        "-m", module, *(shlex.quote(a) for a in args)])
    resources: dict = {}
    if gpus_per_node:
        resources = {"limits": {"nvidia.com/gpu": gpus_per_node}, "requests": {"nvidia.com/gpu": gpus_per_node}}
    if cpus_per_node:
        resources.setdefault("requests", {})["cpu"] = str(cpus_per_node)
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]   # torchrun workers need > 64 MB of /dev/shm
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if volume_claim:
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": volume_claim}})
        mounts.append({"name": "data", "mountPath": data_mount})
    container = {"name": "train", "image": image, "command": ["bash", "-c", script],
                 "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                 "ports": [{"containerPort": port}], "volumeMounts": mounts}
    if resources:
        container["resources"] = resources
    pod_spec: dict = {"subdomain": name, "restartPolicy": "Never", "containers": [container], "volumes": volumes}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace,
                                                                 "labels": labels},
           "spec": {"completionMode": "Indexed", "completions": nnodes, "parallelism": nnodes, "backoffLimit": 0,
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}
    return [service, job]


def with_pipes_env(objects: list[dict], environ: dict[str, str]) -> list[dict]:
    """The objects with this process's DAGSTER_PIPES_* variables added to the Job's container."""
    pipes = {k: v for k, v in environ.items() if k.startswith("DAGSTER_PIPES_")}
    out = json.loads(json.dumps(objects))
    for obj in out:
        if obj["kind"] == "Job":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["env"] = container["env"] + [{"name": k, "value": v} for k, v in sorted(pipes.items())]
    return out


def job_state(name: str, namespace: str) -> str:
    """running | succeeded | failed, from the Job's conditions."""
    out = subprocess.run(["kubectl", "get", "job", name, "-n", namespace, "-o", "json"], check=True,
                         capture_output=True, text=True).stdout
    for cond in json.loads(out).get("status", {}).get("conditions", []):
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return "succeeded" if cond["type"] == "Complete" else "failed"
    return "running"


def submit(manifest_path: str, poll_s: float = 15.0) -> int:
    with open(manifest_path, encoding="utf-8") as f:
        objects = with_pipes_env(json.load(f), dict(os.environ))
    job = next(o for o in objects if o["kind"] == "Job")
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                       "items": objects}),
                   text=True, check=True)
    try:
        while (state := job_state(name, namespace)) == "running":
            time.sleep(poll_s)
    finally:
        subprocess.run(["kubectl", "delete", "service,job", name, "-n", namespace, "--wait=false"], check=False)
    print(f"job {namespace}/{name}: {state}")
    return 0 if state == "succeeded" else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "submit":
        sys.exit("usage: python -m resources.k8s_job submit MANIFEST.json")
    sys.exit(submit(sys.argv[2]))
