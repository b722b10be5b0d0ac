"""bench.md's sections on how far its speed figures can be trusted: what the floors are, the
ratios between ports over the rounds, where each epoch's time goes, and how busy the machine was.
A document from before bench measured one of them says so: "not measured in this run"."""

from __future__ import annotations

from dropout_ports.benchmarks.results.tables import Column, markdown_table
from dropout_ports.benchmarks.results.throughput import (
    BUSY_OTHERS,
    distrusted,
    is_busy,
    load_summary,
    spread_text,
    with_shares,
)
from dropout_ports.benchmarks.suites import breakdown
from dropout_ports.benchmarks.suites.contenders import TINY_WIDTH

BREAKDOWN_FIGURE = "bench-breakdown.png"
NOT_MEASURED = "not measured in this run"


def floor_words(train: dict) -> str:
    """What "of own GEMM" is over in this document, and what a share above 100% means."""
    distrust = "A share over 100% is printed as measured and flagged: a floor the epoch beats is not a floor."
    if not train.get("rounds"):
        return (
            f"Floors beside the epochs, rounds and load: {NOT_MEASURED} (made before bench measured them); "
            '"of own GEMM" is over the yardstick measured before the epochs, in a process of its own. '
            + distrust
        )
    form = (
        f"{train['floor_steps']} steps of them in one call of the framework's own loop (outputs preallocated "
        "where its matmul takes out=, else its compiler's loop: no call's cost in the floor)"
        if "floor_steps" in train
        else "one training step's, outputs preallocated where its matmul takes out=, else compiled as one "
        "program (a call at a time, so the call's cost is in the floor)"
    )
    return (
        f"Each epoch is the median of {train['rounds']} rounds, the ports taking theirs in turn, and "
        "each epoch comes right after a burst of its floor: the framework's own matmuls at the MLP's "
        f'shapes, {form}; "floor GFLOP/s (beside)" is their median, "of own GEMM" the epoch\'s rate '
        "over it. " + distrust
    )


SPEED_COLUMNS: list[Column] = [
    ("loop", lambda r: r["loop"]),
    ("port", lambda r: r["port"]),
    ("epoch s (median)", lambda r: f"{r['epoch_s']:.3f}"),
    ("x the fastest (median [min, max])", spread_text),
    ("over the rounds", lambda r: r["verdict"]),
]


def speed_section(train: dict) -> list[str]:
    """Each epoch against the fastest in its loop, round by round."""
    head = "## Speed (each epoch against the fastest in its loop, round by round)"
    if not train.get("speed"):
        return [head, "", f"Ratios over rounds: {NOT_MEASURED}.", ""]
    return [
        head,
        "",
        markdown_table(train["speed"], SPEED_COLUMNS),
        "",
        f"Over {train['rounds']} rounds, every port in turn: a port is called slower only where every "
        'round agrees; "within noise" where the rounds disagree.',
        "",
    ]


def breakdown_section(train: dict, figure: str | None = BREAKDOWN_FIGURE) -> list[str]:
    """The breakdown table and its figure (a path from the page it is on; None: the table alone),
    and what each part is."""
    head = "## Where the time goes (seconds per epoch, and share of the epoch)"
    if not train.get("breakdown"):
        return [head, "", f"The breakdown by ablation: {NOT_MEASURED}.", ""]
    return [
        head,
        "",
        markdown_table(train["breakdown"], breakdown.COLUMNS),
        "",
        *([f"![Where each epoch's time goes]({figure})", ""] if figure else []),
        "By ablation in each port's own process, medians over the rounds, each variant in its own loop: "
        "matmuls, the floor (the median of the process's floor bursts) times the epoch's batches; "
        "dropout, the epoch less the same epoch with every rate 0; optimizer update, w - lr * g over "
        "the parameters alone (in the framework's loop, as the floor), these two each less the same "
        f"call at width {TINY_WIDTH} (a call's own cost); per-step overhead, the same "
        f"steps at hidden widths of {TINY_WIDTH}; the rest of forward and backward, what the "
        "rates-0 epoch leaves. The last column is the share the four measured apart account for: over "
        f"{1 + breakdown.TOLERANCE:.0%}, the split is flagged.",
        "",
    ]


def load_words(summary: dict) -> str:
    """One load_summary in words."""
    others = summary["others_cores"]
    text = f"load average up to {summary['max_load1']:.1f} on {summary['cores']} cores"
    if others is not None:
        text += f"; other processes kept {others:.2f} cores busy on average"
    return text + (": BUSY, distrust these timings" if is_busy(summary) else "")


def load_section(doc: dict) -> list[str]:
    """The machine's load around each suite and each timed part of the epochs and the dropout op."""
    head = "## Machine load (before and after every timed part)"
    if "load" not in doc:
        return [head, "", f"The machine's load: {NOT_MEASURED}.", ""]
    cores = doc["environment"]["cores"]
    lines = [head, ""]
    for suite, load in doc["load"].items():
        lines.append(f"- {suite}: {load_words(load_summary([{'load': load}], cores))}")
    lines.append(f"- training epochs, each timed part: {load_words(doc['training']['load'])}")
    timed = [row for row in doc["dropout"] if "load" in row]
    if timed:
        lines.append(f"- dropout op, each size's rounds: {load_words(load_summary(timed, cores))}")
    return [
        *lines,
        "",
        "Load average: the kernel's 1-minute figure (this run's own threads count in it); other "
        f"processes' CPU: /proc/stat less this process's own. Busy: other processes holding more than "
        f"{BUSY_OTHERS} of a core on average (where /proc/stat cannot be read, the load average above "
        "the cores, which this run's own threads can reach alone).",
        "",
    ]


def distrust_lines(doc: dict) -> list[str]:
    """A line at the head of bench.md when a figure is to distrust: an epoch that beat its floor, a
    suite that ran on a busy machine; none when the run gives no reason."""
    train, cores = doc["training"], doc["environment"]["cores"]
    rows = with_shares(train["rows"], train["yardsticks"])
    beaten = [f"{r['backend']}/{r['variant']} ({r.get('loop') or 'n/a'})" for r in rows
              if distrusted(r.get("of_own_gemm"))]  # fmt: skip
    loads = doc.get("load", {})
    busy = [suite for suite, load in loads.items() if load_summary([{"load": load}], cores)["busy"]]
    reasons = (("epochs faster than their floor", beaten), ("a busy machine during", busy))
    said = [f"{label}: {', '.join(names)}" for label, names in reasons if names]
    return [f"**Measurements to distrust:** {'; '.join(said)}.", ""] if said else []
