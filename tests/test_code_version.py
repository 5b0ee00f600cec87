"""Every asset carries what the UI needs: a code_version (so it shows what a code change made stale), a
description, a group and kinds; every asset check is attached to a defined asset (so the UI shows it)."""
from assets.definitions import defs

GRAPH = defs.resolve_asset_graph()
ASSETS = [GRAPH.get(k) for k in GRAPH.get_all_asset_keys() if GRAPH.get(k).is_materializable]


def _offenders(pred) -> list[str]:
    return sorted(a.key.to_user_string() for a in ASSETS if not pred(a))


def test_every_asset_has_a_code_version():
    assert _offenders(lambda a: a.code_version) == [], "assets without code_version"


def test_every_asset_has_a_description_group_and_kinds():
    assert _offenders(lambda a: (a.description or "").strip()) == [], "assets without a docstring"
    assert _offenders(lambda a: a.group_name and a.group_name != "default") == [], "assets in the default group"
    assert _offenders(lambda a: any(t.startswith("dagster/kind/") for t in a.tags)) == [], "assets without kinds"


def test_asset_checks_are_attached_to_defined_assets():
    keys = set(GRAPH.get_all_asset_keys())
    checks = list(GRAPH.asset_check_keys)
    assert all(c.asset_key in keys for c in checks), [c for c in checks if c.asset_key not in keys]
    if ASSETS:  # the stages declare their invariants as checks (ARCHITECTURE.md)
        assert checks, "no asset checks in the Definitions"


def test_materializations_record_the_code_version():
    """The UI marks an asset stale when its code_version differs from the one its last materialization recorded."""
    import dagster as dg

    @dg.asset(code_version="7")
    def thing():
        return dg.MaterializeResult()

    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([thing], instance=instance, raise_on_error=True,
                   run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    event = instance.get_latest_materialization_event(dg.AssetKey("thing"))
    assert event.asset_materialization.tags["dagster/code_version"] == "7"
