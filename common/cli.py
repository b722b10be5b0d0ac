"""The ``dropout-ports`` command: train one port, or show what is installed."""

from __future__ import annotations

import argparse
import platform
import sys

from tqdm.auto import tqdm

from backends import available_backends, get_backend, known_backends
from common.config import PRNG_IMPLS, Config
from common.data import DatasetError, find_data_dir, load_fashion_mnist
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
    parser.add_argument("--data-source", default="auto", choices=("auto", "idx", "tfds"))


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
    data = load_fashion_mnist(args.data_dir, source=args.data_source)
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


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
