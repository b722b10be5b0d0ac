"""Ports that computed the same runs. Two ports coincide when, on every seed both finished, their
runs are bit-identical: every computed figure of every epoch and the final accuracy. With dropout
off, say, a port's scratch and builtin variants run the same code; counted as two ports they would
enter a test twice, so each group is tested once, under its first port's name.

The figures compared are named, never "all but the timings": a timing key added to the history
later must not make every run unique again (tests/test_stats.py holds the list to fit's rows)."""

from __future__ import annotations

import json
from collections.abc import Mapping

# What a run computes, per epoch: fit's figures, a data-parallel trainer's mask agreement, and the
# probes' figures (benchmarks.runs.probes); measured times are not among them.
FIGURES = (
    "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "test_ece",
    "mc_test_loss", "mc_test_accuracy", "mc_test_ece", "mask_agreement", "train_eval_acc", "train_eval_loss",
    "mc", *(f"act_{mode}_{stat}_{layer}" for mode in ("eval", "train") for stat in ("mean", "var")
            for layer in (1, 2)),
)  # fmt: skip

Runs = Mapping[str, Mapping[object, dict]]  # port -> block (a seed) -> run record


def signature(run: dict) -> str:
    """What two identical runs share bit for bit: the history's computed figures, and the result."""
    history = [{k: row[k] for k in FIGURES if k in row} for row in run["history"]]
    return json.dumps([history, run.get("test_accuracy"), run["diverged"]], sort_keys=True)


def identical_groups(runs: Runs) -> list[list[str]]:
    """Groups (2 ports or more, in the order given) of ports whose runs coincide on every shared
    seed, at least one of them shared."""
    ports = list(runs)
    parent = {port: port for port in ports}

    def root(port: str) -> str:
        while parent[port] != port:
            port = parent[port]
        return port

    for i, a in enumerate(ports):
        for b in ports[i + 1 :]:
            shared = [block for block in runs[a] if block in runs[b]]
            if shared and all(signature(runs[a][s]) == signature(runs[b][s]) for s in shared):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for port in ports:
        groups.setdefault(root(port), []).append(port)
    return [group for group in groups.values() if len(group) > 1]


def merged(by_port: Mapping[str, Mapping], groups: list[list[str]]) -> dict[str, Mapping]:
    """by_port with each group's later ports left out (their values are the first port's)."""
    dropped = {port for group in groups for port in group[1:]}
    return {port: values for port, values in by_port.items() if port not in dropped}


def why_identical(group: list[str], configs: list[dict]) -> str:
    """Why a group coincides, where its settings tell: with every rate 0 no noise is drawn, so a
    backend's variants run the same arithmetic."""
    backends = {port.split("/")[0] for port in group}
    no_noise = all(not any(config["dropouts"]) for config in configs)
    if len(backends) == 1 and no_noise:
        variants = " and ".join(port.split("/")[1] for port in group)
        return f"every rate 0: no noise is drawn, so {variants} are the same code"
    return "bit-identical on every shared seed"
