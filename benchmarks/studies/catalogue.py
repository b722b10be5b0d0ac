"""The chapter's open questions as studies: each a set of settings (Config changes), run in every
port over seeds through the run engine, answered by a table, figures and a sentence of numbers.
A study is data, not code: its settings, the variants it compares, the epochs, the seeds, and the
probe that measures what the history lacks. ``--quick`` shrinks it (fewer settings and epochs, a
subset of the training set) so that every study runs in seconds."""

from __future__ import annotations

from collections.abc import Sequence

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.document import RunKey
from dropout_ports.benchmarks.studies import data_parallel
from dropout_ports.benchmarks.studies.design import (
    Contrast,
    SettingsTest,
    Study,
    difference_of_differences,
    versus,
)
from dropout_ports.common.config import Config

QUICK_EPOCHS = 3
QUICK_TRAIN_EXAMPLES = 10_000  # 117 steps: past the loss plateau of the first 50-60
CHAPTER = {"dropouts": (0.2, 0.5)}
NO_DROPOUT = {"dropouts": (0.0, 0.0)}
WEIGHT_DECAY = 5e-4  # lr x wd = 2.5e-4 shrinkage a step: a usual strength for an MLP this size
RATE_GRID = (0.0, 0.2, 0.5, 0.9)
FRAMEWORK_LAYERS = ("scratch", "builtin", "nnx")  # ours and each framework's Dropout (flax: both APIs)
# Training subsets (Srivastava et al. 2014, sec. 7.4), about 1,200 steps each, at an lr fixed before
# the run: at the chapter's 0.5 the 3-seed runs kept before (git show c0ae304:docs/studies/train-size)
# collapsed late.
SUBSETS = {1_000: 300, 5_000: 60}
SUBSET_LR = 0.1
WIDTHS = (64, 256, 1024)
# Seeds planned from the kept 3-seed runs, the seed the unit, 80% power at Holm's 0.05 / 4-5: 10 see
# the train-size gap to 1.0 pp, a width's effect to 0.59-0.80 pp, dropout's gain with width 1.46 pp.
# Run: 10 detect 1.6-2.8 pp in train-size (at lr 0.1 its seeds vary more than the plan's) and
# 1.6-7.5 pp in width (runs at widths 64 and 1024 collapse late at lr 0.5; 2 of 30 diverged).
PLANNED_SEEDS = tuple(range(10))


def rate_label(p1: float, p2: float) -> str:
    return f"p={p1:g}/{p2:g}"


def subset_label(examples: int, dropout: bool) -> str:
    return f"{examples:,} examples, {'dropout' if dropout else 'none'}"


def subset_arm(examples: int, dropout: bool, **changes: int) -> dict:
    """A train-size setting: the first examples only, at the study's learning rate."""
    return {**(CHAPTER if dropout else NO_DROPOUT), "train_subset": examples, "lr": SUBSET_LR, **changes}


def width_label(width: int, dropout: bool) -> str:
    return f"width {width}, {'dropout' if dropout else 'none'}"


MODEST = [rate_label(a, b) for a in RATE_GRID[:3] for b in RATE_GRID[:3]]  # both rates <= 0.5
HIGH = [rate_label(a, b) for a in RATE_GRID for b in RATE_GRID if 0.9 in (a, b)]
DROPCONNECT = (
    "DropConnect here is the per-batch variant: one Bernoulli mask per weight for each batch, shared "
    "by its 256 examples, with inverted scaling and the mean weights at test time; Wan et al. 2013 draw "
    "a mask per example (batch x weights a step, not built here) and infer by moment matching."
)

