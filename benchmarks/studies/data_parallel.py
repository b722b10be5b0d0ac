"""The data-parallel study as data: its arms (replica counts x seedings) and the paired tests that
answer it (the catalogue's tests=, Holm-adjusted with the rest of the study, each with what it
detects), and the sentences a p cannot give: how far the replicas' masks agree, and how far masks
by example at 1, 2 and 4 replicas, one computation but for the summation order, drift apart.
Written against the findings' rows (benchmarks.studies.findings.study_rows), nothing else.
"""

from __future__ import annotations

import itertools

import numpy as np

from dropout_ports.benchmarks.studies.design import Contrast, versus
from dropout_ports.common.config import Config

REPLICA_COUNTS = (1, 2, 4)


def label(replicas: int, seeding: str = "") -> str:
    return f"N={replicas}" + (f" {seeding}" if seeding else "")


def arms(quick: bool) -> dict[str, dict]:
    """The chapter's run (one replica, its own stream), masks by example at 1, 2 and 4 replicas,
    and by rank and one seed for all at 2 and 4; --quick: 1 and 2 replicas, no chapter's run."""
    if quick:
        chosen = [(1, "example"), (2, "example"), (2, "rank"), (2, "same")]
        return {label(n, s): {"replicas": n, "replica_seeding": s} for n, s in chosen}
    settings: dict[str, dict] = {label(1): {}}
    for n in REPLICA_COUNTS:
        settings[label(n, "example")] = {"replicas": n, "replica_seeding": "example"}
    for n, seeding in itertools.product(REPLICA_COUNTS[1:], ("rank", "same")):
        settings[label(n, seeding)] = {"replicas": n, "replica_seeding": seeding}
    return settings


def tests() -> tuple[Contrast, ...]:
    """At each replica count above 1, paired by (port, seed): one seed for all against seed + rank
    and against masks by example, the two independent seedings against each other, and one seed for
    all against seed + rank in the train-test gap (does less noise in a global batch fit closer)."""
    contrasts = []
    for n in REPLICA_COUNTS[1:]:
        same, rank, example = (label(n, seeding) for seeding in ("same", "rank", "example"))
        contrasts += [
            versus(f"One seed for all against seed + rank, N = {n}", same, rank),
            versus(f"One seed for all against masks by example, N = {n}", same, example),
            versus(f"Seed + rank against masks by example, N = {n}", rank, example),
            versus(f"Train-test gap, one seed for all against seed + rank, N = {n}", same, rank,
                   "train_eval_acc-test_acc"),
        ]  # fmt: skip
    return tuple(contrasts)


def independent_agreement(config: dict) -> float:
    """The agreement of independent masks: p^2 + (1 - p)^2 per layer, weighted by its width."""
    cfg = Config.from_dict({k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    widths, rates = np.array(cfg.num_hiddens), np.array(cfg.dropouts)
    return float(np.sum(widths * (rates**2 + (1 - rates) ** 2)) / np.sum(widths))


def by_block(rows: list[dict]) -> dict[str, dict[tuple, float]]:
    """setting -> {(port, seed): final test accuracy} over the finished runs."""
    table: dict[str, dict[tuple, float]] = {}
    for row in rows:
        for run in row["done"]:
            value = run["history"][-1].get("test_acc")
            if value is not None:
                table.setdefault(row["setting"], {})[(row["port"], run["seed"])] = value
    return table


def data_parallel_finding(rows: list[dict]) -> str:
    """Agreement and invariance in numbers (the tests are the study's own; the gap, findings')."""
    runs = [run for row in rows for run in row["done"]]
    if not runs:
        return ""
    table = by_block(rows)
    parts = [_agreement_sentence(rows, runs[0]["config"]), _invariance_sentence(table)]
    return " ".join(part for part in parts if part)


def _agreement_sentence(rows: list[dict], config: dict) -> str:
    agreement: dict[str, list[float]] = {}
    for row in rows:
        values = [run["mask_agreement"] for run in row["done"] if "mask_agreement" in run]
        if values:
            agreement.setdefault(row["setting"], []).extend(values)
    listed = ", ".join(f"{setting} {np.mean(values):.4f}" for setting, values in agreement.items())
    expected = independent_agreement(config)
    return f"Mask agreement between replicas (mean over ports, seeds): {listed} (independent {expected:.4f})."


def _invariance_sentence(table: dict[str, dict[tuple, float]]) -> str:
    arms = [label(n, "example") for n in REPLICA_COUNTS if label(n, "example") in table]
    if len(arms) < 2:
        return ""
    shared = set.intersection(*(set(table[arm]) for arm in arms))
    spreads = [np.ptp([table[arm][block] for arm in arms]) for block in shared]
    if not spreads:
        return ""
    return (
        f"Masks by example at {', '.join(arms)} are one computation but for the summation order: "
        f"their test accuracies within a block differ by {np.mean(spreads):.4f} on average and "
        f"{max(spreads):.4f} at most over {len(shared)} blocks (another order's rounding, grown)."
    )
