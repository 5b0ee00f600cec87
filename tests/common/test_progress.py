"""common.progress: what the log gets, and when (a fake clock: no sleeping, no wall-clock asserts)."""
import io

from common.progress import Progress, duration


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_logs_at_most_every_ten_seconds_with_rate_and_eta():
    clock, lines = Clock(), []
    p = Progress("sft", total=100, unit="steps", log=lines.append, clock=clock, stream=io.StringIO())
    for step in range(1, 101):
        clock.t = step * 0.5                  # 2 steps/s, 50 s in all
        p(step, 100)
    p.close()
    # the first update, then one per 10 s (at 10.5, 20.5, 30.5, 40.5 s), then the final line
    assert len(lines) == 6
    assert lines[0] == "sft: 1/100 steps (1%), 2 steps/s, elapsed 0s, ETA 50s"
    assert lines[2] == "sft: 41/100 steps (41%), 2 steps/s, elapsed 20s, ETA 30s"
    assert lines[-1] == "sft: 100/100 steps (100%), 2 steps/s, elapsed 50s"
    p.close()
    assert len(lines) == 6                    # close is idempotent


def test_unknown_total_update_and_bar():
    clock, lines, tty = Clock(), [], io.StringIO()
    with Progress("shards", unit="docs", log=lines.append, clock=clock, stream=tty) as p:
        clock.t = 4.0
        p.update(1000)
    assert lines[-1] == "shards: 1,000 docs, 250 docs/s, elapsed 4s"
    assert "\r[" in tty.getvalue() and tty.getvalue().endswith("\n")


def test_duration():
    assert [duration(s) for s in (42, 185, 7620)] == ["42s", "3m05s", "2h07m"]
