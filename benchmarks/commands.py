"""What each dropout-ports command does, once its arguments are checked (benchmarks.cli)."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable

from tqdm.auto import tqdm

from backends import available_backends, get_backend, known_backends
from benchmarks import dropout, loading, peers, training
from benchmarks.compare import plan_runs, run_compare
from benchmarks.engine import DataSpec, Executor, InlineExecutor, LocalExecutor
from benchmarks.folder import ResultsFolder, new_folder
from benchmarks.machine import cpu_model, environment
from benchmarks.report import compare_markdown, render_bench
from benchmarks.results import SCHEMA_VERSION, check_document, failed_runs, is_failed, run_key
from benchmarks.store import read_json
from benchmarks.studies import QUICK_EPOCHS, QUICK_TRAIN_EXAMPLES, STUDIES, describe, get_study, plan_study
from benchmarks.study_report import render_results
from common.config import Config
from common.data import Dataset, find_data_dir
from common.training import fit


def data_spec(args: argparse.Namespace) -> DataSpec:
    return DataSpec(args.data_source, args.data_dir, getattr(args, "train_examples", None))


def make_executor(args: argparse.Namespace, data: Dataset) -> Executor:
    """The executor the options ask for: --inline, --ray [ADDRESS], or local workers (--jobs)."""
    if args.inline:
        return InlineExecutor(data, progress=not args.quiet)
    if args.ray is not None:
        from benchmarks.ray_executor import RayExecutor

        return RayExecutor(data, address=args.ray or None, threads=args.threads, run_timeout=args.run_timeout)
    return LocalExecutor(data_spec(args), jobs=args.jobs, threads=args.threads, run_timeout=args.run_timeout)


def config_from(args: argparse.Namespace) -> Config:
    return Config(
        epochs=args.epochs,
        seed=getattr(args, "seed", 0),
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        prng_impl=args.prng_impl,
        dtype=args.dtype,
        dropouts=tuple(args.dropouts),
        num_hiddens=tuple(args.hiddens),
        noise=args.noise,
        mc_samples=args.mc_samples,
    )


def say(args: argparse.Namespace, message: str) -> None:
    """A line on stderr about what is being done, unless --quiet."""
    if not args.quiet:
        tqdm.write(message, file=sys.stderr)


def epoch_printer(args: argparse.Namespace) -> Callable[[dict], None]:
    """Each epoch's figures as a line on stdout (they are results), unless --quiet."""

    def report(row: dict[str, float]) -> None:
        if args.quiet:
            return
        tqdm.write(
            f"epoch {row['epoch']:2d}  train loss {row['train_loss']:.4f}  train acc {row['train_acc']:.4f}  "
            f"test loss {row['test_loss']:.4f}  test acc {row['test_acc']:.4f}  {row['seconds']:.2f} s",
        )

    return report


