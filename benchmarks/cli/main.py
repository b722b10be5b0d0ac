"""The dropout-ports command: compare the ports, train one, benchmark, report, show what is installed."""

from __future__ import annotations

import argparse
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType

from tqdm.auto import tqdm

from dropout_ports.backends import (
    BUILTIN_BACKENDS,
    VARIANT_NAMES,
    available_backends,
    check_registry,
    get_backend,
    port_errors,
    prepare_host_devices,
)
from dropout_ports.benchmarks.cli.check import add_check_command, port_arg, run_check
from dropout_ports.benchmarks.cli.commands import (
    run_bench,
    run_compare_command,
    run_info,
    run_report,
    run_study,
    run_train,
)
from dropout_ports.benchmarks.cli.options import (
    Formatter,
    add_config_args,
    add_data_args,
    add_executor_args,
    add_run_args,
    config_from,
    seed_arg,
)
from dropout_ports.benchmarks.results.stats import DEFAULT_MARGIN
from dropout_ports.benchmarks.studies.catalogue import STUDIES
from dropout_ports.benchmarks.suites.lockstep import check_lockstep_support
from dropout_ports.common.config import Config
from dropout_ports.common.data import DatasetError

USER_ERRORS = (ValueError, TypeError, ImportError, DatasetError)
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    received: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)  # SIGTERM is Ctrl-C: finished runs are kept
    try:
        prepare_host_devices(most_replicas(args))  # before check_args loads a port
        if args.run is not run_info:  # info lists what the registry cannot take
            check_registry()
        if args.run is not run_check:  # check loads its port itself, and says why it cannot
            check_args(args)
        return args.run(args)
    except USER_ERRORS as err:
        print(f"dropout-ports: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f": {err.filename}" if err.filename else ""
        print(f"dropout-ports: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dropout-ports: interrupted", file=sys.stderr)
        return SIGNAL_EXIT[received[-1] if received else signal.SIGINT]
    finally:
        signal.signal(signal.SIGTERM, previous)


def package_version() -> str:
    try:
        return version("dropout-ports")
    except PackageNotFoundError:
        return "unknown (not installed)"


def most_replicas(args: argparse.Namespace) -> int:
    """The most replicas a run of the command asks for (--replicas, or a study's settings)."""
    arms = STUDIES[args.name].arms(args.quick).values() if getattr(args, "name", None) else []
    return max([getattr(args, "replicas", 1), *(changes.get("replicas", 1) for changes in arms)])


def check_args(args: argparse.Namespace) -> None:
    """Every choice that argparse alone cannot check, before any data is loaded or anything trains."""
    for option in ("seeds", "backends"):
        values = getattr(args, option, None) or []
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"--{option} repeats {repeated}: each is run once (repeats are not replicates)")
    if getattr(args, "inline", False):
        for option in ("threads", "run_timeout"):
            if getattr(args, option) is not None:
                raise ValueError(
                    f"--{option.replace('_', '-')} applies to runs in processes of their own, not --inline"
                )
    for option in ("jobs", "threads", "run_timeout"):
        value = getattr(args, option, None)
        if value is not None and value <= 0:
            raise ValueError(f"--{option.replace('_', '-')} must be positive, got {value}")
    if getattr(args, "timed_seeds", 0) < 0:
        raise ValueError(f"--timed-seeds must be 0 or more, got {args.timed_seeds}")
    if getattr(args, "timed_seeds", 0) and args.ray is not None:
        raise ValueError("--timed-seeds times runs on this machine: use it with --jobs, not --ray")
    if hasattr(args, "margin") and not 0 < args.margin < 1:
        raise ValueError(f"--margin must be a fraction in (0, 1), got {args.margin}")
    # the checks below load the ports (a framework import each): after the cheap ones
    if getattr(args, "variant", None) is not None:
        backend = get_backend(args.backend)
        if args.variant not in backend.VARIANTS:
            raise ValueError(
                f"unknown variant {args.variant!r} for {backend.NAME}; it has {backend.VARIANTS}"
            )
    if hasattr(args, "device"):
        named = args.backends if hasattr(args, "backends") else [args.backend]
        args.backends = backends_on(args.device, named)
    if getattr(args, "variant", None) is not None:  # train: its one port must train these settings
        get_backend(args.backend).Trainer.check_support(config_from(args), args.variant, args.device)
    if getattr(args, "verdict", False):
        check_lockstep_support(args.backends, config_from(args), args.device)


