"""The chapter's open questions as studies: each a set of settings (Config changes), run in every
port over seeds through the run engine, answered by a table, figures and a sentence of numbers.

A study is data, not code: its settings, the variants it compares, the epochs, and the probe
that measures what the history lacks. ``--quick`` shrinks it (fewer settings and epochs, a
subset of the training set) so that every study runs in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from backends import get_backend
from benchmarks.results import RunKey
from common.config import Config

QUICK_EPOCHS = 3
QUICK_TRAIN_EXAMPLES = 10_000  # 117 steps: past the loss plateau of the first 50-60
CHAPTER = {"dropouts": (0.2, 0.5)}
NO_DROPOUT = {"dropouts": (0.0, 0.0)}
WEIGHT_DECAY = 5e-4  # lr x wd = 2.5e-4 shrinkage a step: a usual strength for an MLP this size
RATE_GRID = (0.0, 0.2, 0.5, 0.9)


@dataclass(frozen=True)
class Study:
    name: str
    question: str  # one line, for --list and the README
    settings: dict[str, dict]  # label -> Config changes, full study
    quick_settings: dict[str, dict] = field(default_factory=dict)  # default: the full ones
    variants: tuple[str, ...] = ("scratch",)  # of each port, where it has them
    epochs: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    probe: str = ""  # benchmarks.probes

    def arms(self, quick: bool) -> dict[str, dict]:
        return (self.quick_settings or self.settings) if quick else self.settings


def rate_label(p1: float, p2: float) -> str:
    return f"p={p1:g}/{p2:g}"


STUDIES = {
    study.name: study
    for study in (
        Study(
            "rates",
            "test accuracy over a grid of the two dropout rates, a heat map per port",
            {rate_label(a, b): {"dropouts": (a, b)} for a in RATE_GRID for b in RATE_GRID},
            {rate_label(a, b): {"dropouts": (a, b)} for a in (0.0, 0.5) for b in (0.0, 0.5)},
            seeds=(0, 1),
        ),
        Study(
            "no-dropout",
            "the gap between train and test accuracy over 30 epochs, with the chapter's rates and without",
            {"dropout 0.2/0.5": CHAPTER, "no dropout": NO_DROPOUT},
            epochs=30,
            probe="train-set-fit",
        ),
        Study(
            "activations",
            "the variance of each hidden layer's output over training, with dropout and without, "
            "in training and evaluation mode",
            {"dropout 0.2/0.5": CHAPTER, "no dropout": NO_DROPOUT},
            probe="activation-variance",
        ),
        Study(
            "mc-dropout",
            "dropout off at test time against the mean of T = 1, 10, 100 noisy passes: accuracy, NLL, ECE",
            {"dropout 0.2/0.5": CHAPTER},
            variants=("scratch", "builtin"),
            probe="mc-dropout",
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
            variants=("scratch", "builtin"),
        ),
        Study(
            "noise",
            "Bernoulli dropout, Gaussian multiplicative noise and DropConnect at the chapter's rates",
            {noise: {"noise": noise} for noise in ("bernoulli", "gaussian", "dropconnect")},
        ),
        Study(
            "precision",
            "float32, bfloat16 and float64: accuracy and epoch time per port",
            {dtype: {"dtype": dtype} for dtype in ("float32", "bfloat16", "float64")},
        ),
        Study(
            "compiled",
            "eager against compiled (torch.compile, JAX's jit): compile time and epoch time",
            {"chapter": {}},
            variants=("scratch", "compiled", "builtin"),
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
    study: Study, names: Sequence[str], seeds: Sequence[int], base: Config, quick: bool
) -> tuple[list[RunKey], list[str]]:
    """Every (backend, variant, seed, setting) a port can train, seed by seed; and a line for
    each (backend, variant, setting) left out, saying why (bfloat16 in NumPy, say)."""
    plan, skipped = [], []
    arms = study.arms(quick)
    for seed in seeds:
        for setting, changes in arms.items():
            for name in names:
                trainer = get_backend(name).Trainer
                for variant in (v for v in study.variants if v in trainer.VARIANTS):
                    try:
                        trainer.check_support(base.replace(seed=seed, **changes), variant)
                    except ValueError as err:
                        if seed == seeds[0]:
                            skipped.append(f"{name}/{variant} at {setting}: {err}")
                        continue
                    plan.append((name, variant, seed, setting))
    return plan, skipped


def describe(study: Study, quick: bool) -> dict:
    """What a study's folder records about it, and --resume checks."""
    return {
        "name": study.name,
        "question": study.question,
        "quick": quick,
        "arms": study.arms(quick),
        "probe": study.probe,
    }
