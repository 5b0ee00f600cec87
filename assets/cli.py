"""`llama-pipeline`: the command line of the project.

    llama-pipeline demo                 # materialize the whole graph on the bundled sample dumps
    llama-pipeline demo --select 'group:tokens'                   # names, or Dagster's selection syntax
    llama-pipeline materialize --select raw_documents --partition wikipedia/20220701   # one partition
    llama-pipeline config llama-7b      # a profile's hyper-parameters and parameter count
    llama-pipeline config tiny --set train.lr=1e-4 --toml > run.toml   # a config file; demo --config run.toml
    llama-pipeline make-samples --docs 100000 --out /tmp/dumps   # generate larger dumps for benchmarks
    llama-pipeline convert --to hf SRC DST                        # checkpoint layout conversion
    llama-pipeline plan llama2-70b --nodes 16 --gpus-per-node 8   # per-GPU memory; exit 1 if it does not fit
    llama-pipeline docs-figures [DATA_DIR]                        # docs/figures.md from a run's reports
    llama-pipeline reports [DATA_DIR]                             # the HTML reports on http://127.0.0.1:8787

Failures a user can fix (a typo, a missing file, a bad number) end in one line `error: ...` and a
non-zero status (2 for a wrong command line); `--debug` shows the traceback instead. Every sub-command,
including those other packages register, runs under that handling (`main` wraps them all).
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import warnings
from importlib import metadata
from pathlib import Path

# Integer arguments that count something: 0 makes no sense either. Every other integer argument of any
# sub-command must be >= 0 (seeds, sizes); see _validate_numbers.
POSITIVE_INTS = {"docs", "steps", "nproc", "workers"}


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def _version() -> str:
    try:
        return metadata.version("llama-pipeline")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


# ------------------------------------------------------------------------------------------ demo

def resolve_selection(text: str, defs=None) -> set[str]:
    """Asset names selected by `text`: comma-separated names, or Dagster's selection syntax
    ('group:tokens', 'key:rlhf_v*', '+sft_model', 'tokenizer+', 'key:a or key:b'). A name or clause
    that selects nothing is an error naming the closest asset names."""
    import dagster as dg

    if defs is None:
        from assets.definitions import defs
    graph = defs.resolve_asset_graph()
    names = sorted(k.to_user_string() for k in graph.materializable_asset_keys)
    selected: set[str] = set()
    for clause in (c.strip() for c in text.split(",")):
        if not clause:
            continue
        try:
            with warnings.catch_warnings():      # group: selections warn that a parameter is in beta
                warnings.simplefilter("ignore")
                keys = dg.AssetSelection.from_string(clause).resolve(graph)
        except Exception:  # noqa: BLE001 - Dagster raises several types for an unknown key or bad syntax
            keys = set()
        found = {k.to_user_string() for k in keys} & set(names)
        if not found:
            word = clause.split(":", 1)[-1].strip("+*() ")
            close = difflib.get_close_matches(word, names, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else f"; the assets are: {', '.join(names)}"
            raise UserError(f"--select {clause!r} matches no asset{hint}")
        selected |= found
    if not selected:
        raise UserError("--select is empty")
    return selected


def _require_dagster_home() -> None:
    home = os.environ.get("DAGSTER_HOME")
    if not home or not Path(home).is_absolute() or not (Path(home) / "dagster.yaml").is_file():
        raise UserError("DAGSTER_HOME must be an absolute path to a folder with a dagster.yaml "
                        "(make demo sets it up)")


def _cmd_demo(args: argparse.Namespace) -> int:
    selection = resolve_selection(args.select) if args.select else None   # a typo fails before anything runs
    _require_dagster_home()
    _use_config_file(args.config)
    from assets.demo import run_all

    summary = run_all(selection=selection)
    print(f"\nMaterialized {summary['steps']} steps in {summary['seconds']:.0f}s "
          f"(profile {os.environ.get('LLAMA_PROFILE', 'tiny')}).")
    for asset, keys in summary.get("skipped_partitions", {}).items():
        print(f"{asset}: the demo materializes the first weeks only (the same figures on any date); the "
              f"{len(keys)} later one(s), {keys[0]} ... {keys[-1]}, are the weekly schedule's to fill "
              f"(or a backfill from the asset's page in the UI).")
    failed = summary["checks_failed"]
    if failed:
        print(f"WARNING: {len(failed)} asset check(s) failed (their details are in the UI): " + ", ".join(failed))
    else:
        print("Every asset check passed.")
    print(f"Reports: {os.environ.get('LLAMA_DATA_DIR', 'data')}/reports/*/index.html; serve them for the UI's links with: llama-pipeline reports")
    print(f"The runs are one backfill ({summary['backfill_id']}) on the Runs page.")
    print("Open the UI with:  make ui   (then browse http://127.0.0.1:3000)")
    return 1 if failed and args.strict else 0


def _cmd_materialize(args: argparse.Namespace) -> int:
    selection = resolve_selection(args.select)
    _require_dagster_home()
    _use_config_file(args.config)
    import dagster as dg

    from assets.definitions import defs
    from assets.materialize import PartitionError, check_partition, materialize

    instance = dg.DagsterInstance.get()
    try:
        check_partition(defs, instance, selection, args.partition)   # a wrong key fails before anything runs
    except PartitionError as e:
        raise UserError(str(e)) from None
    summary = materialize(selection, args.partition, defs, instance)
    failed = summary["checks_failed"]
    print(f"Materialized {', '.join(sorted(selection))} in {summary['seconds']:.0f}s "
          f"(backfill {summary['backfill_id']}); "
          + (f"failed checks: {', '.join(failed)}" if failed else "every asset check passed."))
    return 1 if failed and args.strict else 0


# ------------------------------------------------------------------------------------------ config

def _profile_names() -> list[str]:
    from llama_model.configs import PROFILES
    return list(PROFILES)


def _resolved_profile(args: argparse.Namespace):
    """The profile of `config`: PROFILE, or --config FILE (else $LLAMA_CONFIG), then the --set overrides."""
    from llama_model.config_file import ConfigError, load_config, with_overrides
    from llama_model.configs import PROFILES, get_profile

    try:
        if args.config and args.profile:
            raise UserError("give a PROFILE or --config FILE, not both")
        profile = load_config(args.config, PROFILES) if args.config else get_profile(args.profile)
        return with_overrides(profile, args.set or [])
    except ConfigError as e:
        raise UserError(str(e)) from None


def _use_config_file(path: str | None) -> None:
    """--config FILE of demo/materialize: checked now, then read by every stage through get_profile."""
    if not path:
        return
    from llama_model.config_file import ConfigError, load_config
    from llama_model.configs import PROFILES

    try:
        profile = load_config(path, PROFILES)
    except ConfigError as e:
        raise UserError(str(e)) from None
    os.environ["LLAMA_CONFIG"] = str(Path(path).resolve())
    os.environ["LLAMA_PROFILE"] = profile.name


def _cmd_config(args: argparse.Namespace) -> int:
    from llama_model.config_file import to_toml

    profile = _resolved_profile(args)
    if args.toml:
        print(to_toml(profile), end="")
        return 0
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


def _cmd_reports(args: argparse.Namespace) -> int:
    from common.report_server import HOST, index_html, make_server

    reports = Path(args.data_dir) / "reports"
    if not reports.is_dir():
        raise UserError(f"{reports}: no reports folder (the eval and curation assets write it)")
    try:
        server = make_server(reports, args.port)
    except OSError as e:
        raise UserError(f"cannot listen on {HOST}:{args.port}: {e.strerror or e}") from None
    url = f"http://{HOST}:{server.server_address[1]}/"
    print(f"Serving {reports} on {url} (Ctrl-C stops); the UI's report_url links point here.")
    for name in index_html(reports):
        print(f"  {url}{name}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _cmd_docs_figures(args: argparse.Namespace) -> int:
    from common.figures import write_figures

    out = write_figures(Path(args.data_dir), Path(args.out))
    print(f"wrote {out}")
    return 0


# ------------------------------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llama-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="materialize every asset on the bundled sample dumps")
    p.add_argument("--select", help="asset names, comma-separated, or a Dagster selection such as "
                                    "'group:tokens', 'key:rlhf_v*', '+sft_model' (default: all)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an asset check fails")
    p.add_argument("--config", metavar="FILE", help="the run's profile from a TOML file (as LLAMA_CONFIG=FILE)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("materialize", help="materialize a selection for one partition (one run)")
    p.add_argument("--select", required=True, help="asset names or a Dagster selection, as for demo")
    p.add_argument("--partition", help="a partition key (a dump <source>/<dump>, a week YYYY-MM-DD), several "
                                       "comma-separated, or a range FIRST...LAST: one run per key, one backfill")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an asset check fails")
    p.add_argument("--config", metavar="FILE", help="the run's profile from a TOML file (as LLAMA_CONFIG=FILE)")
    p.set_defaults(func=_cmd_materialize)

    p = sub.add_parser("config", help="print a profile's hyper-parameters and parameter count")
    p.add_argument("profile", nargs="?", choices=_profile_names(), metavar="PROFILE",
                   help=f"one of {', '.join(_profile_names())} (default $LLAMA_PROFILE, else tiny)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--toml", action="store_true", help="every field as a TOML file that --config loads back")
    p.add_argument("--config", metavar="FILE", help="a TOML file written by --toml (instead of PROFILE)")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="override one field, e.g. train.lr=1e-4 or training.warmup_steps=10 (repeatable)")
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("reports", help="serve the eval and curation HTML reports on http://127.0.0.1")
    p.add_argument("data_dir", nargs="?", default=os.environ.get("LLAMA_DATA_DIR", "data"),
                   help="the run's data folder (default $LLAMA_DATA_DIR, else ./data)")
    p.add_argument("--port", type=int, default=None,
                   help="default $LLAMA_REPORTS_PORT, else 8787 (the port the metadata links use)")
    p.set_defaults(func=_cmd_reports)

    p = sub.add_parser("docs-figures", help="write docs/figures.md from a run's report JSON files")
    p.add_argument("data_dir", nargs="?", default=os.environ.get("LLAMA_DATA_DIR", "data"),
                   help="the run's data folder (default $LLAMA_DATA_DIR, else ./data)")
    p.add_argument("--out", default="docs/figures.md", help="the generated markdown file")
    p.set_defaults(func=_cmd_docs_figures)

    # Other stages register their commands here (make-samples, convert, ...).
    for register in _extra_commands():
        register(sub)
    _validate_numbers(parser)
    return parser


def _extra_commands():
    """Sub-commands contributed by the library packages (imported lazily so --help stays fast)."""
    from assets.dumps_cli import register as dumps
    from assets.lineage_cli import register as lineage
    from llama_model.cli import register as model
    from llama_model.plan import register as plan
    from pipelines.samples.cli import register as samples
    return [dumps, lineage, samples, model, plan]


def _checked_int(name: str, positive: bool):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < (1 if positive else 0):
            raise argparse.ArgumentTypeError(f"{value} is not {'positive' if positive else '>= 0'}")
        return value
    parse.__name__ = "positive integer" if positive else "non-negative integer"
    return parse


def _validate_numbers(parser: argparse.ArgumentParser) -> None:
    """Every `type=int` argument of every sub-command, including those registered by other packages,
    rejects negative values (and 0 for the counts in POSITIVE_INTS) with a usage error."""
    for action in parser._actions:
        if action.type is int:
            action.type = _checked_int(action.dest, action.dest in POSITIVE_INTS)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _validate_numbers(sub)


# ------------------------------------------------------------------------------------------ main

def _fail(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Parse, run the sub-command, and turn any failure into one `error: ...` line (traceback: --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("LLAMA_DEBUG"))
    parser = build_parser()
    args = parser.parse_args([a for a in argv if a != "--debug"])   # --debug anywhere on the line   # usage errors: argparse prints usage + "error: ..." and exits 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except SystemExit as e:          # a library's SystemExit("message") is a failure like any other
        if isinstance(e.code, str):
            return _fail(e.code, 1)
        raise
    except Exception as e:           # noqa: BLE001 - the one place every command's failure is reported
        if debug:
            raise
        if isinstance(e, UserError):
            return _fail(str(e), 2)
        known = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError, KeyError)
        text = str(e) if isinstance(e, known) else f"{type(e).__name__}: {e}"
        return _fail(f"{text} (rerun with --debug for the traceback)", 1)


if __name__ == "__main__":
    sys.exit(main())
