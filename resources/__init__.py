"""Dagster resources: where artifacts live, where the dumps are, which scale profile, how training launches."""
import os

from resources.dumps import DumpsResource
from resources.launcher import TrainingLauncher
from resources.profile import ProfileResource
from resources.storage import ArtifactStorage
from llama_model.configs import DEFAULT_PROFILE


def build_resources() -> dict:
    """The resources every asset may ask for, configured from the environment (LLAMA_* variables)."""
    return {
        "storage": ArtifactStorage(root=os.environ.get("LLAMA_DATA_DIR") or "data"),
        "dumps": DumpsResource(root=os.environ.get("LLAMA_DUMPS_DIR") or ""),
        "profile": ProfileResource(name=os.environ.get("LLAMA_PROFILE") or DEFAULT_PROFILE),
        "launcher": TrainingLauncher(mode=os.environ.get("LLAMA_LAUNCHER") or "subprocess",
                                     nproc_per_node=int(os.environ.get("LLAMA_NPROC") or 1)),
    }


__all__ = ["ArtifactStorage", "DumpsResource", "ProfileResource", "TrainingLauncher", "build_resources"]
