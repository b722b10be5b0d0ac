"""A study's tests in two families, each adjusted by Holm: do the ports agree (pooled over settings,
at each setting, the port x setting interaction), and what does the exercise show (its own tests,
studies.catalogue). Every port of a seed starts from the same parameters and sees the same
batches in every setting, so the seed is the independent unit: port tests relabel the ports of a
seed in all its settings alike, and the exercise's contrasts are tested over the seeds' means.

Ports that computed the same runs in a setting (results.identical) count once there; a port that
coincides with another in any setting a contrast reads is left out of that contrast, whose pairs
would otherwise share values."""

from __future__ import annotations

import numpy as np

from dropout_ports.benchmarks.results.analysis import accuracies, adjust, runs_by_port
from dropout_ports.benchmarks.results.document import finished
from dropout_ports.benchmarks.results.identical import identical_groups, merged
from dropout_ports.benchmarks.results.stats import (
    ALPHA,
    blocked_test,
    interaction_test,
    paired_test,
    sign_test,
)
from dropout_ports.benchmarks.studies.catalogue import STUDIES
from dropout_ports.benchmarks.studies.design import Contrast, SettingsTest

SettingRuns = dict[str, dict[str, dict[int, dict]]]  # setting -> port -> seed -> run


def figure_of(run: dict, name: str) -> float | None:
    """A figure of a run's last history row: a key, a difference "a-b", or a path "mc.100.loss"."""
    row = run["history"][-1] if run["history"] else {}
    if "-" in name:
        a, b = (figure_of(run, part) for part in name.split("-"))
        return None if a is None or b is None else a - b
    for key in name.split("."):
        row = row.get(key) if isinstance(row, dict) else None
    return row


def unit_of(figure: str) -> str:
    """Percentage points for accuracies and their gaps, the figure itself otherwise."""
    return "pp" if "acc" in figure else ""


def setting_runs(doc: dict) -> SettingRuns:
    by_setting: dict[str, list[dict]] = {}
    for run in doc["runs"]:
        by_setting.setdefault(run.get("setting", ""), []).append(run)
    return {setting: runs_by_port(runs) for setting, runs in by_setting.items()}


def port_tests(runs: SettingRuns, groups: dict[str, list[list[str]]]) -> list[dict]:
    """The ports pooled over (setting, seed) blocks, at each setting, and their interaction."""
    per_setting = {s: merged(accuracies(by_port), groups[s]) for s, by_port in runs.items()}
    pooled: dict[str, dict] = {}
    for setting, by_port in per_setting.items():
        for port, values in by_port.items():
            pooled.setdefault(port, {}).update({(setting, seed): v for seed, v in values.items()})
    tests = []
    test = blocked_test(pooled, units={block: block[1] for values in pooled.values() for block in values})
    if test:
        tests.append({**test, "what": "Ports, every setting (blocks: setting x seed)", "unit": "pp"})
    if len(runs) < 2:
        return tests
    local = [(s, blocked_test(by_port)) for s, by_port in per_setting.items()]
    pooled_sd = _pooled_sd([test for _, test in local if test])
    for setting, test in local:
        if test:
            tests.append({**test, "what": f"Ports at {setting}", "setting": setting, "unit": "pp",
                          "residual_sd": pooled_sd})  # fmt: skip
    blocks = {
        setting: {seed: {port: by_port[port][seed] for port in by_port if seed in by_port[port]}
                  for seed in dict.fromkeys(seed for values in by_port.values() for seed in values)}
        for setting, by_port in per_setting.items()
    }  # fmt: skip
    interaction = interaction_test(blocks)
    if interaction:
        what = f"Port x setting interaction ({len(interaction['ports'])} ports in every block)"
        tests.append({**interaction, "what": what, "unit": "pp", "residual_sd": pooled_sd})
    return tests


def _pooled_sd(tests: list[dict]) -> float | None:
    dof = sum(t["residual_df"] for t in tests if t["residual_sd"] is not None)
    if not dof:
        return None
    return float(
        np.sqrt(sum(t["residual_sd"] ** 2 * t["residual_df"] for t in tests if t["residual_sd"]) / dof)
    )


