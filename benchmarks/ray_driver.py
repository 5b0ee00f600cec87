"""The Ray driver's cost per task: a trivial map over n and 4n items on a local Ray, and the ratio.

    python benchmarks/ray_driver.py                 # 4,000 and 16,000 items, 2 CPUs
    python benchmarks/ray_driver.py --small 1000 --cpus 2

A map whose driver work per completed task is constant takes ~4x as long for 4x the items (goal: ratio
<= 5); the old driver (one `ray.wait` over every pending reference per completion) took x10.5. The
tasks do nothing, so the figure is the driver's and Ray's own overhead per task.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def noop(x: int) -> int:
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=4_000)
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=2)
    a = ap.parse_args()
    import ray

    from pipelines.engine import RayEngine

    os.environ.pop("RAY_ADDRESS", None)
    engine = RayEngine(workers=a.cpus)
    try:
        engine.map(noop, range(200))  # start the workers before timing
        times = {}
        for n in (a.small, a.small * a.factor):
            t = time.perf_counter()
            out = engine.map(noop, range(n))
            times[n] = time.perf_counter() - t
            assert out == list(range(n))
            print(f"map over {n:>7,} items: {times[n]:7.2f} s  ({times[n] / n * 1e3:.3f} ms per item)", flush=True)
    finally:
        ray.shutdown()
    small, big = times.values()
    print(f"ratio {big / small:.2f} for x{a.factor} items (goal <= 5; linear = {a.factor})")


if __name__ == "__main__":
    main()
