"""Renders the figures the README, docs/differences.md and docs/studies.md show from the runs kept
in docs/runs/ and docs/studies/, so no figure a reader sees is typed by hand.

Each rendered block sits between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``.
Run: python -m dropout_ports.benchmarks.readme [--check]
(--check: exit 1 if a file is not what it renders to)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from dropout_ports.benchmarks.report.markdown import COMPARE_COLUMNS, describe_runs, statistics_section
from dropout_ports.benchmarks.report.verdict import accuracy_line, time_spent, verdict_section
from dropout_ports.benchmarks.results.analysis import compare_statistics
from dropout_ports.benchmarks.results.document import check_document, compare_rows
from dropout_ports.benchmarks.results.store import read_json
from dropout_ports.benchmarks.results.tables import markdown_table
from dropout_ports.benchmarks.results.throughput import with_shares
from dropout_ports.benchmarks.results.verdict import verdict
from dropout_ports.benchmarks.runs.machine import describe_threads
from dropout_ports.benchmarks.studies import figures as study_figures
from dropout_ports.benchmarks.studies.catalogue import STUDIES
from dropout_ports.benchmarks.studies.report import study_markdown
from dropout_ports.benchmarks.suites import epochs, executors, lockstep, peers, targets
from dropout_ports.benchmarks.suites.sections import breakdown_section, floor_words, speed_section

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "runs"
STUDY_RUNS = ROOT / "docs" / "studies"
FILES = ("README.md", "docs/differences.md", "docs/studies.md")
COMMANDS = {
    "bench": "dropout-ports bench --peers --out docs/runs/bench",
    "bench-gpu": "dropout-ports bench --device gpu --out docs/runs/bench-gpu (scripts/gpu-check.sh)",
    "lockstep": "python -m dropout_ports.benchmarks.suites.lockstep --out docs/runs/lockstep.json",
    "executors": "python -m dropout_ports.benchmarks.suites.executors --out docs/runs/executors.json",
}


def _document(name: str) -> dict:
    path = RUNS / name
    return check_document(read_json(path), path.name, path)


def _machine(env: dict) -> str:
    return f"{env['cpu']}, {env['cores']} cores; {describe_threads(env)}"


def compare_command(doc: dict, folder: str = "compare") -> str:
    """The command that made a kept compare run, read back from its settings."""
    seeds = " ".join(map(str, doc["settings"]["seeds"]))
    verdict = " --verdict" if doc.get("lockstep") else ""
    executor = doc.get("executor") or {}
    jobs = f" --jobs {executor['jobs']}" if executor.get("jobs", 1) > 1 else ""
    timed = f" --timed-seeds {len(executor['timed']['seeds'])}" if "timed" in executor else ""
    return f"dropout-ports compare --seeds {seeds}{verdict}{jobs}{timed} --out docs/runs/{folder}"


def compare_block() -> str:
    doc = _document("compare/results.json")
    rows = compare_rows(doc)
    return "\n".join(
        [
            f"`{compare_command(doc)}` ({_machine(doc['environment'])}; seeds {doc['settings']['seeds']}). "
            + describe_runs(doc.get("executor")),
            "",
            markdown_table(rows, COMPARE_COLUMNS),
            "",
            *statistics_section(doc, rows, compare_statistics(doc)),
        ]
    )


ACCURACY_COLUMNS = ("backend", "variant", "seeds", "test acc (mean [95% CI])", "train loss")
PLANNED = "compare-40"  # the comparison made with the seeds the main job's power analysis asks for


def planned_block() -> str:
    """The comparison with the planned seeds: its equivalence table and verdict on accuracy once
    every run is in; until then, how far it got and the command that goes on with it."""
    doc = _document(f"{PLANNED}/results.json")
    command = compare_command(doc, PLANNED)
    if doc["status"] != "complete":
        return (
            f"Not complete yet: {len(doc['runs'])} runs kept; `{command} --resume` goes on with it "
            "(`--resume` keeps every finished run)."
        )
    statistics = compare_statistics(doc)
    same = verdict(doc, statistics)["same_accuracy"]
    return "\n".join(
        [
            f"`{command} --resume` ({_machine(doc['environment'])}; ports "
            f"{', '.join(doc['settings']['backends'])}), a kept 8-seed main job of those ports extended "
            "(runs two at a time: accuracy only, no speed figure):",
            "",
            markdown_table(compare_rows(doc), [c for c in COMPARE_COLUMNS if c[0] in ACCURACY_COLUMNS]),
            "",
            *statistics_section(doc, compare_rows(doc), statistics),
            "",
            f"- {accuracy_line(same, statistics['identical'])}",
        ]
    )


def verdict_block() -> str:
    """The main job's verdict, from the kept compare run."""
    doc = _document("compare/results.json")
    spent = time_spent(doc)
    return "\n".join(
        [
            f"`{compare_command(doc)}`" + (f"; {spent[0].lower()}{spent[1:]}" if spent else ":"),
            "",
            *verdict_section(doc, verdict(doc, compare_statistics(doc)))[2:],
        ]
    )


