"""The one Definitions of the code location `llama_pipeline`: `dg dev` (make ui) and workspace.yaml load it."""
import dagster as dg

from assets import align, curate, evaluate, ingest, pretrain, tokens
from assets.schedules import SCHEDULES
from assets.sensors import SENSORS
from resources import build_resources

_STAGES = (ingest, curate, tokens, pretrain, align, evaluate)

defs = dg.Definitions(
    assets=[a for stage in _STAGES for a in stage.ASSETS],
    asset_checks=[c for stage in _STAGES for c in stage.CHECKS],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
    # In-process is ~4x faster than one process per step on a 2-core laptop; on a cluster each run is
    # one partition step in its own pod (dagster-k8s run launcher) and the heavy tasks go to Ray
    # (LLAMA_ENGINE=ray): see docs/scaling.md.
    executor=dg.in_process_executor,
)
