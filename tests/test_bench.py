"""bench's training suite: floors timed beside the epochs, the epoch split into parts that add up,
the ratios over rounds, the machine's load, and reports that render old documents as they are."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import assert_valid_png

from dropout_ports.benchmarks.report.figures import distinct_style, legend_below
from dropout_ports.benchmarks.results import throughput
from dropout_ports.benchmarks.results.document import check_document
from dropout_ports.benchmarks.suites import bench, breakdown, epochs
from dropout_ports.benchmarks.suites.contenders import (
    EPOCH,
    FLOOR,
    FLOOR_TINY,
    RATES_0,
    TINY,
    UPDATE,
    UPDATE_TINY,
    key,
)
from dropout_ports.common.config import Config
from dropout_ports.common.flops import gemm_flops, gemm_shapes

KEPT = Path(__file__).parents[1] / "docs" / "runs" / "bench" / "bench.json"
# The kept bench of before rounds, floors beside the epochs and load (git: ac31d5c), as a fixture
OLD = Path(__file__).parent / "fixtures" / "bench-before-rounds.json"
CFG = Config(epochs=4)
QUIET = {"load1": [0.5, 0.6], "others_cores": 0.0, "wall_s": 1.0}


def test_the_parts_add_up_to_the_epoch_and_an_overshoot_is_flagged():
    parts = breakdown.split(epoch_s=1.0, rates_0_s=0.8, tiny_s=0.1, matmuls_s=0.5, update_s=0.05)
    assert list(parts["parts"]) == list(breakdown.PARTS)
    assert sum(parts["parts"].values()) == pytest.approx(1.0)
    assert parts["parts"][breakdown.DROPOUT] == pytest.approx(0.2)
    assert parts["parts"][breakdown.REST] == pytest.approx(0.15) and breakdown.adds_up(parts)
    over = breakdown.split(epoch_s=1.0, rates_0_s=0.9, tiny_s=0.3, matmuls_s=0.9, update_s=0.05)
    assert over["measured_share"] == pytest.approx(1.35) and not breakdown.adds_up(over)
    assert "distrust" in breakdown.COLUMNS[-1][1](over) and "distrust" not in breakdown.COLUMNS[-1][1](parts)


def _records(seconds: dict[str, list[float]]) -> dict[str, list[dict]]:
    return {label: [{"label": label, "seconds": s, "host_seconds": s / 2, "load": QUIET} for s in values]
            for label, values in seconds.items()}  # fmt: skip


def _port(epoch: list[float], floor_s: float) -> tuple[dict, dict]:
    """A port's plan and records: one variant, its floor bursts taking floor_s a step."""
    plan = [{"key": key("scratch", "step", kind), "variant": "scratch", "loop": "step", "kind": kind,
             "first_epoch_s": 3.0} for kind in (EPOCH, RATES_0, TINY)]  # fmt: skip
    epoch_key, rates_0_key, tiny_key = (entry["key"] for entry in plan)
    seconds = {epoch_key: epoch, rates_0_key: [0.8 * s for s in epoch], tiny_key: [0.01] * 3}
    seconds[UPDATE], seconds[UPDATE_TINY], seconds[FLOOR_TINY] = [1e-5] * 3, [1e-6] * 3, [floor_s / 100] * 3
    for label in (epoch_key, rates_0_key):
        seconds[f"{label} {FLOOR}"] = [floor_s, floor_s * 2, floor_s]
    return {"plan": plan, "examples": 2560, "steps": 10, "square_gflops": 50.0}, _records(seconds)


