"""Data parallelism in one process: the shard rule, the masks keyed by example (the same bits in
every port), the seedings' mask agreement, and an N-replica run equal to the 1-replica run (NumPy,
JAX and TensorFlow at 1, 2 and 4 replicas; torch at 1, its processes in test_replica_processes.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS
from replica_runs import train_replicas

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.suites.lockstep import run_lockstep
from dropout_ports.common.config import Config
from dropout_ports.common.data import first_examples
from dropout_ports.common.example_masks import example_keep, threefry2x32
from dropout_ports.common.fit import fit, make_trainer
from dropout_ports.common.masks import keep_threshold
from dropout_ports.common.params import init_params
from dropout_ports.common.replicas import ReplicaMasks, shard_slices

# float64, two equal layers (so masks of layers can be compared), 7 full batches and a tail of
# 198 rows, which four replicas split 50/50/49/49
SMALL = Config(num_hiddens=(64, 64), dtype="float64", epochs=2, init_std=0.1)  # off the plateau at once
EXAMPLES = 7 * 256 + 198
PARALLEL = [name for name in BACKENDS if hasattr(get_backend(name), "DataParallelTrainer")]
IN_PROCESS = [name for name in PARALLEL if not get_backend(name).DataParallelTrainer.PROCESS_PER_REPLICA]


@pytest.fixture(scope="module")
def small(fashion):
    return first_examples(fashion, EXAMPLES)


@pytest.fixture(scope="module")
def one_replica(small):
    """Every port's 1-replica run with masks by example."""
    cfg = SMALL.replace(replica_seeding="example")
    return {name: train_replicas(name, cfg, "scratch", small) for name in PARALLEL}


@pytest.mark.parametrize(
    ("rows", "replicas", "sizes"),
    [(96, 1, [96]), (96, 2, [48, 48]), (96, 4, [24] * 4), (96, 5, [20, 19, 19, 19, 19]),
     (256, 3, [86, 85, 85]), (198, 4, [50, 50, 49, 49]), (2, 4, [1, 1, 0, 0])],
)  # fmt: skip
def test_a_batch_is_split_in_order_the_first_shards_one_longer(rows, replicas, sizes):
    shards = shard_slices(rows, replicas)
    assert [s.stop - s.start for s in shards] == sizes
    assert np.array_equal(np.concatenate([np.arange(rows)[s] for s in shards]), np.arange(rows))


def test_threefry_gives_random123s_known_answers():
    """Threefry-2x32-20 test vectors of Random123 (kat_vectors): key, counter, output."""
    cases = [((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
             ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0x1CB996FC, 0xBB002BE7)),
             ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0))]  # fmt: skip
    for key, counter, expected in cases:
        words = [np.array([v], np.uint32) for v in (*key, *counter)]
        assert [int(w[0]) for w in threefry2x32(*words)] == list(expected)


def test_example_masks_depend_on_the_row_alone_and_keep_1_minus_p():
    rows = np.arange(256)
    full = example_keep(np, 7, 3, 1, rows, 256, 0.2)
    np.testing.assert_array_equal(example_keep(np, 7, 3, 1, rows[100:130], 256, 0.2), full[100:130])
    for other in ((8, 3, 1), (7, 4, 1), (7, 3, 2)):  # another seed, step, layer
        assert np.mean(example_keep(np, *other, rows, 256, 0.2) != full) > 0.25
    for p in (0.2, 0.5):
        kept = example_keep(np, 0, 0, 1, np.arange(1024), 1024, p).mean()
        assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / 1024**2)
    assert example_keep(np, 0, 0, 1, rows, 7, 0.0).all()
    bits_kept = example_keep(np, 0, 0, 1, rows, 9, 0.5)  # an odd width: the last pair's first word
    assert bits_kept.shape == (256, 9) and keep_threshold(0.5) == 2**31


def test_example_masks_are_the_same_bits_in_jax_under_jit():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    from jax.extend.random import threefry_2x32

    counts = np.arange(20, dtype=np.uint32)
    ours = np.concatenate(threefry2x32(np.uint32([123]), np.uint32([456]), counts[:10], counts[10:]))
    np.testing.assert_array_equal(
        np.asarray(threefry_2x32(jnp.uint32([123, 456]), jnp.asarray(counts))), ours
    )
    jitted = jax.jit(lambda step: example_keep(jnp, 7, step, 2, jnp.arange(256), 250, 0.2))
    np.testing.assert_array_equal(
        np.asarray(jitted(jnp.uint32(5))), example_keep(np, 7, 5, 2, np.arange(256), 250, 0.2)
    )


def test_replicas_and_seeding_are_checked_options():
    assert not Config().data_parallel and Config().mask_seeding == "stream"
    assert Config(replicas=2).mask_seeding == "example" and Config(replica_seeding="same").data_parallel
    bad = [({"replicas": 0}, ValueError), ({"replicas": True}, TypeError), ({"replicas": 1.5}, TypeError),
           ({"replica_seeding": "seed"}, ValueError)]  # fmt: skip
    for changes, error in bad:
        with pytest.raises(error, match="replica"):
            Config(**changes)