def run_train(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    data = data_spec(args).load()
    say(args, f"{args.backend}/{args.variant} on {args.device}, data from {data.origin}")
    if args.out is None:
        result = fit(
            args.backend,
            cfg,
            data,
            variant=args.variant,
            device=args.device,
            progress=not args.quiet,
            on_epoch=epoch_printer(args),
        )
        history, diverged = result.history, result.diverged
    else:
        plan = [(args.backend, args.variant, cfg.seed, "")]
        executor = InlineExecutor(data, progress=not args.quiet, on_epoch=epoch_printer(args))
        doc = run_compare(plan, data, args.out, executor, base=cfg, device=args.device, resume=args.resume)
        (record,) = [run for run in doc["runs"] if run_key(run) == plan[0]]
        print(f"wrote {args.out}/results.json, results.md, curves.png, throughput.png")
        if is_failed(record):
            print(f"failed: {record['error']}", file=sys.stderr)
            return 1
        history, diverged = record["history"], record["diverged"]
    seconds = [row["seconds"] for row in history]
    if diverged:
        print(f"diverged: the loss stopped being finite in epoch {len(history)}; no accuracy to report")
        return 0
    print(
        f"done: test accuracy {history[-1]['test_acc']:.4f}, train loss {history[-1]['train_loss']:.4f}, "
        f"{sum(seconds):.1f} s training (first epoch {seconds[0]:.2f} s)"
    )
    return 0


def run_compare_command(args: argparse.Namespace) -> int:
    say_what = f"comparing {', '.join(args.backends)} on {args.device}, seeds {args.seeds}"
    return run_plan(args, plan_runs(args.backends, args.seeds), config_from(args), say_what)


def run_study(args: argparse.Namespace) -> int:
    if args.list or args.name is None:
        if not args.list:
            raise ValueError("name a study, or ask for --list")
        for study in STUDIES.values():
            print(f"{study.name:13s} {study.question}")
        return 0
    study = get_study(args.name)
    args.epochs = args.epochs or (QUICK_EPOCHS if args.quick else study.epochs)
    args.seeds = args.seeds or ([0, 1] if args.quick else list(study.seeds))
    args.train_examples = QUICK_TRAIN_EXAMPLES if args.quick else None
    base = config_from(args)
    plan, skipped = plan_study(study, args.backends, args.seeds, base, args.quick)
    for line in skipped:
        say(args, f"left out: {line}")
    if not plan:
        raise ValueError(f"no port installed here can run study {study.name!r}")
    say_what = f"study {study.name}{' (quick)' if args.quick else ''}: {len(plan)} runs on {args.device}"
    return run_plan(args, plan, base, say_what, describe(study, args.quick))


def run_plan(
    args: argparse.Namespace, plan: list, base: Config, say_what: str, study: dict | None = None
) -> int:
    """compare's and study's work: the plan's runs into the output folder, then the report."""
    if args.out is not None:
        with ResultsFolder(args.out, "results.json", resume=args.resume):
            pass  # a folder in use or already holding results is refused now, before the data loads
    data = data_spec(args).load()
    executor = make_executor(args, data)
    out = args.out or new_folder(f"study-{study['name']}-" if study else "")
    say(args, f"{say_what}, data from {data.origin}")
    say(args, f"results go to {out}/ (results.json is saved after every run)")
    try:
        doc = run_compare(
            plan, data, out, executor, base=base, device=args.device, resume=args.resume, margin=args.margin,
            progress=not args.quiet, study=study, quick_yardsticks=bool(study and study["quick"]),
        )  # fmt: skip
    except KeyboardInterrupt:
        saved = (out / "results.json").is_file()
        where = (
            f"the finished runs are in {out}/results.json" if saved else "no run had finished; nothing saved"
        )
        print(f"\ninterrupted: {where}", file=sys.stderr)
        raise
    report = "study.md" if study else "results.md"
    print((out / report).read_text() if study else compare_markdown(doc))
    print(f"wrote {out}/results.json, {report} and its figures")
    failures = failed_runs(doc)
    for run in failures:
        setting = f" at {run['setting']}" if run.get("setting") else ""
        print(
            f"failed: {run['backend']}/{run['variant']} seed {run['seed']}{setting}: {run['error']}",
            file=sys.stderr,
        )
    return 1 if failures else 0


def run_report(args: argparse.Namespace) -> int:
    for name, render in (("results.json", render_results), ("bench.json", render_bench)):
        path = args.folder / name
        if path.is_file():
            doc = check_document(read_json(path), name, path)
            render(doc, args.folder)
            report = "study.md" if doc.get("settings", {}).get("study") else name.replace(".json", ".md")
            print((args.folder / report).read_text())
            return 0
    raise ValueError(f"{args.folder} has neither results.json nor bench.json")


def run_bench(args: argparse.Namespace) -> int:
    out = args.out or new_folder("bench-")
    with ResultsFolder(out, "bench.json") as folder:
        say(args, f"bench: timing the data load{' (quick)' if args.quick else ''}")
        data = loading.run(args.quick)
        say(args, f"bench: dropout op on {', '.join(args.backends)} ({args.device})")
        dropout_rows = dropout.run(args.backends, device=args.device, quick=args.quick)
        say(args, "bench: matmul yardsticks, then training epochs through fit")
        train = training.run(args.backends, device=args.device, quick=args.quick)
        if args.peers:
            say(args, "bench: peers (Keras 3, the chapter's recipe), each in a process of its own")
            train["peers"] = peers.run(args.backends, Config.from_dict(train["config"]), args.quick)
            peers.add_speedups(train["peers"], train["rows"])
        doc = {
            "schema_version": SCHEMA_VERSION,
            "environment": environment(args.backends),
            "quick": args.quick,
            "device": args.device,
            "data": data,
            "dropout": dropout_rows,
            "training": train,
        }
        folder.save(doc)
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
    where = folder or (
        "not found there" if args.data_dir else "not found locally (the first load downloads it)"
    )
    print(f"data   {where}")
    return 0
