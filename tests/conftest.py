"""Shared fixtures: every test gets its own artifact root; nothing reads the caller's environment
(LLAMA_*, DAGSTER_HOME), ./data or ~/.dagster."""
import os

import pytest
import torch

# Knobs of the test run itself (CI and the browser test set them), not of the code under test.
TEST_KNOBS = frozenset({"LLAMA_REQUIRE_CHROMIUM", "LLAMA_UI_SCREENSHOTS", "LLAMA_FUZZ_EXAMPLES"})


def _callers_settings() -> list[str]:
    return [k for k in os.environ if (k.startswith("LLAMA_") and k not in TEST_KNOBS) or k == "DAGSTER_HOME"]


# Modules read some settings at import (the profile of the asset versions): clear them before any import.
for _k in _callers_settings():
    del os.environ[_k]
os.environ["LLAMA_PROFILE"] = "tiny"


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory, monkeypatch):
    """Each test starts from the same environment whatever the caller's shell holds: no LLAMA_* but the
    tiny profile, no DAGSTER_HOME, and an empty artifact root of its own instead of ./data (a test that
    needs one asks for `data_dir`)."""
    for k in _callers_settings():
        monkeypatch.delenv(k)
    monkeypatch.setenv("LLAMA_PROFILE", "tiny")
    monkeypatch.setenv("LLAMA_DATA_DIR", str(tmp_path_factory.mktemp("no-data")))


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
