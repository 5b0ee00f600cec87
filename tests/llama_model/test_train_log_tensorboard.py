"""Pretraining metrics go to TensorBoard event files beside metrics.jsonl."""
import pytest


def test_metrics_go_to_tensorboard_beside_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from llama_model.train_log import MetricsLog

    log = MetricsLog(tmp_path / "metrics.jsonl", 0, enabled=True)
    for step, loss in [(1, 7.5), (2, 6.25), (3, 5.0)]:
        log.write({"step": step, "loss": loss, "lr": 1e-4 * step,
                   "val": {"wikipedia": {"loss": 4.0, "ppl": 54.6}} if step == 3 else {}})
    log.close()
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(1, 7.5), (2, 6.25), (3, 5.0)]
    assert [(e.step, round(e.value, 4)) for e in acc.Scalars("val/wikipedia/ppl")] == [(3, 54.6)]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3


def test_an_alignment_stage_curve_is_a_reproducible_event_file(tmp_path):
    """The alignment stages (SFT, RMs, rejection sampling, PPO) write their per-step curves once, after the
    stage, as one event file with fixed name and wall times: the same curves give the same bytes."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from llama_model.train_log import STAGE_EVENTS, stage_events

    curves = {"sft/loss": [2.5, 2.0, 1.25], "ppo/kl": [0.0, 0.03125]}
    events = stage_events(curves)
    assert events == stage_events(dict(reversed(curves.items())))
    (tmp_path / STAGE_EVENTS).parent.mkdir(parents=True)
    (tmp_path / STAGE_EVENTS).write_bytes(events)
    acc = EventAccumulator(str((tmp_path / STAGE_EVENTS).parent))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("sft/loss")] == [(1, 2.5), (2, 2.0), (3, 1.25)]
    assert [(e.step, e.value) for e in acc.Scalars("ppo/kl")] == [(1, 0.0), (2, 0.03125)]
