"""The real web UI: `dg dev` on 127.0.0.1 with a temporary DAGSTER_HOME, driven over GraphQL and in Chromium.

    .venv/bin/pytest -q tests/test_ui.py        # make ui-test installs Chromium first (Debian package)
    LLAMA_UI_SCREENSHOTS=docs/screenshots .venv/bin/pytest -q tests/test_ui.py     # keep the pictures

What a user must see, checked in a real browser: every asset in its group's lineage graph under `dg dev`;
an eval report's markdown (tables) and plot on its asset page, after a real materialization launched
through the server, and its report_url link opening the report from `llama-pipeline reports`' server; the
demo's runs as one backfill on the Runs page; the Automation page with both schedules and the sensor. Without Chromium these tests skip, unless
LLAMA_REQUIRE_CHROMIUM is set (CI sets it: there a missing browser is a failure, not a skip).

One server serves every test (module fixture); it runs in its own process group, which the fixture kills
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
DG = Path(sys.executable).with_name("dg")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The smallest source of the bundled samples; partitions are `<source>/<dump>` keys (assets/partitions.py).
PARTITION_ASSET = "raw_documents"


def _books_key() -> str:
    from pipelines.dumps import find_dumps
    from pipelines.samples import bundled_dumps_dir
    return next(k for k in find_dumps(bundled_dumps_dir()) if k.startswith("books/"))


PARTITION = _books_key()

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """`dg dev` (the project from pyproject's [tool.dg]; `-w workspace` as `make ui` does) in a new session;
    graphql() posts a query to its API."""

    def __init__(self, home: Path, env: dict[str, str], workspace: Path | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self.log = open(home / "dagster-dev.log", "wb")
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [str(DG), "dev", "-h", "127.0.0.1", "-p", str(self.port), *(["-w", str(workspace)] if workspace else [])],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,  # = setsid
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
                raise AssertionError(f"dg dev exited with {self.proc.returncode}:\n{self.tail()}")
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
        raise AssertionError(f"dg dev not ready after {timeout}s ({last}):\n{self.tail()}")

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


def _eval_inputs(root: Path) -> None:
    """What reward_model_eval reads, built small with the library: a tokenizer and two tiny reward models."""
    import torch

    from llama_model.configs import ModelArgs
    from llama_model.model import Transformer
    from llama_model.reward import RewardModel, save_rm
    from pipelines.tokenizer_training import train_tokenizer

    texts = [f"[INST] What is {a} + {b}? [/INST] The answer is {a + b}. I cannot help with that. Answer in one "
             f"word, reverse the word, in French, is {a} bigger than {b}? yes no oui non" for a in range(20)
             for b in range(10)]
    model_bytes, _ = train_tokenizer(texts, vocab_size=320)
    (root / "tokenizer").mkdir(parents=True)
    (root / "tokenizer" / "tokenizer.model").write_bytes(model_bytes)
    args = ModelArgs(dim=32, n_layers=1, n_heads=2, vocab_size=320, multiple_of=16, max_seq_len=256)
    torch.manual_seed(0)
    for name in ("helpfulness_rm", "safety_rm"):
        save_rm(RewardModel.from_policy(Transformer(args)), args, root / name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`dg dev` on the project, and `llama-pipeline reports`' server of its reports folder on another port
    (the port the assets write into their report_url links)."""
    import threading

    from common.report_server import make_server

    tmp = tmp_path_factory.mktemp("ui")
    _eval_inputs(tmp / "artifacts")
    (tmp / "artifacts" / "reports").mkdir()
    reports = make_server(tmp / "artifacts" / "reports", 0)
    threading.Thread(target=reports.serve_forever, daemon=True).start()
    import dagster as dg

    from assets.partitions import register
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # As the demo does; before the server starts, so the two never create the instance's tables at once.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register(instance, [PARTITION])
    dev = DagsterDev(home, {"LLAMA_DATA_DIR": str(tmp / "artifacts"), "LLAMA_PROFILE": "tiny",
                            "LLAMA_REPORTS_PORT": str(reports.server_address[1])})
    dev.reports_port = reports.server_address[1]
    try:
        dev.location = dev.wait_ready()
        yield dev
    finally:
        dev.stop()
        reports.shutdown()
        reports.server_close()


def _materialize(server, asset: str, partition: str | None = None, config: dict | None = None) -> str:
    """Launch one asset's run through the server (as the Materialize button does); wait for SUCCESS."""
    params = {
        "selector": {"repositoryLocationName": server.location, "repositoryName": "__repository__",
                     "jobName": "__ASSET_JOB", "assetSelection": [{"path": [asset]}]},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}] if partition else []},
        "runConfigData": {"ops": {asset: {"config": config}}} if config else {},
    }
    launched = server.graphql(LAUNCH, {"p": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, status = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        status = server.graphql(RUN, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS", f"run {run_id} of {asset} ended {status}:\n{server.tail()}"
    return run_id


def test_graphql_lists_assets_and_a_launched_materialization_succeeds(server):
    nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
    names = {"/".join(n["assetKey"]["path"]) for n in nodes}
    if PARTITION_ASSET not in names:
        pytest.fail(f"{PARTITION_ASSET} is not among the assets the server lists: {sorted(names)}")
    run_id = _materialize(server, PARTITION_ASSET, partition=PARTITION)
    # The materialization is now the asset's latest one, for that partition.
    q = """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
           assetMaterializations(partitions: ["%s"]) { partition runId } } } }""" % PARTITION
    mats = server.graphql(q, {"k": {"path": [PARTITION_ASSET]}})["assetNodeOrError"]["assetMaterializations"]
    assert {"partition": PARTITION, "runId": run_id} in mats


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LLAMA_REQUIRE_CHROMIUM"),
    reason="Chromium is not installed: `make ui-test` installs it (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("LLAMA_REQUIRE_CHROMIUM is set but Chromium is not installed (apt-get install -y chromium)")
    from ui_browser import Chromium

    server.graphql("mutation { setNuxSeen }")  # no "join the community" dialog over the pages
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium"), width=1600, height=1000) as page:
        yield page


def _keep(page, name: str) -> None:
    """LLAMA_UI_SCREENSHOTS=<folder>: save what the browser shows now as <folder>/<name>.png."""
    folder = os.environ.get("LLAMA_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(Path(folder) / f"{name}.png")


@needs_chromium
def test_every_asset_shows_in_its_group_lineage_graph(server, browser):
    nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(n["groupName"], []).append("/".join(n["assetKey"]["path"]))
    assert sum(len(v) for v in groups.values()) >= 22, groups
    browser.resize(1600, 2400)        # the graph is zoomed to fit: a tall page keeps every node on it
    for group, assets in sorted(groups.items()):
        browser.open(f"{server.url}/locations/{server.location}/asset-groups/{group}")
        # Each asset node renders its name as its own text (zoomed out, shortened in the middle:
        # "langua…_identified"); every asset of the group must be drawn.
        names = json.dumps(assets)
        browser.wait_for(f"{names}.every(a => [...document.querySelectorAll('div, span')].some(e => {{"
                         f"const t = e.childElementCount === 0 ? e.textContent.trim() : ''; const [p, q] = t.split('…');"
                         f"return t === a || (q !== undefined && p.length > 2 && a.startsWith(p) && a.endsWith(q)); }}))")
        if group in ("align", "curate"):
            _keep(browser, f"asset_graph_{group}")
    browser.resize(1600, 1000)


@needs_chromium
def test_an_eval_report_markdown_and_plot_show_on_its_asset_page(server, browser):
    _materialize(server, "reward_model_eval", config={"test_pairs": 60})
    browser.open(f"{server.url}/assets/reward_model_eval")
    browser.wait_for("document.body.innerText.includes('[Show Markdown]')")
    _keep(browser, "eval_asset_page")
    browser.click_text("[Show Markdown]")
    dialog = "document.querySelector('[role=dialog]')"
    browser.wait_for(f"{dialog} && {dialog}.innerText.includes('Accuracy (%) per preference rating')"
                     f" && {dialog}.innerText.includes('significantly better')")
    # The plot is an <img> of the PNG the report wrote, and the browser decoded it.
    browser.wait_for(f"[...{dialog}.querySelectorAll('img')].some(i => i.src.startsWith('data:image/png')"
                     f" && i.naturalWidth > 100)")
    _keep(browser, "eval_report_markdown")
    browser.eval("document.querySelector('[role=dialog] button') && document.dispatchEvent("
                 "new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
    # The report_url entry is a link to `llama-pipeline reports`' server; following it shows the report.
    href = f"http://127.0.0.1:{server.reports_port}/reward_model_eval/index.html"
    link = f"[...document.querySelectorAll('a')].find(a => a.href === {json.dumps(href)})"
    browser.open(f"{server.url}/assets/reward_model_eval")
    browser.wait_for(f"{link} !== undefined")
    browser.eval(f"{{ const a = {link}; a.removeAttribute('target'); a.click(); }}")   # same tab, not a new one
    browser.wait_for(f"location.href === {json.dumps(href)} && document.title === 'reward_model_eval'"
                     f" && document.body.innerText.includes('significantly better')")
    _keep(browser, "eval_report_served")


@needs_chromium
def test_the_demo_is_one_backfill_on_the_runs_page(server, browser):
    """`llama-pipeline demo --select raw_documents` (one run per dump) shows as one row: its backfill."""
    env = {**server.env, "LLAMA_DUMPS_DIR": ""}
    env.pop("LLAMA_DUMPS_DIR")
    r = subprocess.run([sys.executable, "-m", "assets.cli", "demo", "--select", "raw_documents"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    backfill_id = next(w for line in r.stdout.splitlines() if line.startswith("backfill ")
                       for w in [line.split()[1].rstrip(":")])
    feed = server.graphql("""{ runsFeedOrError(limit: 50, view: ROOTS) { __typename ... on RunsFeedConnection {
        results { __typename id } } } }""")["runsFeedOrError"]["results"]
    runs = server.graphql("""query($t: [ExecutionTag!]) { runsOrError(filter: {tags: $t}) { ... on Runs {
        results { runId status } } } }""", {"t": [{"key": "dagster/backfill", "value": backfill_id}]})
    runs = runs["runsOrError"]["results"]
    assert len(runs) >= 10 and all(x["status"] == "SUCCESS" for x in runs)      # one per bundled dump
    assert {"__typename": "PartitionBackfill", "id": backfill_id} in feed
    assert not {x["runId"] for x in runs} & {x["id"] for x in feed}               # no run of it on its own
    browser.open(f"{server.url}/runs")
    browser.wait_for(f"[...document.querySelectorAll('a')].some(a => a.href.includes('/runs/b/{backfill_id}'))")
    _keep(browser, "runs_demo_backfill")
    # The runs carry the code location's origin, so the Overview timeline places them (one batch of 10).
    browser.open(f"{server.url}/overview/activity/timeline")
    browser.wait_for(f"document.body.innerText.includes({json.dumps(server.location)})"
                     " && document.body.innerText.includes('Jobless asset materializations')")
    _keep(browser, "overview_timeline")


def test_a_schedule_started_under_dg_dev_is_running_for_make_uis_workspace(server):
    """Started in `dg dev`'s UI; the state the UI and the daemon read for workspace.yaml's location (what
    `make ui` serves) is RUNNING."""
    import dagster as dg
    import yaml
    from dagster._core.definitions.selector import InstigatorSelector

    sel = {"repositoryLocationName": server.location, "repositoryName": "__repository__",
           "scheduleName": "nightly_eval_schedule"}
    out = server.graphql("""mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename
        ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }""", {"s": sel})
    assert out["startSchedule"]["scheduleState"]["status"] == "RUNNING", out
    location = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]["location_name"]
    selector = InstigatorSelector(location_name=location, repository_name="__repository__",
                                  name="nightly_eval_schedule").get_id()
    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        states = {s.selector_id: s.status.value for s in instance.all_instigator_state()}
    assert states.get(selector) == "RUNNING"      # (nightly at 02:00 UTC: it does not fire during the test)


@needs_chromium
def test_the_automation_page_lists_the_schedules_and_the_sensor(server, browser):
    browser.open(f"{server.url}/automation")
    wanted = ["weekly_alignment_refresh_schedule", "nightly_eval_schedule", "new_dump_folders"]
    browser.wait_for(f"{json.dumps(wanted)}.every(n => document.body.innerText.includes(n))")
    _keep(browser, "automation")