STUDIES = {
    study.name: study
    for study in (
        Study(
            "rates",
            "test accuracy over a grid of the two dropout rates, a heat map per port",
            {rate_label(a, b): {"dropouts": (a, b)} for a in RATE_GRID for b in RATE_GRID},
            {rate_label(a, b): {"dropouts": (a, b)} for a, b in ((0, 0), (0.2, 0.5), (0.5, 0.2), (0.5, 0.5))},
            tests=(
                versus("The rates swapped: 0.2/0.5 against 0.5/0.2", "p=0.2/0.5", "p=0.5/0.2"),
                SettingsTest("The 9 settings with both rates at most 0.5", tuple(MODEST)),
                Contrast(
                    "A rate of 0.9 (7 settings) against both at most 0.5 (9 settings)",
                    tuple((s, "test_acc", 1 / len(HIGH)) for s in HIGH)
                    + tuple((s, "test_acc", -1 / len(MODEST)) for s in MODEST),
                ),
            ),
        ),
        Study(
            "no-dropout",
            "the gap between train and test accuracy over 30 epochs, with the chapter's rates and without",
            {"dropout 0.2/0.5": CHAPTER, "no dropout": NO_DROPOUT},
            epochs=30,
            probe="train-set-fit",
            tests=(
                versus(
                    "Dropout against none: test accuracy, a diverged run behind",
                    "dropout 0.2/0.5",
                    "no dropout",
                    test="sign",
                ),
                versus(
                    "Dropout against none: train - test gap",
                    "dropout 0.2/0.5",
                    "no dropout",
                    "train_eval_acc-test_acc",
                ),
            ),
        ),
        Study(
            "train-size",
            "dropout against none on training subsets of 1,000 and 5,000 examples (Srivastava et al. "
            "2014, sec. 7.4), about 1,200 steps each",
            {
                subset_label(n, on): subset_arm(n, on, epochs=epochs)
                for n, epochs in SUBSETS.items()
                for on in (1, 0)
            },
            {subset_label(n, on): subset_arm(n, on) for n in SUBSETS for on in (True, False)},
            probe="train-set-fit",
            seeds=PLANNED_SEEDS,
            tests=(
                *(
                    versus(
                        f"Dropout against none, {n:,} examples: test accuracy",
                        subset_label(n, True),
                        subset_label(n, False),
                    )
                    for n in SUBSETS
                ),
                *(
                    versus(
                        f"Dropout against none, {n:,} examples: train - test gap",
                        subset_label(n, True),
                        subset_label(n, False),
                        "train_eval_acc-test_acc",
                    )
                    for n in SUBSETS
                ),
                difference_of_differences(
                    "Dropout's gain, 1,000 examples against 5,000",
                    *(subset_label(n, on) for n in SUBSETS for on in (True, False)),
                ),
            ),
        ),
        Study(
            "width",
            "dropout against none at hidden widths 64, 256 and 1024: does dropout's effect grow with width?",
            {
                width_label(w, on): {**(CHAPTER if on else NO_DROPOUT), "num_hiddens": (w, w)}
                for w in WIDTHS
                for on in (True, False)
            },
            {
                width_label(w, on): {**(CHAPTER if on else NO_DROPOUT), "num_hiddens": (w, w)}
                for w in (64, 1024)
                for on in (True, False)
            },
            tests=(
                *(
                    versus(f"Dropout against none, width {w}", width_label(w, True), width_label(w, False))
                    for w in WIDTHS
                ),
                difference_of_differences(
                    "Dropout's gain, width 1024 against 64",
                    *(width_label(w, on) for w in (1024, 64) for on in (True, False)),
                ),
            ),
            seeds=PLANNED_SEEDS,
        ),
        Study(
            "activations",
            "the variance of each hidden layer's output over training, with dropout and without, "
            "in training and evaluation mode",
            {"dropout 0.2/0.5": CHAPTER, "no dropout": NO_DROPOUT},
            probe="activation-variance",
            tests=tuple(
                versus(
                    f"Variance of h{layer} in evaluation mode, dropout against none",
                    "dropout 0.2/0.5",
                    "no dropout",
                    f"act_eval_var_{layer}",
                )
                for layer in (1, 2)
            ),
        ),
        Study(
            "mc-dropout",
            "dropout off at test time against the mean of T = 1, 10, 100 noisy passes: accuracy, NLL, ECE",
            {"dropout 0.2/0.5": CHAPTER},
            variants=FRAMEWORK_LAYERS,
            probe="mc-dropout",
            tests=tuple(
                versus(
                    f"{label} against dropout off: {name}",
                    "dropout 0.2/0.5",
                    "dropout 0.2/0.5",
                    f"mc.{samples}.{key}|mc.0.{key}",
                )
                for label, samples, key, name in (
                    ("T = 100", 100, "accuracy", "accuracy"),
                    ("T = 100", 100, "loss", "NLL"),
                    ("T = 1", 1, "accuracy", "accuracy"),
                )
            ),
        ),
        Study(
            "weight-decay",
            "dropout, weight decay, both and neither",
            {
                "dropout": CHAPTER,
                "weight decay": {**NO_DROPOUT, "weight_decay": WEIGHT_DECAY},
                "both": {**CHAPTER, "weight_decay": WEIGHT_DECAY},
                "neither": NO_DROPOUT,
            },
            variants=FRAMEWORK_LAYERS,
            tests=(
                versus("Dropout against neither", "dropout", "neither"),
                versus("Weight decay against neither", "weight decay", "neither"),
                difference_of_differences(
                    "Additivity: both - dropout - weight decay + neither",
                    "both",
                    "dropout",
                    "weight decay",
                    "neither",
                ),
            ),
        ),
        Study(
            "noise",
            "Bernoulli dropout, Gaussian multiplicative noise and DropConnect at the chapter's rates",
            {noise: {"noise": noise} for noise in ("bernoulli", "gaussian", "dropconnect")},
            tests=(
                versus("Gaussian against Bernoulli", "gaussian", "bernoulli"),
                versus("DropConnect (per batch) against Bernoulli", "dropconnect", "bernoulli"),
            ),
            note=DROPCONNECT,
        ),
        Study(
            "precision",
            "float32, bfloat16 and float64: accuracy and epoch time per port",
            {dtype: {"dtype": dtype} for dtype in ("float32", "bfloat16", "float64")},
            tests=(
                versus("Training in bfloat16 against float32", "bfloat16", "float32"),
                versus("Training in float64 against float32", "float64", "float32"),
            ),
            timed=True,
        ),
        Study(
            "compiled",
            "eager against compiled (torch.compile, JAX's jit): compile time and epoch time",
            {"chapter": {}},
            variants=("scratch", "compiled", "builtin", "nnx"),
            timed=True,
        ),
        Study(
            "data-parallel",
            "the same run on 1, 2 and 4 replicas, masks keyed by example, by seed + rank, or one seed "
            "on every replica (the common bug): mask agreement, test accuracy, train-test gap",
            data_parallel.arms(quick=False),
            data_parallel.arms(quick=True),
            tests=data_parallel.tests(),
            variants=("scratch", "builtin"),
            seeds=(0, 1, 2, 3, 4),
            probe="train-set-fit",
        ),
    )
}


