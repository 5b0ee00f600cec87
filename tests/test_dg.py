"""`dg` (dagster-dg-cli) finds the project from pyproject's [tool.dg] and loads the same Definitions."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")

pytestmark = pytest.mark.skipif(not DG.exists(), reason="dagster-dg-cli is not installed (pip install -e '.[test]')")


def _dg(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "LLAMA_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT), "PATH": f"{DG.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run([str(DG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_dg_check_defs_passes(tmp_path):
    r = _dg("check", "defs", tmp_path=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "All definitions loaded successfully" in r.stdout + r.stderr


def test_dg_list_defs_lists_every_asset(tmp_path):
    from assets.definitions import defs

    r = _dg("list", "defs", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    listed = {a["asset_key"] for a in json.loads(r.stdout)["assets"]}
    expected = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert listed == expected and "rlhf_v5" in listed