def backends_on(device: str, names: list[str] | None) -> list[str]:
    """The named backends (each must have the device), or else every installed one that has it."""
    if names:
        for name in names:
            get_backend(name).resolve_device(device)  # fails here, before any work
        return names
    for name, error in port_errors().items():
        if name not in BUILTIN_BACKENDS:  # a port the user registered: say why it is left out
            tqdm.write(f"skipping {name}: {error}", file=sys.stderr)
    usable = []
    for name in available_backends():
        try:
            get_backend(name).resolve_device(device)
        except ValueError as err:
            tqdm.write(f"skipping {name}: {err}", file=sys.stderr)
            continue
        usable.append(name)
    if not usable:
        raise ValueError(f"no installed backend has device {device!r}")
    return usable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dropout-ports", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help, description=help, formatter_class=Formatter, allow_abbrev=False
        )
        sub.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
        return sub

    train = command("train", "train one backend with the chapter's settings")
    train.add_argument(
        "--backend", required=True, type=port_arg, metavar="PORT", help="a name or a module path"
    )
    train.add_argument(
        "--variant", default="scratch", choices=VARIANT_NAMES, help="hand-written or built-in dropout"
    )
    add_config_args(train)
    train.add_argument(
        "--seed", type=seed_arg, default=Config().seed, help="initial parameters, batches, masks"
    )
    add_data_args(train)
    add_run_args(train, "no files are written unless given")
    train.set_defaults(run=run_train, margin=DEFAULT_MARGIN)

    compare = command("compare", "train every port side by side and report (the main job)")
    compare.add_argument(
        "--backends",
        nargs="+",
        type=port_arg,
        metavar="PORT",
        help="names or module paths; default: every installed one",
    )
    compare.add_argument("--seeds", nargs="+", type=seed_arg, default=[0], help="one run per port per seed")
    add_config_args(compare)
    add_data_args(compare)
    add_run_args(compare, "default: a new results/<timestamp>/")
    compare.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="equivalence margin on test accuracy, as a fraction",
    )
    compare.add_argument(
        "--verdict",
        action="store_true",
        help="first check that every port taking injected masks computes NumPy's run (one epoch in "
        "float64 lockstep, each in a fresh process); the report's Verdict then says so",
    )
    add_executor_args(compare)
    compare.add_argument(
        "--timed-seeds", type=int, default=0, metavar="K",
        help="with --jobs N > 1: the first K seeds run first, one run at a time with every core, and only "
        "they give the speed figures; the other seeds then run N at a time",
    )  # fmt: skip
    compare.set_defaults(run=run_compare_command)

    study = command("study", "one of the chapter's open questions, answered in every port")
    study.add_argument("name", nargs="?", choices=STUDIES, metavar="NAME", help="the study (see --list)")
    study.add_argument("--list", action="store_true", help="the studies, one line each")
    study.add_argument(
        "--quick", action="store_true", help="few settings and epochs, a data subset: well under a minute"
    )
    study.add_argument(
        "--backends", nargs="+", type=port_arg, metavar="PORT", help="default: every installed one"
    )
    study.add_argument("--seeds", nargs="+", type=seed_arg, help="default: the study's (0 1 with --quick)")
    add_config_args(study)
    study.set_defaults(epochs=None, timed_seeds=0)  # the study's own epochs, unless given; no timed round
    add_data_args(study)
    add_run_args(study, "default: a new results/study-<name>-<timestamp>/")
    add_executor_args(study)
    study.set_defaults(run=run_study, margin=DEFAULT_MARGIN)

    report = command("report", "re-render a compare, study, train or bench folder from its JSON")
    report.add_argument("folder", type=Path)
    report.set_defaults(run=run_report)

    bench = command("bench", "dropout op and training throughput benchmarks")
    bench.add_argument(
        "--backends", nargs="+", type=port_arg, metavar="PORT", help="default: every installed one"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and data: a smoke run")
    bench.add_argument(
        "--peers", action="store_true", help="also time Keras 3 and the chapter's own recipe on the same work"
    )
    bench.add_argument("--device", default="cpu", help="cpu or gpu")
    add_config_args(bench, ("matmul_precision",))  # of the epochs and the yardsticks
    bench.add_argument("--out", type=Path, default=None, help="default: a new results/bench-<timestamp>/")
    bench.set_defaults(run=run_bench)

    info = command("info", "frameworks, devices and where the data is")
    info.add_argument("--data-dir", default=None, help="look only in this folder")
    info.set_defaults(run=run_info)
    add_check_command(command)
    return parser


if __name__ == "__main__":
    sys.exit(main())
