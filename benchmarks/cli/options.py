"""The options the commands share, from Config's fields (one declaration per setting), the data
source, the output folder and the executor."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

from dropout_ports.common.checks import check_seed
from dropout_ports.common.config import Config
from dropout_ports.common.data import SOURCES


def seed_arg(text: str) -> int:
    """A seed as every port takes it (common.checks.check_seed); else argparse's error."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, got {text!r}") from None
    try:
        return check_seed(seed)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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


def add_config_args(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """An option for every Config field that has a help text (common.config.option), or for the
    ones named, so each setting is declared once, in Config."""
    defaults, hints = Config(), typing.get_type_hints(Config)
    for spec in dataclasses.fields(Config):
        if "help" not in spec.metadata or (names is not None and spec.name not in names):
            continue
        meta = dict(spec.metadata)
        flag = meta.pop("flag", "--" + spec.name.replace("_", "-"))
        kind, default = hints[spec.name], getattr(defaults, spec.name)
        if typing.get_origin(kind) is tuple:  # tuple[int, ...]: one value or more
            meta.update(nargs="+", type=typing.get_args(kind)[0])
            default = list(default)
        else:
            meta["type"] = kind
        parser.add_argument(flag, dest=spec.name, default=default, **meta)


def config_from(args: argparse.Namespace) -> Config:
    """The Config the options describe (train's --seed; compare and study set seeds per run)."""
    values = {
        spec.name: getattr(args, spec.name) for spec in dataclasses.fields(Config) if hasattr(args, spec.name)
    }
    return Config(**{name: tuple(v) if isinstance(v, list) else v for name, v in values.items()})


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
