"""The code location loads, and only assets/ and resources/ import dagster."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_assets_and_resources_import_dagster():
    offenders = []
    for pkg in ("pipelines", "llama_model", "common"):
        for py in (ROOT / pkg).rglob("*.py"):
            if {"dagster", "dagster_duckdb", "dagster_k8s"} & _imports(py):
                offenders.append(str(py.relative_to(ROOT)))
    assert offenders == [], f"these library modules import dagster: {offenders}"


def test_definitions_load():
    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "raw_documents" in keys


def test_bad_configuration_fails_when_the_definitions_load(monkeypatch):
    import pytest

    from resources import build_resources

    monkeypatch.setenv("LLAMA_PROFILE", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        build_resources()
    monkeypatch.setenv("LLAMA_PROFILE", "tiny")
    monkeypatch.setenv("LLAMA_ENGINE", "spark")
    with pytest.raises(ValueError, match="LLAMA_ENGINE must be one of local, ray"):
        build_resources()
