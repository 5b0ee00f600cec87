"""Dagster resources: where artifacts live, where the dumps are, which scale profile, how training launches."""
import os

from llama_model.configs import DEFAULT_PROFILE
from resources.dumps import DumpsResource
from resources.launcher import TrainingLauncher
from resources.profile import ProfileResource
from resources.storage import ArtifactStorage


def validate_environment() -> None:
    """Fail when the code location loads, before any stage runs, on a configuration no stage could use:
    an unknown profile, engine or worker count (each error lists what is accepted)."""
    from llama_model.configs import get_profile
    from pipelines.engine import ENGINES, default_workers

    get_profile(os.environ.get("LLAMA_PROFILE") or DEFAULT_PROFILE)
    try:
        _ = ArtifactStorage(root=os.environ.get("LLAMA_DATA_DIR") or "data").root_path   # s3://, file:///, a folder
    except ValueError as e:
        raise ValueError(f"LLAMA_DATA_DIR: {e}") from None
    engine = (os.environ.get("LLAMA_ENGINE") or "local").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"LLAMA_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}")
    default_workers()


def build_resources() -> dict:
    """The resources every asset may ask for, configured from the environment (LLAMA_* variables)."""
    validate_environment()
    return {
        "storage": ArtifactStorage(root=os.environ.get("LLAMA_DATA_DIR") or "data"),
        "dumps": DumpsResource(root=os.environ.get("LLAMA_DUMPS_DIR") or ""),
        "profile": ProfileResource(name=os.environ.get("LLAMA_PROFILE") or DEFAULT_PROFILE),
        # mode, nodes, GPUs per node, image, namespace, partition, shared dir, stages: resources/launcher.py ENV
        "launcher": TrainingLauncher.from_env(),
    }


__all__ = ["ArtifactStorage", "DumpsResource", "ProfileResource", "TrainingLauncher", "build_resources"]
