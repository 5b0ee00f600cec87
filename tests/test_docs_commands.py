"""Every fenced block marked `<!-- runnable -->` in the README and docs/*.md runs, on the bundled samples, with
status 0 and no deprecation warning: the docs never teach a command that fails or is superseded."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARK = "<!-- runnable -->"
WARNINGS = re.compile(r"(Supersession|Deprecation|FutureWarning)\w*|is deprecated|No such command")


def runnable_blocks() -> list[tuple[str, str]]:
    """[(file:line, the block's text)] for each fence right after a MARK line."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() != MARK:
                continue
            assert i + 1 < len(lines) and lines[i + 1].startswith("```"), f"{path.name}:{i + 1}: {MARK} before no fence"
            end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
            out.append((f"{path.relative_to(ROOT)}:{i + 2}", "\n".join(lines[i + 2:end])))
    return out


def test_the_readme_and_operations_have_runnable_blocks():
    where = {w.split(":")[0] for w, _ in runnable_blocks()}
    assert {"README.md", "docs/operations.md"} <= where


@pytest.mark.slow
@pytest.mark.parametrize("where,block", runnable_blocks(), ids=lambda v: v if ":" in str(v) else "")
def test_a_runnable_docs_block_succeeds_without_deprecation_warnings(where, block, tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLAMA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), LLAMA_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1")
    # `.venv/bin/` in the docs is the project's venv: here, the one running the tests; files the docs put
    # in /tmp go to the test's own folder.
    # (/tmp/ first: the checkout itself may lie under /tmp)
    script = block.replace("/tmp/", f"{tmp_path}/").replace(".venv/bin/", f"{BIN}/")
    if "llama-pipeline register-dumps" not in script:      # blocks that need partition keys get them first
        script = "llama-pipeline register-dumps >/dev/null\n" + script
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{where}: status {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    found = WARNINGS.search(r.stdout + r.stderr)
    assert found is None, f"{where}: {found.group(0)}\n{r.stderr[-3000:]}"
