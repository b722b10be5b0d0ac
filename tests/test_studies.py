"""The studies: each runs quick in every port through the CLI, writes results.json, study.md and
its figures, and re-renders the same from its JSON; planning leaves out what a port lacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS
from test_cli import assert_valid_png, cli

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.runs.probes import MC_SAMPLES, activation_variance, mc_dropout, train_set_fit
from dropout_ports.benchmarks.studies.analysis import contrast_test, figure_of, setting_runs, study_statistics
from dropout_ports.benchmarks.studies.catalogue import STUDIES, get_study, plan_study
from dropout_ports.benchmarks.studies.design import versus
from dropout_ports.benchmarks.studies.findings import finding, lost_runs, study_rows
from dropout_ports.common.config import Config
from dropout_ports.common.data import first_examples
from dropout_ports.common.params import init_params


@pytest.mark.slow  # the command, in a subprocess
def test_list_names_every_study():
    done = cli("study", "--list")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == list(STUDIES)


# Every port runs the study of the framework variants; each of the others runs in NumPy and one
# framework port, the frameworks taking the studies in turn (a study's code is the same for every
# port, and a framework port costs 20-50 s a study of CI time). `dropout-ports study NAME --quick`
# runs a study in every port.
EVERY_PORT_STUDY = "compiled"


def study_ports(name: str) -> list[str]:
    """The ports test_every_study_runs_quick runs a study in: every one for EVERY_PORT_STUDY, else
    NumPy and the next framework in turn that trains every setting of the study."""
    if name == EVERY_PORT_STUDY:
        return BACKENDS
    frameworks = [port for port in BACKENDS if port != "numpy"]
    study, turn = get_study(name), [n for n in STUDIES if n != EVERY_PORT_STUDY].index(name)
    for framework in (frameworks[(turn + k) % len(frameworks)] for k in range(len(frameworks))):
        plan, _ = plan_study(study, [framework], [0], Config(epochs=3), quick=True)
        if {key[3] for key in plan} == set(study.arms(True)):
            return ["numpy", framework]
    return ["numpy"]


def test_every_framework_runs_some_of_the_quick_studies():
    chosen = {port for name in STUDIES for port in study_ports(name)}
    assert chosen == set(BACKENDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STUDIES))
def test_every_study_runs_quick(name, tmp_path):
    out = tmp_path / name
    ports = study_ports(name)
    done = cli("study", name, "--quick", "--inline", "--quiet", "--backends", *ports, "--out", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "results.json").read_text())
    study = get_study(name)
    assert doc["settings"]["study"]["name"] == name and doc["status"] == "complete"
    assert {run["backend"] for run in doc["runs"]} == set(ports)
    plan, _ = plan_study(study, ports, [0, 1], Config(epochs=3), quick=True)
    assert sorted((r["backend"], r["variant"], r["seed"], r["setting"]) for r in doc["runs"]) == sorted(plan)
    assert all(run["status"] == "ok" and len(run["history"]) == 3 for run in doc["runs"])
    text = (out / "study.md").read_text()
    assert "**Finding.**" in text and "| blocked permutation |" in text and "Holm" in text
    assert doc["statistics"]["tests"] and all("p_adjusted" in test for test in doc["statistics"]["tests"])
    figures = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
    assert figures
    for figure in figures:
        assert_valid_png(out / figure)
    (out / "study.md").unlink()
    assert cli("report", str(out)).returncode == 0
    assert (out / "study.md").read_text() == text  # report re-renders exactly this


@pytest.mark.slow
def test_a_study_through_local_workers_matches_inline(tmp_path):
    args = ("study", "weight-decay", "--quick", "--backends", "numpy", "--seeds", "0", "--quiet")
    inline = cli(*args, "--inline", "--out", str(tmp_path / "inline"))
    # One job of all the cores: the BLAS threads of inline, so the same summation order.
    local = cli(*args, "--jobs", "1", "--out", str(tmp_path / "local"))
    assert inline.returncode == 0 and local.returncode == 0, local.stderr
    accuracy = {
        where: {
            r["setting"]: r["test_accuracy"]
            for r in json.loads((tmp_path / where / "results.json").read_text())["runs"]
        }
        for where in ("inline", "local")
    }
    assert accuracy["inline"] == accuracy["local"] and len(accuracy["local"]) == 4


@pytest.mark.slow
def test_resuming_a_folder_of_another_study_is_refused(tmp_path):
    args = ("--quick", "--inline", "--quiet", "--backends", "numpy", "--seeds", "0", "--out", str(tmp_path))
    assert cli("study", "noise", *args).returncode == 0
    done = cli("study", "rates", *args, "--resume")
    assert done.returncode == 2 and "other settings (study)" in done.stderr


def test_plan_leaves_out_what_a_port_cannot_train():
    plan, skipped = plan_study(get_study("precision"), BACKENDS, [0], Config(), quick=False)
    for name in BACKENDS:
        dtypes = get_backend(name).Trainer.TRAIN_DTYPES
        assert {setting for backend, _, _, setting in plan if backend == name} == set(dtypes)
    if "numpy" in BACKENDS:
        assert any("numpy/scratch at bfloat16" in line and "float32, float64" in line for line in skipped)
    plan, _ = plan_study(get_study("noise"), BACKENDS, [0], Config(), quick=False)
    assert all(variant in get_backend(name).Trainer.SCRATCH_VARIANTS for name, variant, _, _ in plan)


def test_probes_measure_through_the_public_api(backend, synthetic):
    cfg = Config(epochs=1, num_hiddens=(32, 16))
    data = first_examples(synthetic, 512)
    trainer = backend.Trainer(cfg, init_params(cfg))
    fit = train_set_fit(trainer, data, 1)
    assert fit == {
        "train_eval_acc": trainer.evaluate(data.train_x, data.train_y)["accuracy"],
        "train_eval_loss": trainer.evaluate(data.train_x, data.train_y)["loss"],
    }
    stats = activation_variance(trainer, data, 1)
    assert stats["act_train_var_2"] > stats["act_eval_var_2"] > 0  # p = 0.5 adds variance
    mc = mc_dropout(trainer, data, 1)["mc"]
    assert list(mc) == ["0", *map(str, MC_SAMPLES)]
    assert mc["0"]["accuracy"] == trainer.evaluate(data.test_x, data.test_y)["accuracy"]
    assert sum(mc["100"]["reliability"]["count"]) == len(data.test_y)
    assert mc_dropout(trainer, data, 0) == {}  # only after the last epoch


def _run(backend: str, variant: str, seed: int, setting: str, acc: float, diverged: bool = False) -> dict:
    history = [
        {"seconds": 1.0, "test_acc": acc, "train_eval_acc": acc + 0.03, "mc": {"0": {"accuracy": acc}}}
    ]
    config = {"num_outputs": 10, "dropouts": [0.0, 0.0] if setting == "off" else [0.2, 0.5]}
    return {"backend": backend, "variant": variant, "seed": seed, "setting": setting, "status": "ok",
            "diverged": diverged, "test_accuracy": None if diverged else acc, "history": history,
            "config": config}  # fmt: skip


def _doc(runs: list[dict], name: str = "weight-decay") -> dict:
    return {"runs": runs, "settings": {"study": {"name": name}}}


def test_ports_are_blocked_by_setting_and_seed():
    runs = [
        _run(b, "scratch", seed, setting, base + 0.001 * (b == "b") + 0.0001 * seed)
        for setting, base in (("x", 0.8), ("y", 0.6))
        for seed in range(6)
        for b in ("a", "b")
    ]
    tests = study_statistics(_doc(runs))["tests"]
    pooled = tests[0]
    assert pooled["blocks"] == 12 and pooled["units"] == 6 and pooled["ports"] == ["a/scratch", "b/scratch"]
    # b is higher in every block, though settings differ far more: the most extreme of the 2^6
    # relabellings of whole seeds (the identity and its mirror), exactly
    assert pooled["exact"] and pooled["p_value"] == pytest.approx(2 / 2**6) == pooled["smallest_p"]
    assert [t["what"] for t in tests[1:3]] == ["Ports at x", "Ports at y"]
    assert tests[3]["test"] == "interaction permutation"
    assert {row["setting"] for row in study_rows(_doc(runs))} == {"x", "y"}
    assert np.isclose(study_rows(_doc(runs))[0]["first_epoch_s"], 1.0)


def test_identical_ports_count_once_in_a_setting_and_leave_its_contrasts():
    """With dropout off, a port's builtin variant repeats its scratch runs: merged there, and left out
    of any contrast that reads that setting (its pairs would share values with scratch's)."""
    runs = []
    for seed in range(3):
        off, on = 0.80 + 0.01 * seed, 0.82 + 0.01 * seed
        runs += [_run("t", "scratch", seed, "off", off), _run("t", "builtin", seed, "off", off),
                 _run("t", "scratch", seed, "on", on), _run("t", "builtin", seed, "on", on + 0.004),
                 _run("n", "scratch", seed, "off", 0.81), _run("n", "scratch", seed, "on", 0.84)]  # fmt: skip
    statistics = study_statistics(_doc(runs))
    assert statistics["identical_by_setting"] == {"off": [["t/scratch", "t/builtin"]]}
    assert statistics["identical"] == []  # not identical in every setting
    at_off = next(t for t in statistics["tests"] if t["what"] == "Ports at off")
    assert at_off["ports"] == ["t/scratch", "n/scratch"]
    groups = {"off": [["t/scratch", "t/builtin"]], "on": []}
    contrast = contrast_test(versus("on against off", "on", "off"), setting_runs(_doc(runs)), groups)
    assert contrast["n"] == 3 and contrast["ports"] == [2]  # the seeds, each the mean of t/ and n/scratch
    rows = study_rows(_doc(runs), statistics["identical_by_setting"])
    assert [r["same_as"] for r in rows if r["setting"] == "off"] == [None, "t/scratch", None]
    assert "Identical" not in finding("weight-decay", rows, statistics)  # study.md says it apart


def test_a_diverged_run_counts_as_behind_in_a_sign_test():
    runs = [_run("a", "scratch", s, "on", 0.85) for s in range(4)]
    runs += [_run("a", "scratch", s, "off", 0.80 if s else 0.1, diverged=s == 0) for s in range(4)]
    contrast = versus("on against off", "on", "off", test="sign")
    test = contrast_test(contrast, setting_runs(_doc(runs)), {"on": [], "off": []})
    assert (test["ahead"], test["n"]) == (4, 4)  # seeds ahead: the diverged run's seed among them
    assert figure_of(runs[0], "train_eval_acc-test_acc") == pytest.approx(0.03)
    assert figure_of(runs[0], "mc.0.accuracy") == 0.85 and figure_of(runs[0], "mc.1.accuracy") is None


def test_findings_name_diverged_runs_and_runs_collapsed_to_chance():
    def run(seed: int, acc: float, diverged: bool = False) -> dict:
        return {"backend": "a", "variant": "scratch", "seed": seed, "setting": "x", "status": "ok",
                "diverged": diverged, "config": {"num_outputs": 10},
                "history": [{"seconds": 1.0, "test_acc": acc}]}  # fmt: skip

    rows = study_rows({"runs": [run(0, 0.85), run(1, 0.1), run(2, 0.3), run(3, 0.1, diverged=True)]})
    assert lost_runs(rows) == (
        " Runs left out of the means: x: 1 diverged, 0 failed of 4."
        " Runs that collapsed to chance accuracy (kept in the means): x: 1 of 4."
    )
    assert lost_runs(study_rows({"runs": [run(0, 0.85), run(1, 0.3)]})) == ""


def test_a_quick_study_is_fast_enough_for_ci():
    """--quick is what CI runs for every study: 3 epochs on 10,000 examples, a few settings."""
    for study in STUDIES.values():
        assert len(study.arms(quick=True)) <= 4


@pytest.mark.slow  # the command, in a subprocess
def test_results_path_is_a_folder(tmp_path: Path):
    file = tmp_path / "file"
    file.write_text("")
    done = cli("study", "noise", "--quick", "--inline", "--out", str(file))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_training_subset_trains_on_the_first_examples_only(synthetic):
    from dropout_ports.benchmarks.results.document import run_throughput, shared_settings
    from dropout_ports.common.fit import fit

    cfg = Config(epochs=1, num_hiddens=(32, 16), train_subset=512)
    seen = []
    result = fit(get_backend("numpy"), cfg, synthetic, progress=False,
                 probe=lambda trainer, data, epoch: seen.append(len(data.train_y)) or {})  # fmt: skip
    assert seen == [512] and len(result.history) == 1
    record = {"config": cfg.to_dict(), "history": result.history}
    full = {"settings": {"train_examples": len(synthetic.train_y)}}
    assert run_throughput(record, full)["samples_per_s"] == pytest.approx(512 / result.history[0]["seconds"])
    with pytest.raises(ValueError, match="train_subset 4096 exceeds"):
        fit(get_backend("numpy"), cfg.replace(train_subset=4096), synthetic, progress=False)
    old = {k: v for k, v in Config().to_dict().items() if k != "train_subset"}  # a folder from before it
    assert shared_settings({"config": old}) == shared_settings({"config": Config().to_dict()})


def test_a_study_whose_runs_ran_in_parallel_draws_no_time_figure(tmp_path):
    from dropout_ports.benchmarks.studies import figures
    from dropout_ports.benchmarks.studies.report import timing_sentence

    runs = [{**_run("a", "scratch", s, "x", 0.8), "runs_at_once": 2} for s in range(3)]
    doc = {"runs": runs, "settings": {"study": {"name": "compiled", "arms": {"x": {}}}}}
    assert figures.draw(doc, study_rows(doc), tmp_path) == ["accuracy.png"]
    assert "no time figure" in timing_sentence(doc)
    one_at_a_time = {**doc, "runs": [{**run, "runs_at_once": 1} for run in runs]}
    assert figures.draw(one_at_a_time, study_rows(one_at_a_time), tmp_path) == ["time.png", "accuracy.png"]
    assert "one run at a time" in timing_sentence(one_at_a_time)
