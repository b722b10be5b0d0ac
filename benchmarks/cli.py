"""The dropout-ports command: compare the ports, train one, benchmark, report, show what is installed."""

from __future__ import annotations

import argparse
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType

from tqdm.auto import tqdm

from backends import VARIANT_NAMES, available_backends, get_backend, known_backends
from benchmarks.commands import run_bench, run_compare_command, run_info, run_report, run_study, run_train
from benchmarks.stats import DEFAULT_MARGIN
from benchmarks.studies import STUDIES
from common.config import DTYPE_NAMES, NOISES, PRNG_IMPLS, Config
from common.data import SOURCES, DatasetError

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


def seed_arg(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, got {text!r}") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2^32), got {seed}")
    return seed


def check_args(args: argparse.Namespace) -> None:
    """Every choice that argparse alone cannot check, before any data is loaded or anything trains."""
    for option in ("seeds", "backends"):
        values = getattr(args, option, None) or []
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"--{option} repeats {repeated}: each is run once (repeats are not replicates)")
    if getattr(args, "variant", None) is not None:
        backend = get_backend(args.backend)
        if args.variant not in backend.VARIANTS:
            raise ValueError(
                f"unknown variant {args.variant!r} for {backend.NAME}; it has {backend.VARIANTS}"
            )
    if hasattr(args, "device"):
        named = args.backends if hasattr(args, "backends") else [args.backend]
        args.backends = backends_on(args.device, named)
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
    if hasattr(args, "margin") and not 0 < args.margin < 1:
        raise ValueError(f"--margin must be a fraction in (0, 1), got {args.margin}")


def backends_on(device: str, names: list[str] | None) -> list[str]:
    """The named backends (each must have the device), or else every installed one that has it."""
    if names:
        for name in names:
            get_backend(name).resolve_device(device)  # fails here, before any work
        return names
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
    train.add_argument("--backend", required=True, choices=known_backends())
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
        "--backends", nargs="+", choices=known_backends(), help="default: every installed one"
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
    add_executor_args(compare)
    compare.set_defaults(run=run_compare_command)

    study = command("study", "one of the chapter's open questions, answered in every port")
    study.add_argument("name", nargs="?", choices=STUDIES, metavar="NAME", help="the study (see --list)")
    study.add_argument("--list", action="store_true", help="the studies, one line each")
    study.add_argument(
        "--quick", action="store_true", help="few settings and epochs, a data subset: well under a minute"
    )
    study.add_argument("--backends", nargs="+", choices=known_backends(), help="default: every installed one")
    study.add_argument("--seeds", nargs="+", type=seed_arg, help="default: the study's (0 1 with --quick)")
    add_config_args(study)
    study.set_defaults(epochs=None)  # the study's own, unless given
    add_data_args(study)
    add_run_args(study, "default: a new results/study-<name>-<timestamp>/")
    add_executor_args(study)
    study.set_defaults(run=run_study, margin=DEFAULT_MARGIN)

    report = command("report", "re-render a compare, study, train or bench folder from its JSON")
    report.add_argument("folder", type=Path)
    report.set_defaults(run=run_report)

    bench = command("bench", "dropout op and training throughput benchmarks")
    bench.add_argument("--backends", nargs="+", choices=known_backends(), help="default: every installed one")
    bench.add_argument("--quick", action="store_true", help="small sizes and data: a smoke run")
    bench.add_argument(
        "--peers", action="store_true", help="also time Keras 3 and the chapter's own recipe on the same work"
    )
    bench.add_argument("--device", default="cpu", help="cpu or gpu")
    bench.add_argument("--out", type=Path, default=None, help="default: a new results/bench-<timestamp>/")
    bench.set_defaults(run=run_bench)

    info = command("info", "frameworks, devices and where the data is")
    info.add_argument("--data-dir", default=None, help="look only in this folder")
    info.set_defaults(run=run_info)
    return parser


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs", type=int, default=1, help="local worker processes, each run in a fresh process"
    )
    where.add_argument("--inline", action="store_true", help="every run in this process (debugging)")
    where.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="runs as Ray tasks on the cluster at ADDRESS (or 'auto'); alone: a local Ray for this command",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per run (default: the cores / --jobs)"
    )
    parser.add_argument(
        "--run-timeout", type=float, default=None, help="seconds before a run is ended as failed"
    )


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown in --help."""


def add_config_args(parser: argparse.ArgumentParser) -> None:
    defaults = Config()
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the training set")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="SGD learning rate")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="examples per SGD step")
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.weight_decay,
        help="L2 on the weights: + wd/2 * sum ||W||^2",
    )
    parser.add_argument("--prng-impl", default=defaults.prng_impl, choices=PRNG_IMPLS, help="JAX's generator")
    parser.add_argument(
        "--dtype", default=defaults.dtype, choices=DTYPE_NAMES, help="parameters and activations"
    )
    parser.add_argument(
        "--dropouts",
        nargs="+",
        type=float,
        default=list(defaults.dropouts),
        metavar="P",
        help="a rate per hidden layer",
    )
    parser.add_argument(
        "--hiddens",
        nargs="+",
        type=int,
        default=list(defaults.num_hiddens),
        metavar="H",
        help="hidden layer widths",
    )
    parser.add_argument("--noise", default=defaults.noise, choices=NOISES, help="what the rates are rates of")
    parser.add_argument(
        "--mc-samples",
        type=int,
        default=defaults.mc_samples,
        help="also evaluate the last epoch by MC dropout",
    )


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", default=None, help="the only folder to read the four IDX files from (never downloads)"
    )
    parser.add_argument(
        "--data-source",
        default="auto",
        choices=(*SOURCES, "synthetic"),
        help="synthetic: a small generated stand-in, for smoke tests",
    )


def add_run_args(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, gpu (or, for torch, cuda and cuda:N)")
    parser.add_argument("--out", type=Path, default=None, help=f"results folder; {out_help}")
    parser.add_argument("--resume", action="store_true", help="add the missing runs to --out's results")


if __name__ == "__main__":
    sys.exit(main())