def get_study(name: str) -> Study:
    try:
        return STUDIES[name]
    except KeyError:
        raise ValueError(f"unknown study {name!r}; studies: {', '.join(STUDIES)}") from None


def study_base(study: Study, base: Config, quick: bool) -> Config:
    """The configuration every setting starts from: the command's, with the study's epochs."""
    return base.replace(epochs=QUICK_EPOCHS if quick else study.epochs)


def plan_study(
    study: Study, names: Sequence[str], seeds: Sequence[int], base: Config, quick: bool, device: str = "cpu"
) -> tuple[list[RunKey], list[str]]:
    """Every (backend, variant, seed, setting) a port can train on device, seed by seed; and a line
    for each (backend, variant, setting) left out, saying why (bfloat16 in NumPy, say)."""
    plan, skipped = [], []
    arms = study.arms(quick)
    for seed in seeds:
        for setting, changes in arms.items():
            for name in names:
                trainer = get_backend(name).Trainer
                for variant in (v for v in study.variants if v in trainer.VARIANTS):
                    try:
                        trainer.check_support(base.replace(seed=seed, **changes), variant, device)
                    except ValueError as err:
                        if seed == seeds[0]:
                            skipped.append(f"{name}/{variant} at {setting}: {err}")
                        continue
                    plan.append((name, variant, seed, setting))
    return plan, skipped
