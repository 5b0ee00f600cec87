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


def test_dg_launch_materializes_one_partition(tmp_path):
    import dagster as dg

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "LLAMA_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
    env.pop("LLAMA_DUMPS_DIR", None)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    subprocess.run([sys.executable, "-m", "assets.cli", "register-dumps"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    r = _dg("launch", "--assets", "raw_documents", "--partition", "books/gutenberg", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "SupersessionWarning" not in r.stdout + r.stderr
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_documents"))
        assert event.asset_materialization.partition == "books/gutenberg"


def _dg_workspace(tmp_path: Path) -> Path:
    """The workspace file `dg dev` (and so `make ui`) builds from [tool.dg]."""
    from dagster_dg_cli.cli.utils import create_temp_workspace_file
    from dagster_dg_core.context import DgContext

    with create_temp_workspace_file(DgContext.for_project_environment(ROOT, {})) as f:
        out = tmp_path / "dg_workspace.yaml"
        out.write_text(Path(f).read_text())
    return out


def test_one_location_name_for_dg_and_workspace_yaml(tmp_path):
    import yaml

    ours = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    theirs = yaml.safe_load(_dg_workspace(tmp_path).read_text())["load_from"][0]["python_module"]
    assert ours["location_name"] == theirs["location_name"] == "llama_pipeline"
    assert ours["module_name"] == theirs["module_name"] == "assets.definitions"


def test_a_schedule_started_in_one_workspace_is_running_in_the_other(tmp_path):
    """The UI and the daemon find a schedule's state by its selector (location name, repository, name):
    started through dg's workspace (`dg dev`), it is RUNNING for workspace.yaml's location (`make ui`, the
    `dagster schedule` commands); stopped through workspace.yaml, it is STOPPED for dg's."""
    import dagster as dg
    import yaml
    from dagster._core.definitions.selector import InstigatorSelector
    from dagster._core.instance.ref import InstanceRef

    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "LLAMA_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dg_ws = _dg_workspace(tmp_path)

    def schedule(*args, workspace):
        r = subprocess.run([str(dagster), "schedule", *args, "-w", str(workspace)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]

    def status(workspace: Path) -> str:
        location = yaml.safe_load(workspace.read_text())["load_from"][0]["python_module"]["location_name"]
        selector = InstigatorSelector(location_name=location, repository_name="__repository__",
                                      name="nightly_eval_schedule")
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
            states = {s.selector_id: s.status.value for s in instance.all_instigator_state()}
        return states.get(selector.get_id(), "STOPPED (no state)")

    schedule("start", "nightly_eval_schedule", workspace=dg_ws)
    assert status(ROOT / "workspace.yaml") == "RUNNING"
    schedule("stop", "nightly_eval_schedule", workspace=ROOT / "workspace.yaml")
    assert status(dg_ws) == "STOPPED"
