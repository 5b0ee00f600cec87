"""`run_steps` (the demo's and `materialize`'s runner) says why a step failed, not only that it did."""
import dagster as dg
import pytest

from assets.demo import run_steps


@dg.asset
def fine() -> None:
    return None


@dg.asset(deps=[fine])
def broken() -> None:
    raise ValueError("the input folder holds no parquet file")


def test_a_failed_step_reports_the_assets_own_error_and_where():
    defs = dg.Definitions(assets=[fine, broken])
    instance = dg.DagsterInstance.ephemeral()
    lines = []
    with pytest.raises(SystemExit) as exc:
        run_steps(defs, instance, [([fine.key], None), ([broken.key], None)], title="t", description="d",
                  log=lines.append)
    message = str(exc.value)
    assert message.startswith("materializing broken failed (run ")
    assert "broken: ValueError: the input folder holds no parquet file" in message
    assert "test_demo_steps.py" in message and "in broken" in message
    assert any(line.startswith("[2/2] broken") for line in lines)