@pytest.mark.parametrize(
    ("name", "variant", "changes", "message"),
    [("torch", "builtin", {"replicas": 2}, "cannot key them by example"),
     ("jax", "builtin", {"replica_seeding": "example"}, "cannot key them by example"),
     ("torch", "compiled", {"replica_seeding": "same"}, "no data-parallel path"),
     ("numpy", "scratch", {"replicas": 2, "noise": "gaussian"}, "bernoulli masks only"),
     ("numpy", "scratch", {"replicas": 2, "dropouts": (0.2, 1.0)}, "rates below 1")],
)  # fmt: skip
def test_what_a_port_cannot_draw_is_refused_saying_why(name, variant, changes, message):
    if name not in BACKENDS:
        pytest.skip(f"{name} is not installed")
    cfg = Config(**changes)
    with pytest.raises(ValueError, match=message):
        make_trainer(get_backend(name), cfg, init_params(cfg), variant=variant)
    with pytest.raises(ValueError, match="DataParallelTrainer"):  # the one-replica Trainer never ignores it
        get_backend("numpy").Trainer(Config(replicas=2), init_params(Config()))


def test_agreement_compares_replicas_at_the_same_local_position():
    a, b = np.array([[True, False], [True, True], [False, False]]), np.array([[True, True], [False, True]])
    masks = ReplicaMasks(keep=True)
    masks.add([[a], [b]])
    assert masks.agreement == 2 / 4 and masks.take_epoch() == 2 / 4 and masks.take_epoch() is None
    masks.add([[a], [a]], observed=[[a], [np.ones_like(a)]])
    assert masks.counts.tolist() == [2 + 3, 4 + 3]  # only where both show the mask
    assert [m.shape for m in masks.log[0]] == [(5, 2)]


@pytest.mark.parametrize("name", PARALLEL)
@pytest.mark.parametrize("variant", ["scratch", "builtin"])
def test_one_replica_of_rank_or_same_is_the_chapters_run(name, variant, synthetic):
    """The data-parallel path with one replica draws from the port's own stream as it does today."""
    backend = get_backend(name)
    if variant not in backend.Trainer.REPLICA_SEEDINGS:
        pytest.skip(f"{name}'s {variant} has no data-parallel path")
    cfg = Config(num_hiddens=(32, 16), batch_size=64, epochs=2, dtype="float64")
    chapter = fit(backend, cfg, synthetic, variant=variant, progress=False).history
    for seeding in ("rank", "same"):
        run = fit(backend, cfg.replace(replica_seeding=seeding), synthetic, variant=variant, progress=False)
        keys = ("train_loss", "train_acc", "test_loss", "test_acc")
        assert [[row[k] for k in keys] for row in run.history] == [[row[k] for k in keys] for row in chapter]


def test_masks_by_example_are_one_run_in_every_port(one_replica):
    first = next(iter(one_replica.values()))
    for name, run in one_replica.items():
        assert all(np.array_equal(a, b) for step_a, step_b in zip(run["masks"], first["masks"], strict=True)
                   for a, b in zip(step_a, step_b, strict=True)), name  # fmt: skip
        np.testing.assert_allclose(run["losses"], first["losses"], rtol=0, atol=1e-9, err_msg=name)
        for key, value in first["params"].items():
            np.testing.assert_allclose(run["params"][key], value, rtol=0, atol=1e-9, err_msg=f"{name} {key}")
    assert len(first["masks"]) == 2 * 8 and first["losses"][1] < first["losses"][0] - 0.3  # it trains


def assert_same_run(run: dict, reference: dict) -> None:
    """Within 1e-9 (summation order only), masks bit-identical, the same test accuracy."""
    np.testing.assert_allclose(run["losses"], reference["losses"], rtol=0, atol=1e-9)
    for key, value in reference["params"].items():
        np.testing.assert_allclose(run["params"][key], value, rtol=0, atol=1e-9, err_msg=key)
    assert len(run["masks"]) == len(reference["masks"])
    for step, (ours, theirs) in enumerate(zip(run["masks"], reference["masks"], strict=True)):
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True)), f"step {step}"
    assert run["test_acc"] == reference["test_acc"]


@pytest.mark.parametrize("name", IN_PROCESS)
@pytest.mark.parametrize("replicas", [2, 4])
def test_n_replicas_reproduce_the_one_replica_run(name, replicas, small, one_replica):
    cfg = SMALL.replace(replica_seeding="example", replicas=replicas)
    run = train_replicas(name, cfg, "scratch", small)
    assert_same_run(run, one_replica[name])
    assert 0.5 < run["agreement"] < 0.7  # the replicas' masks are independent of each other


def expected_agreement(cfg: Config) -> float:
    return float(np.mean([p**2 + (1 - p) ** 2 for p in cfg.dropouts]))  # layers of equal width


