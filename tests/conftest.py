"""Shared fixtures: every test gets its own artifact root; nothing touches ./data or ~/.dagster."""
import os

import pytest

os.environ.setdefault("LLAMA_PROFILE", "tiny")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "artifacts"
    monkeypatch.setenv("LLAMA_DATA_DIR", str(d))
    return d