def contrast_test(contrast: Contrast, runs: SettingRuns, groups: dict[str, list[list[str]]]) -> dict | None:
    """The contrast tested with the seed as its unit: every port of a seed starts from the same
    weights and sees the same batches, so its ports are one unit, not several. A "t" contrast is
    Student's t over the seeds' means of the contrast (over the ports that finished every term), a
    "sign" contrast a sign test over the seeds, each seed ahead when more of its ports are ahead."""
    settings = [setting for setting, _, _ in contrast.terms]
    if any(setting not in runs for setting in settings):
        return None
    repeated = {port for s in settings for group in groups[s] for port in group[1:]}
    units = [(port, seed) for port, by_seed in runs[settings[0]].items() if port not in repeated
             for seed in by_seed if all(seed in runs[s].get(port, {}) for s in settings)]  # fmt: skip
    by_seed: dict[int, list[float]] = {}
    for port, seed in units:
        value = _contrast_value(contrast, [runs[s][port][seed] for s in settings])
        if value is not None:
            by_seed.setdefault(seed, []).append(value)
    if contrast.test == "sign":
        scores = [float(np.sign(values).sum()) for values in by_seed.values()]
        test = sign_test(sum(score > 0 for score in scores), sum(score < 0 for score in scores))
    else:
        test = paired_test([float(np.mean(values)) for values in by_seed.values()])
    ports = sorted({len(values) for values in by_seed.values()})
    return test and {**test, "what": contrast.what, "unit": unit_of(contrast.terms[0][1]), "ports": ports}


def _contrast_value(contrast: Contrast, picked: list[dict]) -> float | None:
    """One port's contrast at one seed: the weighted sum of its figures; for a sign test the sign of
    the gap, a diverged run behind a finished one (divergence is an outcome, not a gap)."""
    if contrast.test == "sign":
        first, second = picked
        if finished(first) and finished(second):
            figure = contrast.terms[0][1]
            return float(np.sign(figure_of(first, figure) - figure_of(second, figure)))
        return (
            float(second["diverged"]) - float(first["diverged"])
            if first["diverged"] != second["diverged"]
            else None
        )
    figures = [(run, figure, weight) for run, (_, figure, weight) in zip(picked, contrast.terms, strict=True)]
    if not all(finished(run) and figure_of(run, figure) is not None for run, figure, _ in figures):
        return None
    return sum(weight * figure_of(run, figure) for run, figure, weight in figures)


def settings_test(spec: SettingsTest, runs: SettingRuns) -> dict | None:
    """A blocked permutation test of settings as treatments, each (port, seed) a block, the settings
    of a seed relabelled alike in all its ports (the seed is the unit)."""
    present = [s for s in spec.settings if s in runs]
    by_setting = {
        setting: {(port, seed): figure_of(run, spec.figure)
                  for port, by_seed in runs[setting].items()
                  for seed, run in by_seed.items() if finished(run)}
        for setting in present
    }  # fmt: skip
    seeds = {block: block[1] for values in by_setting.values() for block in values}
    test = blocked_test(by_setting, units=seeds) if len(present) >= 2 else None
    run = f" ({len(present)} of them in this run)" if len(present) < len(spec.settings) else ""
    return test and {**test, "what": spec.what + run, "unit": unit_of(spec.figure), "treatment": "setting"}


def study_statistics(doc: dict) -> dict:
    """The statistics section of a study folder's results.json."""
    runs = setting_runs(doc)
    groups = {setting: identical_groups(by_port) for setting, by_port in runs.items()}
    study = STUDIES.get(doc["settings"]["study"]["name"])
    exercise = []
    for spec in study.tests if study else ():
        test = contrast_test(spec, runs, groups) if isinstance(spec, Contrast) else settings_test(spec, runs)
        if test:
            exercise.append({**test, "exercise": True})
    everywhere = [
        group for group in next(iter(groups.values()), []) if all(group in g for g in groups.values())
    ]
    return {
        "alpha": ALPHA,
        "identical": everywhere,
        "identical_by_setting": {setting: g for setting, g in groups.items() if g},
        "tests": adjust(port_tests(runs, groups)) + adjust(exercise),
    }
