"""The ``dropout-ports`` command: compare the ports, train one, benchmark, report, show what is installed."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

from tqdm.auto import tqdm

from backends import available_backends, get_backend, known_backends
from benchmarks import dropout, loading, training
from benchmarks.compare import run_compare
from benchmarks.machine import cpu_model, environment
from benchmarks.report import compare_markdown, render_bench, render_compare
from benchmarks.results import SCHEMA_VERSION
from benchmarks.store import write_json_atomic
from common.config import PRNG_IMPLS, Config
from common.data import Dataset, DatasetError, find_data_dir, load_fashion_mnist, synthetic_dataset
from common.training import fit

USER_ERRORS = (ValueError, TypeError, ImportError, DatasetError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as err:
        print(f"dropout-ports: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dropout-ports: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dropout-ports", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train one backend with the chapter's settings")
    train.add_argument("--backend", required=True, choices=known_backends())
    train.add_argument("--variant", default="scratch", help="scratch (hand-written dropout) or builtin")
    add_config_args(train)
    add_data_args(train)
    train.add_argument("--device", default="cpu", help="cpu, gpu, cuda or cuda:N")
    train.set_defaults(run=run_train)

    compare = commands.add_parser("compare", help="train every port side by side and report (the main job)")
    compare.add_argument("--backends", nargs="+", default=None, help="default: every installed one")
    compare.add_argument("--seeds", nargs="+", type=int, default=[0])
    compare.add_argument("--out", type=Path, default=None, help="default: results/<timestamp>/")
    add_config_args(compare)
    add_data_args(compare)
    compare.add_argument("--device", default="cpu", help="cpu or gpu")
    compare.set_defaults(run=run_compare_command)

    report = commands.add_parser("report", help="re-render a compare or bench folder from its JSON")
    report.add_argument("folder", type=Path)
    report.set_defaults(run=run_report)

    bench = commands.add_parser("bench", help="dropout op and training throughput benchmarks")
    bench.add_argument("--backends", nargs="+", default=None, help="default: every installed one")
    bench.add_argument("--quick", action="store_true", help="small sizes and data: a smoke run")
    bench.add_argument("--device", default="cpu", help="cpu or gpu")
    bench.add_argument("--out", type=Path, default=None, help="default: results/bench-<timestamp>/")
    bench.set_defaults(run=run_bench)

    info = commands.add_parser("info", help="frameworks, devices and where the data is")
    add_data_args(info)
    info.set_defaults(run=run_info)
    return parser


def add_config_args(parser: argparse.ArgumentParser) -> None:
    defaults = Config()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--prng-impl", default=defaults.prng_impl, choices=PRNG_IMPLS, help="JAX only")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument(
        "--data-source",
        default="auto",
        choices=("auto", "idx", "tfds", "synthetic"),
        help="synthetic: a small generated stand-in, for smoke tests",
    )


def load_data(args: argparse.Namespace) -> Dataset:
    if args.data_source == "synthetic":
        return synthetic_dataset()
    return load_fashion_mnist(args.data_dir, source=args.data_source)


def default_out(prefix: str = "") -> Path:
    return Path("results") / f"{prefix}{dt.datetime.now():%Y%m%d-%H%M%S}"


def config_from(args: argparse.Namespace, seed: int | None = None) -> Config:
    return Config(
        epochs=args.epochs,
        seed=args.seed if seed is None else seed,
        lr=args.lr,
        batch_size=args.batch_size,
        prng_impl=args.prng_impl,
    )


def run_train(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    backend = get_backend(args.backend)
    data = load_data(args)
    print(f"{backend.NAME}/{args.variant} on {args.device}, data from {data.origin}")

    def report(row: dict[str, float]) -> None:
        tqdm.write(
            f"epoch {row['epoch']:2d}  train loss {row['train_loss']:.4f}  train acc {row['train_acc']:.4f}  "
            f"test loss {row['test_loss']:.4f}  test acc {row['test_acc']:.4f}  {row['seconds']:.2f} s"
        )

    result = fit(backend, cfg, data, variant=args.variant, device=args.device, on_epoch=report)
    seconds = [row["seconds"] for row in result.history]
    print(
        f"done: test accuracy {result.test_accuracy:.4f}, train loss {result.history[-1]['train_loss']:.4f}, "
        f"{sum(seconds):.1f} s training (first epoch {seconds[0]:.2f} s)"
    )
    return 0


def backends_on(device: str, names: list[str] | None) -> list[str]:
    """The named backends, or by default every installed one that has the device."""
    if names:
        for name in names:
            get_backend(name).resolve_device(device)  # fails here, before any work
        return names
    usable = []
    for name in available_backends():
        try:
            get_backend(name).resolve_device(device)
        except ValueError as err:
            print(f"skipping {name}: {err}", file=sys.stderr)
            continue
        usable.append(name)
    if not usable:
        raise ValueError(f"no installed backend has device {device!r}")
    return usable


def run_compare_command(args: argparse.Namespace) -> int:
    names = backends_on(args.device, args.backends)
    base = config_from(args)
    data = load_data(args)
    out = args.out or default_out()
    print(f"comparing {', '.join(names)} on {args.device}, seeds {args.seeds}, data from {data.origin}")
    print(f"results go to {out}/ (results.json is saved after every run)")
    try:
        doc = run_compare(names, data, out, seeds=args.seeds, base=base, device=args.device)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished runs are in {out}/results.json", file=sys.stderr)
        raise
    print(compare_markdown(doc))
    print(f"wrote {out}/results.json, results.md, curves.png, throughput.png")
    return 0


def run_report(args: argparse.Namespace) -> int:
    for name, render in (("results.json", render_compare), ("bench.json", render_bench)):
        path = args.folder / name
        if path.is_file():
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} is not valid JSON: {err}") from err
            render(doc, args.folder)
            print((args.folder / name.replace(".json", ".md")).read_text())
            return 0
    raise ValueError(f"{args.folder} has neither results.json nor bench.json")


def run_bench(args: argparse.Namespace) -> int:
    names = backends_on(args.device, args.backends)
    out = args.out or default_out("bench-")
    peak = training.yardstick(args.quick)  # first, before the frameworks warm up
    doc = {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(names),
        "quick": args.quick,
        "device": args.device,
        "data": loading.run(args.quick),
        "dropout": dropout.run(names, device=args.device, quick=args.quick),
        "training": training.run(names, device=args.device, quick=args.quick, peak_gflops=peak),
    }
    write_json_atomic(out / "bench.json", doc)
    render_bench(doc, out)
    print((out / "bench.md").read_text())
    print(f"wrote {out}/bench.json, bench.md, bench-dropout.png, bench-training.png")
    return 0


def run_info(args: argparse.Namespace) -> int:
    print(f"python {platform.python_version()} on {platform.machine()}, {cpu_model()}")
    for name in known_backends():
        if name not in available_backends():
            print(f"{name:6s} not installed (pip install 'dropout-ports[{name}]')")
            continue
        backend = get_backend(name)
        versions = ", ".join(f"{k} {v}" for k, v in backend.versions().items())
        print(f"{name:6s} {versions}; devices: {', '.join(backend.devices())}")
    folder = find_data_dir(args.data_dir)
    print(f"data   {folder if folder else 'not found locally (the first load downloads it into the cache)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
