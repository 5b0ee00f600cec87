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


def test_code_versions_are_derived_not_typed():
    """No asset carries a hand-typed version: each is a 16-hex digest (pipelines/version.py)."""
    import re

    assert _offenders(lambda a: re.fullmatch(r"[0-9a-f]{16}", a.code_version or "")) == []


def test_an_edited_recipe_marks_the_asset_stale_and_its_new_data_its_descendants(monkeypatch):
    """The instance's staleness API (what the UI shows). A recipe edit changes the derived code version of
    the stage that reads it: STALE (code). Dagster 1.13 passes staleness on through data versions: once the
    stage reruns, a new data version (other output bytes) marks its children stale, an equal one does not."""
    import dataclasses

    import dagster as dg
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleCauseCategory, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from assets import metadata as md
    from pipelines import curation, recipes

    def lid_output() -> str:  # stands for the manifest digest: the output follows the recipe's threshold
        return f"kept at {recipes.step('c4', recipes.LID, 'langid').params['min_score']}"

    def graph():
        @dg.asset(name="language_identified", code_version=md.code_version("assets/curate.py", curation.LID))
        def lid():
            return dg.MaterializeResult(data_version=dg.DataVersion(lid_output()))

        @dg.asset(name="quality_filtered", deps=[lid],
                  code_version=md.code_version("assets/curate.py", curation.QUALITY))
        def quality():
            return dg.MaterializeResult(data_version=dg.DataVersion("quality-output"))

        @dg.asset(deps=[quality], code_version="report")
        def report():
            return dg.MaterializeResult()

        return [lid, quality, report]

    instance = dg.DagsterInstance.ephemeral()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    dg.materialize(graph(), instance=instance, raise_on_error=True, run_config=quiet)

    def resolver():
        return CachingStaleStatusResolver(instance, dg.Definitions(assets=graph()).resolve_asset_graph(),
                                          LoadingContextForTest(instance))

    def status():
        r = resolver()
        return [r.get_status(dg.AssetKey(k)) for k in ("language_identified", "quality_filtered", "report")]

    assert status() == [StaleStatus.FRESH] * 3
    dg.materialize(graph()[:1], instance=instance, raise_on_error=True, run_config=quiet)
    assert status() == [StaleStatus.FRESH] * 3  # same code, same output bytes: nothing is stale

    c4 = tuple(dataclasses.replace(s, params={**s.params, "min_score": 0.99}) if s.name == "langid" else s
               for s in recipes.RECIPES["c4"])
    monkeypatch.setitem(recipes.RECIPES, "c4", c4)
    assert status()[0] == StaleStatus.STALE
    assert [c.category for c in resolver().get_stale_causes(dg.AssetKey("language_identified"))] == \
        [StaleCauseCategory.CODE]
    dg.materialize(graph()[:1], instance=instance, raise_on_error=True, run_config=quiet)
    assert status() == [StaleStatus.FRESH, StaleStatus.STALE, StaleStatus.FRESH]  # new data: its child