@pytest.mark.parametrize("name", IN_PROCESS)
@pytest.mark.parametrize("replicas", [2, 4])
@pytest.mark.parametrize("variant", ["scratch", "builtin"])
def test_mask_agreement_is_one_for_one_seed_and_p2_plus_q2_otherwise(name, replicas, variant, small):
    if variant not in get_backend(name).Trainer.REPLICA_SEEDINGS:
        pytest.skip(f"{name}'s {variant} has no data-parallel path")
    cfg = SMALL.replace(replicas=replicas, epochs=1)
    full = first_examples(small, 7 * 256)  # equal shards: one seed for all draws the same local masks
    same = train_replicas(name, cfg.replace(replica_seeding="same"), variant, full)
    assert same["agreement"] == 1.0 == same["epoch_agreement"][0]
    for seeding in ("rank", "example") if variant == "scratch" else ("rank",):
        run = train_replicas(name, cfg.replace(replica_seeding=seeding), variant, small)
        positions = sum(len(shard) for step in run["masks"] for shard in step) // replicas  # a pair's rows
        bound = 5 * np.sqrt(0.25 / (positions * 64 * (0.5 if variant == "builtin" else 1)))
        assert abs(run["agreement"] - expected_agreement(cfg)) < bound, seeding


@pytest.mark.parametrize("name", IN_PROCESS)
@pytest.mark.parametrize("replicas", [2, 4])
def test_no_mask_repeats_across_replicas_steps_and_layers(name, replicas, small):
    """Every replica's masks of two steps and two layers, gathered: none repeats another, except
    under one seed for all, where each replica repeats the others (the bug, caught)."""
    cfg = SMALL.replace(replicas=replicas, epochs=1)
    for seeding in ("example", "rank", "same"):
        masks = train_replicas(name, cfg.replace(replica_seeding=seeding), "scratch", small)["masks"][:2]
        local = [step[layer][part].tobytes() for step in masks for layer in (0, 1)
                 for part in shard_slices(256, replicas)]  # fmt: skip
        distinct = len(set(local))
        assert distinct == (len(local) if seeding != "same" else len(local) // replicas), seeding


def test_injected_masks_through_replicas_are_the_lockstep_run(small):
    """The lockstep machinery's masks into a 2-replica run: the 1-replica run's numbers."""
    for name in IN_PROCESS:
        one, two = (run_lockstep(name, SMALL.replace(replicas=n, replica_seeding="example"), small, 9)
                    for n in (1, 2))  # fmt: skip
        np.testing.assert_allclose(two[0], one[0], rtol=0, atol=1e-9, err_msg=name)


def test_jax_replicas_pass_the_key_reuse_checker(small):
    jax = pytest.importorskip("jax")
    cfg = Config(num_hiddens=(48, 40), epochs=1, replicas=2)  # shapes of their own: traced afresh
    with jax.debug_key_reuse(True):
        for variant, seeding in (("scratch", "example"), ("scratch", "rank"), ("builtin", "same")):
            train_replicas("jax", cfg.replace(replica_seeding=seeding), variant, first_examples(small, 600))


def test_jax_says_how_to_get_more_devices_than_it_started_with():
    pytest.importorskip("jax")
    cfg = Config(replicas=64)
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count=64"):
        make_trainer(get_backend("jax"), cfg, init_params(cfg))


def test_a_folder_from_before_the_replica_options_resumes():
    from dropout_ports.benchmarks.results.document import shared_settings

    old = {k: v for k, v in Config().to_dict().items() if not k.startswith("replica")}
    assert shared_settings({"config": old}) == shared_settings({"config": Config().to_dict()})


def test_the_study_answers_with_agreement_invariance_and_its_adjusted_tests():
    from dropout_ports.benchmarks.studies.analysis import study_statistics
    from dropout_ports.benchmarks.studies.findings import FINDINGS, study_rows

    runs = []
    for seed in range(6):
        arms = [("N=1 example", 0.85, None), ("N=2 example", 0.85, 0.59), ("N=2 rank", 0.851, 0.59),
                ("N=2 same", 0.80 + 0.001 * seed, 1.0)]  # fmt: skip
        for setting, acc, agreement in arms:
            run = {"backend": "numpy", "variant": "scratch", "seed": seed, "setting": setting, "status": "ok",
                   "diverged": False, "config": Config().to_dict(), "test_accuracy": acc,
                   "history": [{"seconds": 1.0, "test_acc": acc, "train_eval_acc": acc + 0.01}]}  # fmt: skip
            runs.append(run if agreement is None else {**run, "mask_agreement": agreement})
    doc = {"settings": {"study": {"name": "data-parallel"}}, "runs": runs}
    text = FINDINGS["data-parallel"](study_rows(doc))
    assert "N=2 same 1.0000" in text and "(independent 0.5900)" in text
    assert "differ by 0.0000 on average and 0.0000 at most over 6 blocks" in text
    assert "N=2 same: +0.0100" in text  # the train-test gap, as every study with the probe says it
    tests = {t["what"]: t for t in study_statistics(doc)["tests"] if t.get("exercise")}
    same = tests["One seed for all against seed + rank, N = 2"]
    assert same["mean_difference"] == pytest.approx(-0.0485) and same["n"] == 6
    assert same["p_value"] < same["p_adjusted"] < 1e-4  # Holm over the study's family of tests
    assert not [what for what in tests if "N = 4" in what]  # no arm at 4 replicas here: not tested
