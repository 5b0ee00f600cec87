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
