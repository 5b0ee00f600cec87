"""The one Definitions of the code location: `dagster dev -w workspace.yaml` loads it."""
import dagster as dg

from assets import align, curate, evaluate, ingest, pretrain, tokens
from assets.schedules import SCHEDULES
from assets.sensors import SENSORS
from resources import build_resources

_STAGES = (ingest, curate, tokens, pretrain, align, evaluate)

defs = dg.Definitions(
 swaps in dagster-k8s. executor here (see docs/scaling.md).assets=[a for stage in _STAGES for a in stage.ASSETS],
 swaps in dagster-k8s. executor here (see docs/scaling.md).asset_checks=[c for stage in _STAGES for c in stage.CHECKS],
 swaps in dagster-k8s. executor here (see docs/scaling.md).schedules=SCHEDULES,
 swaps in dagster-k8s. executor here (see docs/scaling.md).sensors=SENSORS,
 swaps in dagster-k8s. executor here (see docs/scaling.md).resources=build_resources(),
 swaps in dagster-k8s. executor here (see docs/scaling.md).# In-process is ~4x faster than one process per step on a 2-core laptop; a cluster deployment
 swaps in dagster-k8s. executor here (see docs/scaling.md).# swaps in dagster-k8s' executor here (see docs/scaling.md).
 swaps in dagster-k8s. executor here (see docs/scaling.md).executor=dg.in_process_executor,
)
