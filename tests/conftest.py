"""Shared fixtures: every test gets its own artifact root; nothing touches ./data or ~/.dagster."""
import os

import pytest
import torch

os.environ.setdefault("LLAMA_PROFILE", "tiny")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "artifacts"
    monkeypatch.setenv("LLAMA_DATA_DIR", str(d))
    return d


@pytest.fixture
def one_thread():
    """Tiny models run much faster on one intra-op thread on a shared 2-core CPU (restored afterwards)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
