"""What a study is made of, as data: its settings (Config changes), and the tests that answer its
exercise, paired comparisons of settings (Contrast) or settings as treatments (SettingsTest);
studies.analysis runs them, and studies.catalogue lists the studies."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Contrast:
    """A paired comparison over (port, seed): the sum of weight x figure over its terms, each a
    (setting, figure, weight); a figure is a key of the last history row ("test_acc"), a
    difference of two ("train_eval_acc-test_acc"), or a path into it ("mc.100.accuracy").
    test "t": Student's paired t over the pairs that finished; "sign": a sign test of two settings
    in which a diverged run counts as behind (divergence is an outcome, not a gap)."""

    what: str
    terms: tuple[tuple[str, str, float], ...]
    test: str = "t"


@dataclass(frozen=True)
class SettingsTest:
    """A blocked permutation test of settings as treatments, each (port, seed) a block."""

    what: str
    settings: tuple[str, ...]
    figure: str = "test_acc"


def versus(what: str, a: str, b: str, figure: str = "test_acc", test: str = "t") -> Contrast:
    """Setting a against setting b (or, with figures "x|y", figure x against y in setting a)."""
    fa, _, fb = figure.partition("|")
    return Contrast(what, ((a, fa, 1.0), (b, fb or fa, -1.0)), test)


def difference_of_differences(what: str, a: str, b: str, c: str, d: str) -> Contrast:
    """(a - b) - (c - d): does an effect change from one setting pair to another (interaction)."""
    return Contrast(
        what, ((a, "test_acc", 1.0), (b, "test_acc", -1.0), (c, "test_acc", -1.0), (d, "test_acc", 1.0))
    )


@dataclass(frozen=True)
class Study:
    name: str
    question: str  # one line, for --list and the README
    settings: dict[str, dict]  # label -> Config changes, full study
    quick_settings: dict[str, dict] = field(default_factory=dict)  # default: the full ones
    variants: tuple[str, ...] = ("scratch",)  # of each port, where it has them
    epochs: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    probe: str = ""  # dropout_ports.benchmarks.runs.probes
    tests: tuple[Contrast | SettingsTest, ...] = ()  # the exercise's own tests, beside the ports'
    note: str = ""  # what the finding must also say (a variant named, say)
    timed: bool = False  # epoch time is what it measures: a time figure across ports

    def arms(self, quick: bool) -> dict[str, dict]:
        return (self.quick_settings or self.settings) if quick else self.settings

    def describe(self, quick: bool) -> dict:
        """What a study's folder records about it, and --resume checks."""
        return {"name": self.name, "question": self.question, "quick": quick, "arms": self.arms(quick),
                "probe": self.probe}  # fmt: skip
