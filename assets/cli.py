"""`llama-pipeline`: the command line of the project.

    llama-pipeline demo                 # materialize the whole graph on the bundled sample dumps
    llama-pipeline config llama-7b      # a profile's hyper-parameters and parameter count
    llama-pipeline make-samples --docs 100000 --out /tmp/dumps   # generate larger dumps for benchmarks
    llama-pipeline convert --to hf SRC DST                        # checkpoint layout conversion
    llama-pipeline plan llama2-70b --nodes 16 --gpus-per-node 8   # per-GPU memory; exit 1 if it does not fit
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    home = os.environ.get("DAGSTER_HOME")
    if not home or not Path(home).is_absolute():
        print("DAGSTER_HOME must be an absolute path with a dagster.yaml (make demo sets it up)", file=sys.stderr)
        return 2
    from assets.demo import run_all

    selection = set(args.select.split(",")) if args.select else None
    summary = run_all(selection=selection)
    print(f"\nMaterialized {summary['steps']} steps in {summary['seconds']:.0f}s "
          f"(profile {os.environ.get('LLAMA_PROFILE', 'tiny')}).")
    failed = summary["checks_failed"]
    if failed:
        print(f"WARNING: {len(failed)} asset check(s) failed (their details are in the UI): " + ", ".join(failed))
    else:
        print("Every asset check passed.")
    print(f"Reports: {os.environ.get('LLAMA_DATA_DIR', 'data')}/reports/*/index.html")
    print("Open the UI with:  make ui   (then browse http://127.0.0.1:3000)")
    return 1 if failed and args.strict else 0


def _cmd_config(args: argparse.Namespace) -> int:
    from llama_model.configs import get_profile

    profile = get_profile(args.profile)
    info = profile.describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    n = info["parameters"]
    print(f"profile {profile.name}: {n:,} parameters ({n / 1e9:.2f}B)")
    for section in ("model", "train", "data", "align"):
        print(f"[{section}]")
        for k, v in info[section].items():
            print(f"  {k} = {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llama-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="materialize every asset on the bundled sample dumps")
    p.add_argument("--select", help="comma-separated asset names to materialize (default: all)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an asset check fails")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("config", help="print a profile's hyper-parameters and parameter count")
    p.add_argument("profile", nargs="?", help="tiny, small, llama-7b, ..., llama2-70b (default $LLAMA_PROFILE)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_config)

    # Other stages register their commands here (make-samples, convert, ...).
    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Sub-commands contributed by the library packages (imported lazily so --help stays fast)."""
    from assets.dumps_cli import register as dumps
    from pipelines.samples.cli import register as samples
    from llama_model.cli import register as model
    from llama_model.plan import register as plan
    return [dumps, samples, model, plan]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
