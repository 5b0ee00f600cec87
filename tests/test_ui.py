"""The real web UI: `dagster dev` on 127.0.0.1 with a temporary DAGSTER_HOME, driven over GraphQL and in Chromium.

    .venv/bin/pytest -q tests/test_ui.py        # make ui-test installs Chromium first (Debian package)

One server serves both tests (module fixture); it runs in its own process group, which the fixture kills
at the end, so no webserver, daemon or code server outlives the tests.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PARTITION_ASSET, PARTITION = "raw_documents", "books"  # the smallest source of the bundled samples

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """`dagster dev -w workspace.yaml` in a new session; graphql() posts a query to its API."""

    def __init__(self, workspace: Path, home: Path, env: dict[str, str]):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self.log = open(home / "dagster-dev.log", "wb")
        self.proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-h", "127.0.0.1", "-p", str(self.port), "-w", str(workspace)],
            cwd=workspace.parent, env={**os.environ, **env, "DAGSTER_HOME": str(home)},
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,  # = setsid
        )
        self.home = home

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out = json.load(r)
        if out.get("errors"):
            raise AssertionError(f"GraphQL errors: {out['errors']}")
        return out["data"]

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return (self.home / "dagster-dev.log").read_bytes()[-n:].decode(errors="replace")

    def wait_ready(self, timeout: float = 90) -> str:
        """Wait for the server and the code location; return the location's name."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dagster dev exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                data = self.graphql(WORKSPACE_QUERY, timeout=10)
                entries = data["workspaceOrError"]["locationEntries"]
                loaded = [e for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"]
                failed = [e for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
                if failed:
                    raise AssertionError(f"code location failed to load: {failed[0]['locationOrLoadError']['message']}")
                if loaded:
                    return loaded[0]["name"]
            except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError) as e:
                last = e
            time.sleep(0.5)
        raise AssertionError(f"dagster dev not ready after {timeout}s ({last}):\n{self.tail()}")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The daemon and code server are in the same group: make sure none is left.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { name } ... on PythonError { message } } } } } }"""
ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName isPartitioned } }"
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidStepError { invalidStepKey } } }"""
RUN = "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    dev = DagsterDev(ROOT / "workspace.yaml", tmp / "dagster_home",
                     {"LLAMA_DATA_DIR": str(tmp / "artifacts"), "LLAMA_PROFILE": "tiny"})
    try:
        dev.location = dev.wait_ready()
        yield dev
    finally:
        dev.stop()


def test_graphql_lists_assets_and_a_launched_materialization_succeeds(server):
    nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
    names = {"/".join(n["assetKey"]["path"]) for n in nodes}
    if PARTITION_ASSET not in names:
        pytest.fail(f"{PARTITION_ASSET} is not among the assets the server lists: {sorted(names)}")
    params = {
        "selector": {"repositoryLocationName": server.location, "repositoryName": "__repository__",
                     "jobName": "__ASSET_JOB", "assetSelection": [{"path": [PARTITION_ASSET]}]},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
        "runConfigData": {},
    }
    launched = server.graphql(LAUNCH, {"p": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, status = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        status = server.graphql(RUN, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{server.tail()}"
    # The materialization is now the asset's latest one, for that partition.
    q = """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
           assetMaterializations(partitions: ["%s"]) { partition runId } } } }""" % PARTITION
    mats = server.graphql(q, {"k": {"path": [PARTITION_ASSET]}})["assetNodeOrError"]["assetMaterializations"]
    assert {"partition": PARTITION, "runId": run_id} in mats


def _chromium(args: list[str], tmp: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp}", "--window-size=1400,900", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, start_new_session=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: `make ui-test` installs it "
                                             "(apt-get install -y chromium)")
def test_asset_graph_page_renders_the_assets_in_chromium(server, tmp_path):
    nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(n["groupName"], []).append("/".join(n["assetKey"]["path"]))
    assert groups, "the server lists no assets"
    group = max(sorted(groups), key=lambda g: len(groups[g]))  # the biggest group's lineage graph
    server.graphql("mutation { setNuxSeen }")  # no "join the community" dialog over the graph
    page = f"{server.url}/locations/{server.location}/asset-groups/{group}"
    shot = tmp_path / "asset_graph.png"
    out = _chromium([f"--screenshot={shot}", "--dump-dom", "--virtual-time-budget=10000", page], tmp_path / "profile")
    dom = out.stdout.decode(errors="replace")
    assert shot.exists() and shot.stat().st_size > 10_000, out.stderr.decode(errors="replace")[-2000:]
    keep = os.environ.get("LLAMA_UI_SCREENSHOT")  # to look at the picture: LLAMA_UI_SCREENSHOT=/tmp/ui.png
    if keep:
        shutil.copy(shot, keep)
    shown = [a for a in groups[group] if a in dom]
    # The graph only renders the nodes inside the viewport, so a node at the edge may be left out.
    assert len(shown) >= max(1, int(0.75 * len(groups[group]))), (
        f"the {group} graph page shows only {shown} of {groups[group]}; DOM starts {dom[:300]!r}")
