"""What each dropout-ports command does, once its arguments are checked (cli.main)."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable

from tqdm.auto import tqdm

from dropout_ports.backends import get_backend, known_backends, port_errors, registry_problems
from dropout_ports.benchmarks.cli.options import config_from
from dropout_ports.benchmarks.report.markdown import compare_markdown
from dropout_ports.benchmarks.results.document import (
    check_document,
    failed_runs,
    is_failed,
    run_key,
)
from dropout_ports.benchmarks.results.folder import ResultsFolder, new_folder
from dropout_ports.benchmarks.results.store import read_json
from dropout_ports.benchmarks.runs.compare import (
    plan_runs,
    plan_settings,
    record_interruption,
    run_compare,
    supported_runs,
)
from dropout_ports.benchmarks.runs.distributed import launched_rank, replica_processes
from dropout_ports.benchmarks.runs.engine import Executor, InlineExecutor, LocalExecutor, execute
from dropout_ports.benchmarks.runs.machine import cpu_model
from dropout_ports.benchmarks.runs.spec import DataSpec, RunSpec
from dropout_ports.benchmarks.studies.catalogue import (
    QUICK_EPOCHS,
    QUICK_TRAIN_EXAMPLES,
    STUDIES,
    get_study,
    plan_study,
)
from dropout_ports.benchmarks.studies.report import analyse_results, render_results
from dropout_ports.benchmarks.suites import bench
from dropout_ports.benchmarks.suites.lockstep import check_one_computation
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, find_data_dir
from dropout_ports.common.fit import fit


def data_spec(args: argparse.Namespace) -> DataSpec:
    return DataSpec(args.data_source, args.data_dir, getattr(args, "train_examples", None))


def make_executor(args: argparse.Namespace, data: Dataset) -> Executor:
    """The executor the options ask for: --inline, --ray [ADDRESS], or local workers (--jobs)."""
    if args.inline:
        return InlineExecutor(data, progress=not args.quiet)
    if args.ray is not None:
        from dropout_ports.benchmarks.runs.ray_executor import RayExecutor

        return RayExecutor(data, address=args.ray or None, threads=args.threads, run_timeout=args.run_timeout)
    return LocalExecutor(data_spec(args), jobs=args.jobs, threads=args.threads, run_timeout=args.run_timeout)


def timed_executor(args: argparse.Namespace) -> Executor | None:
    """compare --timed-seeds: local runs one at a time with every core, for the speed figures (None
    where every run goes one at a time anyway)."""
    if not args.timed_seeds or args.inline or args.jobs == 1:  # check_args refuses it with --ray
        return None
    return LocalExecutor(data_spec(args), jobs=1, run_timeout=args.run_timeout)


def say(args: argparse.Namespace, message: str) -> None:
    """A line on stderr about what is being done, unless --quiet."""
    if not args.quiet:
        tqdm.write(message, file=sys.stderr)


def warn(message: str) -> None:
    """A line on stderr that --quiet keeps: what a command will not do as asked."""
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
    rank = launched_rank()  # under torchrun every replica runs this command; rank 0 reports
    if rank:
        args.quiet, args.out = True, None
    data = data_spec(args).load()
    say(args, f"{args.backend}/{args.variant} on {args.device}, data from {data.origin}")
    spec = RunSpec(args.backend, args.variant, cfg.seed, args.device, cfg)
    if args.out is None and replica_processes(spec):  # its replicas as processes of their own
        record = execute(spec, data)
        if is_failed(record):
            print(f"failed: {record['error']}", file=sys.stderr)
            return 1
        for row in record["history"]:
            epoch_printer(args)(row)
        history, diverged = record["history"], record["diverged"]
    elif args.out is None:
        result = fit(
            get_backend(args.backend),
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
        doc = run_compare(
            plan, data, args.out, executor, base=cfg, device=args.device, resume=args.resume,
            analyse=analyse_results, render=render_results,
        )  # fmt: skip
        (record,) = [run for run in doc["runs"] if run_key(run) == plan[0]]
        print(f"wrote {args.out}/results.json, results.md, curves.png, throughput.png")
        if is_failed(record):
            print(f"failed: {record['error']}", file=sys.stderr)
            return 1
        history, diverged = record["history"], record["diverged"]
    seconds = [row["seconds"] for row in history]
    if rank:
        return 0
    if diverged:
        print(f"diverged: the loss stopped being finite in epoch {len(history)}; no accuracy to report")
        return 0
    print(
        f"done: test accuracy {history[-1]['test_acc']:.4f}, train loss {history[-1]['train_loss']:.4f}, "
        f"{sum(seconds):.1f} s training (first epoch {seconds[0]:.2f} s)"
    )
    return 0


def run_compare_command(args: argparse.Namespace) -> int:
    base = config_from(args)
    plan, skipped = supported_runs(plan_runs(args.backends, args.seeds), base, args.device)
    for line in skipped:
        warn(f"left out: {line}")
    if not plan:
        raise ValueError(f"no port named can train these settings on {args.device}: {'; '.join(skipped)}")
    backends = list(dict.fromkeys(key[0] for key in plan))
    say_what = f"comparing {', '.join(backends)} on {args.device}, seeds {args.seeds}"
    check = None
    if args.verdict:

        def check() -> dict:
            say(args, "verdict: every port that takes injected masks against NumPy, one epoch in float64")
            return check_one_computation(backends, base, data_spec(args), args.device)

    return run_plan(args, plan, base, say_what, lockstep=check)


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
    plan, skipped = plan_study(study, args.backends, args.seeds, base, args.quick, args.device)
    for line in skipped:
        warn(f"left out: {line}")
    if not plan:
        raise ValueError(f"no port installed here can run study {study.name!r}")
    say_what = f"study {study.name}{' (quick)' if args.quick else ''}: {len(plan)} runs on {args.device}"
    return run_plan(args, plan, base, say_what, study.describe(args.quick))


def run_plan(
    args: argparse.Namespace,
    plan: list,
    base: Config,
    say_what: str,
    study: dict | None = None,
    lockstep: Callable[[], dict] | None = None,
) -> int:
    """compare's and study's work: the plan's runs into the output folder, then the report."""
    if args.out is not None:
        with ResultsFolder(args.out, "results.json", resume=args.resume):
            pass  # a folder in use or already holding results is refused now, before the data loads
    out, data = args.out, None
    try:
        data = data_spec(args).load()
        if base.train_subset and base.train_subset > len(data.train_y):  # before any yardstick or run
            raise ValueError(
                f"--train-subset {base.train_subset:,} exceeds the {len(data.train_y):,} training examples "
                f"of {data.origin}; give at most {len(data.train_y):,}"
            )
        executor, timed = make_executor(args, data), timed_executor(args)
        out = out or new_folder(f"study-{study['name']}-" if study else "")
        say(args, f"{say_what}, data from {data.origin}")
        say(args, f"results go to {out}/ (results.json is saved after every run)")
        doc = run_compare(
            plan, data, out, executor, base=base, device=args.device, resume=args.resume, margin=args.margin,
            progress=not args.quiet, study=study, quick_yardsticks=bool(study and study["quick"]),
            lockstep=lockstep, analyse=analyse_results, render=render_results,
            timed=timed, timed_seeds=args.timed_seeds,
        )  # fmt: skip
    except KeyboardInterrupt:
        if out is None:
            print("\ninterrupted: no run had started; nothing saved", file=sys.stderr)
            raise
        record_interruption(out, plan_settings(plan, data, base, args.device, args.margin, study))
        saved = read_json(out / "results.json")["runs"]
        where = (
            f"the finished runs are in {out}/results.json"
            if saved
            else f"no run had finished; {out}/results.json says so"
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
    failed_check = [row["port"] for row in (doc.get("lockstep") or {}).get("rows", []) if not row["passed"]]
    if failed_check:
        ports = ", ".join(failed_check)
        print(f"verdict: FAIL: {ports} not one computation with the reference", file=sys.stderr)
    return 1 if failures or failed_check else 0


def run_report(args: argparse.Namespace) -> int:
    """Re-render a folder; a compare or study folder's derived entries (statistics, verdict) are
    first computed again from its runs, so they follow the analysis of this version."""
    for name, render in (("results.json", render_results), ("bench.json", bench.render_bench)):
        path = args.folder / name
        if path.is_file():
            doc = check_document(read_json(path), name, path)
            if name == "results.json" and doc["runs"] and doc.get("yardsticks"):
                with ResultsFolder(args.folder, name, resume=True) as folder:
                    doc.update(analyse_results(doc))
                    folder.save(doc)
            render(doc, args.folder)
            report = "study.md" if doc.get("settings", {}).get("study") else name.replace(".json", ".md")
            print((args.folder / report).read_text())
            return 0
    raise ValueError(f"{args.folder} has neither results.json nor bench.json")


def run_bench(args: argparse.Namespace) -> int:
    out = args.out or new_folder("bench-")
    with ResultsFolder(out, "bench.json") as folder:
        doc = bench.run(
            args.backends, device=args.device, quick=args.quick, with_peers=args.peers,
            matmul_precision=args.matmul_precision, say=lambda line: say(args, line),
        )  # fmt: skip
        folder.save(doc)
        bench.render_bench(doc, out)
    print((out / "bench.md").read_text())
    print(f"wrote {out}/bench.json, bench.md, bench-dropout.png, bench-training.png")
    return 0


def run_info(args: argparse.Namespace) -> int:
    print(f"python {platform.python_version()} on {platform.machine()}, {cpu_model()}")
    errors = port_errors()  # a framework not installed, a port that does not import or lacks names
    for problem in registry_problems():
        print(f"ignored {problem}")
    for name in known_backends():
        if name in errors:
            print(f"{name:6s} {errors[name]}")
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