def dropout_block(folder: str = "bench") -> str:
    doc = _document(f"{folder}/bench.json")
    largest = max(row["size"] for row in doc["dropout"])
    cells: dict[str, dict[float, dict]] = {}
    for row in doc["dropout"]:
        if row["size"] == largest:
            cells.setdefault(row["implementation"], {})[row["p"]] = row
    rates = sorted({p for by_rate in cells.values() for p in by_rate}, reverse=True)
    header = (
        "| implementation | " + " | ".join(f"p = {p}: ms | x own copy | x fastest copy" for p in rates) + " |"
    )
    lines = [
        f"`{COMMANDS[folder]}` ({_machine(doc['environment'])}), dropout of 2^{largest.bit_length() - 1} "
        "float32 elements, medians of contenders timed in alternating rounds:",
        "",
        header,
        "|" + "---|" * (1 + 3 * len(rates)),
    ]
    for label, by_rate in cells.items():
        values = [
            f"{row['ms']:.3g} | {row['ratio_to_copy']:.2f} | {row['ratio_to_fastest_copy']:.2f}"
            for row in (by_rate[p] for p in rates)
        ]
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def training_block(folder: str = "bench") -> str:
    """The kept bench run's epochs, shares as measured (never clipped), what they are over, its
    speed ratios over rounds and where each epoch's time goes ("not measured in this run" where the
    run predates them)."""
    doc = _document(f"{folder}/bench.json")
    train = doc["training"]
    return "\n".join(
        [
            f"`{COMMANDS[folder]}`: epochs of {train['epoch_gflop']:.1f} GFLOP; machine peak "
            f"{train['peak_gflops']:.0f} GFLOP/s:",
            "",
            markdown_table(with_shares(train["rows"], train["yardsticks"]), epochs.COLUMNS),
            "",
            floor_words(train),
            "",
            *speed_section(train)[2:],
            *breakdown_section(train, figure=None)[2:-1],
        ]
    )


def peers_block() -> str:
    train = _document("bench/bench.json")["training"]
    return "\n".join(
        [
            f"`{COMMANDS['bench']}`, in the same run as the table above:",
            "",
            markdown_table(train.get("peers", []), peers.COLUMNS),
        ]
    )


def targets_block(folder: str = "bench") -> str:
    doc = _document(f"{folder}/bench.json")
    return "\n".join(
        [
            f"`{COMMANDS[folder]}`, the same run:",
            "",
            markdown_table(targets.target_rows(doc), targets.COLUMNS),
        ]
    )


def lockstep_block() -> str:
    rows = read_json(RUNS / "lockstep.json")["lockstep"]
    return f"`{COMMANDS['lockstep']}`:\n\n" + markdown_table(rows, lockstep.COLUMNS)


def executors_block() -> str:
    doc = read_json(RUNS / "executors.json")
    sweep = doc["sweep"]
    return "\n".join(
        [
            f"`{COMMANDS['executors']}`: the cost of a process per run (overhead against the same runs "
            "inline), and an accuracy sweep with one local worker and two:",
            "",
            markdown_table(doc["overhead"], executors.COLUMNS),
            "",
            f"Sweep of {sweep['runs']} runs: `--jobs 1` {sweep['jobs_1_s']:.1f} s, `--jobs 2` "
            f"{sweep['jobs_2_s']:.1f} s: {sweep['speedup']:.2f}x faster; the same test accuracies: "
            f"{'yes' if sweep['same_accuracies'] else 'no (other thread counts sum in other orders)'}.",
        ]
    )


def studies_block() -> str:
    """The README's list of studies, one line each, linking to their findings."""
    return "\n".join(
        f"- [`{study.name}`](docs/studies.md#{study.name}): {study.question}"
        + ("" if study.question.endswith("?") else ".")
        for study in STUDIES.values()
    )


def study_block(folder: str) -> str:
    """A full study's section of docs/studies.md, from its folder under docs/studies/, with the
    command that made it (read back from its settings)."""
    path = STUDY_RUNS / folder / "results.json"
    if not path.is_file():
        return f"Not run yet: `bash scripts/studies.sh {folder}` makes docs/studies/{folder}."
    doc = check_document(read_json(path), path.name, path)
    settings = doc["settings"]
    name = settings["study"]["name"]
    figures = [figure for figure in study_figures.names(name) if (path.parent / figure).is_file()]
    text = study_markdown(doc, figures, f"studies/{folder}/").replace("# Study", "### Study", 1)
    backends, seeds = " ".join(settings["backends"]), " ".join(map(str, settings["seeds"]))
    where = f"--device {settings['device']} --backends {backends} --seeds {seeds}"
    command = f"dropout-ports study {name} {where} --out docs/studies/{folder}"
    return f"Made by `{command}`.\n\n{text}"


BLOCKS: dict[str, Callable[[], str]] = {
    "compare": compare_block,
    "verdict": verdict_block,
    "compare-planned": planned_block,
    "bench-dropout": dropout_block,
    "bench-training": training_block,
    "bench-peers": peers_block,
    "bench-targets": targets_block,
    "lockstep": lockstep_block,
    "executors": executors_block,
    "studies": studies_block,
    "bench-gpu-dropout": lambda: dropout_block("bench-gpu"),
    "bench-gpu-training": lambda: training_block("bench-gpu"),
    "bench-gpu-targets": lambda: targets_block("bench-gpu"),
}
STUDY_BLOCK = "study-"  # study-NAME: that study's section of docs/studies.md


def render(text: str) -> str:
    """text with every marked block replaced by its rendering; an unknown name is an error."""

    def block(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith(STUDY_BLOCK):
            return (
                f"<!-- begin {name} -->\n{study_block(name.removeprefix(STUDY_BLOCK))}\n<!-- end {name} -->"
            )
        if name not in BLOCKS:
            raise ValueError(f"unknown rendered block {name!r}; known: {', '.join(BLOCKS)}")
        return f"<!-- begin {name} -->\n{BLOCKS[name]()}\n<!-- end {name} -->"

    return re.sub(r"<!-- begin (\S+) -->.*?<!-- end \1 -->", block, text, flags=re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name in FILES:
        path = ROOT / name
        text = path.read_text()
        rendered = render(text)
        if rendered != text:
            stale.append(name)
            if not args.check:
                path.write_text(rendered)
    verb = "stale (run python -m dropout_ports.benchmarks.readme)" if args.check else "re-rendered"
    for name in stale:
        print(f"{name}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
