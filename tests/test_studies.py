"""The studies: each runs quick in every port through the CLI, writes results.json, study.md and
its figures, and re-renders the same from its JSON; planning leaves out what a port lacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS
from test_cli import assert_valid_png, cli

from backends import get_backend
from benchmarks.probes import MC_SAMPLES, activation_variance, mc_dropout, train_set_fit
from benchmarks.studies import STUDIES, get_study, plan_study
from benchmarks.study_findings import agreement, lost_runs, study_rows
from common.config import Config
from common.data import first_examples
from common.params import init_params


def test_list_names_every_study():
    done = cli("study", "--list")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == list(STUDIES)


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_study_runs_quick_in_every_port(name, tmp_path):
    out = tmp_path / name
    done = cli("study", name, "--quick", "--inline", "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "results.json").read_text())
    study = get_study(name)
    assert doc["settings"]["study"]["name"] == name and doc["status"] == "complete"
    assert {run["backend"] for run in doc["runs"]} == set(BACKENDS)
    plan, _ = plan_study(study, BACKENDS, [0, 1], Config(epochs=3), quick=True)
    assert sorted((r["backend"], r["variant"], r["seed"], r["setting"]) for r in doc["runs"]) == sorted(plan)
    assert all(run["status"] == "ok" and len(run["history"]) == 3 for run in doc["runs"])
    text = (out / "study.md").read_text()
    assert "**Finding.**" in text and "blocked permutation test" in text
    figures = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
    assert figures
    for figure in figures:
        assert_valid_png(out / figure)
    (out / "study.md").unlink()
    assert cli("report", str(out)).returncode == 0
    assert (out / "study.md").read_text() == text  # report re-renders exactly this


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["study"], "name a study"),
        (["study", "nope"], "invalid choice"),
        (["study", "rates", "--quick", "--backends", "numpy", "--seeds", "0", "0"], "repeats"),
    ],
)
def test_bad_study_input_is_one_clear_line(args, message):
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


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


def test_agreement_blocks_by_setting_and_seed():
    history = [{"seconds": 1.0, "test_acc": 0.5}]
    runs = [
        {"backend": b, "variant": "scratch", "seed": seed, "setting": setting, "status": "ok",
         "diverged": False, "test_accuracy": base + 0.001 * (b == "b") + 0.0001 * seed, "history": history,
         "config": {"num_outputs": 10}}
        for setting, base in (("x", 0.8), ("y", 0.6))
        for seed in range(4)
        for b in ("a", "b")
    ]  # fmt: skip
    doc = {"runs": runs}
    p_value, blocks, ports = agreement(doc)
    assert blocks == 8 and ports == ["a/scratch", "b/scratch"]
    assert p_value < 0.05  # b is higher in every block, though settings differ far more
    assert {row["setting"] for row in study_rows(doc)} == {"x", "y"}
    assert np.isclose(study_rows(doc)[0]["first_epoch_s"], 1.0)


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


def test_results_path_is_a_folder(tmp_path: Path):
    file = tmp_path / "file"
    file.write_text("")
    done = cli("study", "noise", "--quick", "--inline", "--out", str(file))
    assert done.returncode == 2 and "Traceback" not in done.stderr