def test_each_epoch_is_judged_against_the_floor_timed_right_before_it():
    step = gemm_flops(gemm_shapes(CFG)) / 1e9
    fast, slow = _port([0.1, 0.11, 0.12], floor_s=step / 100), _port([0.3, 0.31, 0.29], floor_s=step / 10)
    plans, records = {"a": fast[0], "b": slow[0]}, {"a": fast[1], "b": slow[1]}
    train = epochs.training(CFG, plans, records, "cpu", quick=True)
    rows = {row["backend"]: row for row in train["rows"]}
    assert rows["a"]["floor_gflops"] == pytest.approx(100)
    assert rows["a"]["rounds"]["floor_gflops"] == pytest.approx([100, 50, 100])  # each round's own
    assert rows["b"]["of_own_gemm"] > 1  # the epoch beat a slow floor: shown as measured, flagged
    assert throughput.flags(rows["b"]).startswith("floor slower than the epoch")
    assert throughput.flags(rows["a"]) == "-"
    assert rows["a"]["first_epoch_s"] == 3.0 and rows["a"]["epoch_s"] == 0.11 and train["rounds"] == 3
    speed = {row["port"]: row for row in train["speed"]}
    assert speed["b/scratch"]["verdict"] == "slower in every round" and speed["b/scratch"]["loop"] == "step"
    assert [row["backend"] for row in train["breakdown"]] == ["a", "b"]
    assert all(sum(row["parts"].values()) == pytest.approx(row["epoch_s"]) for row in train["breakdown"])
    net = train["breakdown"][0]["parts"]  # the median floor and update, each less its call at TINY_WIDTH
    assert net[breakdown.MATMULS] == pytest.approx(0.99 * step / 100 * 10)  # 2560 examples: 10 batches
    assert net[breakdown.UPDATE_PART] == pytest.approx(9e-6 * 10)
    assert train["yardsticks"]["by_backend"]["a"]["mlp_gflops"] == pytest.approx(100)
    assert not train["load"]["busy"]


def test_an_old_document_renders_as_it_is_saying_what_it_lacks(tmp_path):
    doc = check_document(json.loads(OLD.read_text()), "bench.json", OLD)
    text = bench.bench_markdown(doc)
    assert "Ratios over rounds: not measured in this run" in text
    assert "The breakdown by ablation: not measured in this run" in text
    assert "The machine's load: not measured in this run" in text
    numpy_row = next(line for line in text.splitlines() if line.startswith("| numpy | scratch | step |"))
    assert "103% (over 100%: distrust)" in numpy_row  # stored clipped as 100%: shown as measured
    assert "**Measurements to distrust:** epochs faster than their floor: numpy/scratch (step)," in text
    bench.render_bench(doc, tmp_path)
    assert_valid_png(tmp_path / "bench-training.png") and not (tmp_path / "bench-breakdown.png").exists()


def test_a_quick_numpy_bench_times_floors_beside_epochs_and_splits_them(tmp_path):
    train = epochs.run(["numpy"], quick=True)
    (row,) = train["rows"]
    assert len(row["rounds"]["epoch_s"]) == len(row["rounds"]["floor_gflops"]) == epochs.QUICK_ROUNDS
    assert row["of_own_gemm"] == pytest.approx(row["gflops"] / row["floor_gflops"])
    (split,) = train["breakdown"]
    assert sum(split["parts"].values()) == pytest.approx(split["epoch_s"])
    assert split["parts"][breakdown.MATMULS] > 0 and split["parts"][breakdown.OVERHEAD] > 0
    assert train["load"]["cores"] >= 1 and row["load"]["max_load1"] >= 0
    kept = json.loads(KEPT.read_text())
    doc = {**kept, "quick": True, "training": train, "load": {"training epochs": QUIET}}
    text = bench.bench_markdown(doc)
    assert "## Where the time goes" in text and "numpy/scratch (step loop)" in text
    assert "not judged at --quick sizes" in text and "| met |" not in text and "| missed |" not in text
    bench.render_bench(doc, tmp_path)
    assert_valid_png(tmp_path / "bench-breakdown.png")


def test_no_two_lines_of_a_legend_look_alike():
    assert len({(tuple(color), marker) for color, marker in map(distinct_style, range(45))}) == 45


def test_the_legend_sits_below_the_axes_and_covers_no_bar():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1.0, 2.0], label="bars")
    ax.errorbar(["a", "b"], [1.0, 2.0], yerr=0.1, fmt="none", label="whiskers: min..max over the rounds")
    legend_below(fig, ax)
    fig.canvas.draw()
    legend, axes = fig.legends[0].get_window_extent(), ax.get_window_extent()
    assert ax.get_legend() is None and legend.y1 <= axes.y0
    assert "whiskers: min..max over the rounds" in [text.get_text() for text in fig.legends[0].get_texts()]
    plt.close(fig)
