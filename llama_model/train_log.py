"""What a training run leaves behind: metrics.jsonl (one JSON object per step, rank 0), summary.json, and
the loss-curve PNG; the readers the base_model asset and its check use.

    log = MetricsLog(out / "metrics.jsonl", resume_step, enabled=rank == 0)
    rows = read_metrics(out / "metrics.jsonl"); loss_decrease(rows)["passed"]; plot_loss_curve(rows, png)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

TENSORBOARD_DIR = "tensorboard"     # beside metrics.jsonl: `tensorboard --logdir data/base_model/tensorboard`


def _scalars(record: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of a metrics record as TensorBoard tags: {"loss": .., "val/wikipedia/ppl": ..}."""
    out = {}
    for k, v in record.items():
        if k == "step":
            continue
        if isinstance(v, dict):
            out |= _scalars(v, f"{prefix}{k}/")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
            out[f"{prefix}{k}"] = float(v)
    return out


STAGE_EVENTS = f"{TENSORBOARD_DIR}/events.out.tfevents.0.llama-pipeline"  # an alignment stage's curves


def stage_events(curves: dict[str, list[float]]) -> bytes | None:
    """A TensorBoard event file of an alignment stage's curves ({tag: one value per step}), written after
    the stage: wall time = step and a fixed name, so the stage's folder keeps identical bytes on a rerun
    (SummaryWriter stamps both with the clock). None without the tensorboard package."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
        return None
    import io

    buf = io.BytesIO()
    records = RecordWriter(buf)
    records.write(Event(wall_time=0.0, file_version="brain.Event:2").SerializeToString())
    for tag, values in sorted(curves.items()):
        for step, value in enumerate(values, 1):
            if isinstance(value, (int, float)) and np.isfinite(value):
                summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
                records.write(Event(wall_time=float(step), step=step, summary=summary).SerializeToString())
    return buf.getvalue()


class TensorBoardLog:
    """TensorBoard event files of the same records (torch.utils.tensorboard; none without the package).
    The event files carry wall-clock times, so unlike metrics.jsonl they differ between identical runs;
    nothing reads them back. On resume, steps past the resumed one are purged from the view."""

    def __init__(self, log_dir: Path, resume_step: int, enabled: bool):
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:          # tensorboard is a dependency; a bare install may still lack it
            return
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step + 1 if resume_step > 0 else None)

    def write(self, record: dict) -> None:
        if self.writer is not None:
            for tag, value in _scalars(record).items():
                self.writer.add_scalar(tag, value, global_step=int(record["step"]))
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class MetricsLog:
    """Rank 0 appends one JSON object per line; on resume, lines past the resumed step are dropped. The same
    records go to TensorBoard event files in `tensorboard/` beside the file."""

    def __init__(self, path: Path, resume_step: int, enabled: bool):
        self.path, self.enabled = path, enabled
        self.tb = TensorBoardLog(path.parent / TENSORBOARD_DIR, resume_step, enabled)
        if not enabled:
            return
        kept = []
        if resume_step > 0 and path.exists():
            kept = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= resume_step]
        elif path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(ln + "\n" for ln in kept))
        self.f = path.open("a")

    def write(self, record: dict) -> None:
        if self.enabled:
            self.f.write(json.dumps(record) + "\n")
            self.f.flush()
            self.tb.write(record)

    def close(self) -> None:
        if self.enabled:
            self.f.close()
            self.tb.close()


def summarize(metrics_path: Path, n_params: int, world: int, seconds: float, rates: list[float]) -> dict:
    rows = [json.loads(ln) for ln in metrics_path.read_text().splitlines() if ln]
    last = rows[-1]
    val = next((r["val"] for r in reversed(rows) if r.get("val")), {})
    tps = float(np.median(rates)) if rates else last["tokens_per_s"]
    return {
        "steps": last["step"], "final_loss": last["loss"], "first_loss": rows[0]["loss"],
        "tokens_seen": last["tokens"], "tokens_per_s": tps, "mfu": last["mfu"] * tps / last["tokens_per_s"],
        "parameters": n_params, "world_size": world, "seconds_this_run": seconds,
        "val": {s: {"loss": v["loss"], "ppl": v["ppl"]} for s, v in val.items()},
    }


def pipes_metadata(summary: dict) -> dict:
    md = {k: summary[k] for k in ("final_loss", "first_loss", "tokens_seen", "tokens_per_s", "mfu", "steps",
                                  "parameters")}
    for source, v in summary["val"].items():
        md[f"val_ppl/{source}"] = v["ppl"]
    return md


# --- reading a run back (used by the base_model asset and its check) ---------------------------------

def read_metrics(metrics_path: str | os.PathLike) -> list[dict]:
    return [json.loads(ln) for ln in Path(metrics_path).read_text().splitlines() if ln.strip()]


def loss_decrease(rows: list[dict], frac: float = 0.1) -> dict:
    """Mean loss of the first and last `frac` of the steps; passed when the last is clearly lower."""
    losses = [r["loss"] for r in rows]
    if len(losses) < 2:
        return {"passed": False, "first": None, "last": None, "steps": len(losses)}
    k = max(1, int(len(losses) * frac))
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    return {"passed": bool(last < first - 0.05 * abs(first)), "first": first, "last": last, "steps": len(losses)}


def plot_loss_curve(rows: list[dict], png_path: str | os.PathLike) -> Path:
    """Training loss per step, with validation loss per source where evaluated, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=90)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="train", lw=1.2)
    evals = [r for r in rows if r.get("val")]
    for source in (evals[-1]["val"] if evals else {}):
        pts = [(r["step"], r["val"][source]["loss"]) for r in evals if source in r["val"]]
        ax.plot(*zip(*pts), marker="o", ms=3, lw=0.8, ls="--" if source != "all" else "-", label=f"val {source}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = Path(png_path)
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out
