"""``dropout-ports check NAME|MODULE``: the conformance kit against one port, ours or a user's; and
the ``PORT`` argument of the other commands, which takes a module path as well as a name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from dropout_ports.backends import VARIANT_NAMES, known_backends, register
from dropout_ports.benchmarks.cli.options import add_data_args, seed_arg
from dropout_ports.benchmarks.conformance import Settings, load, run_checks
from dropout_ports.benchmarks.conformance.kit import Check, Result, plan, variants_of
from dropout_ports.benchmarks.conformance.report import document, explain, line, markdown, summary
from dropout_ports.benchmarks.results.folder import FolderError, ResultsFolder, new_folder
from dropout_ports.benchmarks.runs.spec import DataSpec
from dropout_ports.benchmarks.suites.lockstep import REFERENCE

DOCUMENT = "check.json"


def port_arg(text: str) -> str:
    """A port as the commands take it: a registered name, or a module path, registered for this run
    (and the processes it starts) under the module's NAME."""
    if text in known_backends():
        return text
    try:
        return register(text)
    except ImportError as err:
        raise argparse.ArgumentTypeError(f"{err} (known ports: {', '.join(known_backends())})") from None


def add_check_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The check command's options, on the parser the command factory of cli.main makes."""
    check = command("check", "run the conformance checks against a port: ours, or yours (docs/porting.md)")
    check.add_argument("port", metavar="NAME|MODULE", help="a registered port, or the module path of one")
    check.add_argument(
        "--variant",
        dest="variants",
        action="append",
        choices=VARIANT_NAMES,
        metavar="V",
        help="check this variant only (repeatable); default: every variant of the port",
    )
    check.add_argument(
        "--full",
        action="store_true",
        help="also train each variant to the end over --seeds and test its accuracy against the reference's",
    )
    check.add_argument("--reference", type=port_arg, default=REFERENCE[0], help="the port checked against")
    check.add_argument(
        "--seeds", nargs="+", type=seed_arg, default=list(Settings().seeds), help="with --full"
    )
    check.add_argument("--device", default="cpu", help="cpu or gpu")
    add_data_args(check)
    check.add_argument(
        "--out", type=Path, default=None, help="default: a new results/check-<port>-<timestamp>/"
    )
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    """0 when every check passes, 1 when one fails; a port that cannot be loaded is a PortError,
    which the command reports on one line with exit code 2."""
    if args.out is not None and (args.out / DOCUMENT).exists():
        raise FolderError(f"{args.out} already holds {DOCUMENT}: pick another --out")
    port = load(args.port)
    name = getattr(port, "NAME", args.port)
    unknown = sorted(set(args.variants or ()) - set(variants_of(port)))
    if unknown:
        raise ValueError(f"{name} has no variant {', '.join(unknown)}; it has {', '.join(variants_of(port))}")
    settings = Settings(
        args.device, args.reference, DataSpec(args.data_source, args.data_dir), args.full, tuple(args.seeds)
    )
    progress = tqdm(
        total=len(plan(port, args.variants)), desc=f"checking {name}", unit="check", disable=args.quiet,
        file=sys.stderr,
    )  # fmt: skip

    def started(item: Check, subject: str) -> None:
        progress.set_postfix_str(f"{subject} {item.id}")

    def finished(result: Result) -> None:
        progress.update()
        tqdm.write(line(result))

    with progress:
        results = run_checks(
            port, variants=args.variants, settings=settings, on_start=started, on_result=finished
        )
    chosen = {
        "device": args.device,
        "reference": args.reference,
        "data": settings.dataset.origin,
        "variants": args.variants or list(variants_of(port)),
        "full": args.full,
    }
    if args.full:
        chosen["seeds"] = list(args.seeds)
    doc = document(name, results, chosen)
    out = args.out or new_folder(f"check-{name}-")
    with ResultsFolder(out, DOCUMENT) as folder:
        folder.save(doc)
        (out / "check.md").write_text(markdown(doc))
    for result in results:
        if result.verdict == "fail":
            print(f"\n{explain(result)}")
    print(f"\n{name}: {summary(results)}; wrote {out}/{DOCUMENT} and check.md")
    return 0 if doc["passed"] else 1
