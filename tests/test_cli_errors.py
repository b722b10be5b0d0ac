"""Bad input to every command is one clear line on stderr and exit status 2, never a traceback:
main() called in this process (a raised exception fails the test), so each case costs no start-up
of the frameworks; tests/test_cli.py checks one case through the console script."""

from __future__ import annotations

import pytest

from dropout_ports.benchmarks.cli.main import main


def run_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """main(args)'s exit status (argparse's included) and what it wrote to stderr."""
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--backend", "numpy", "--lr", "-1", "--data-source", "synthetic"], "lr must be"),
        (
            ["train", "--backend", "numpy", "--variant", "builtin", "--data-source", "synthetic"],
            "unknown variant",
        ),
        (["train", "--backend", "numpy", "--variant", "concise"], "invalid choice: 'concise'"),
        (["compare", "--seed", "7"], "unrecognized arguments: --seed"),
        (["info", "--data-source", "tfds"], "unrecognized arguments: --data-source"),
        (["compare", "--seeds", "0", "-1"], "seed must be in [0, 2^32)"),
        (["compare", "--seeds", str(2**32)], "seed must be in [0, 2^32)"),
        (["compare", "--seeds", "0", "0"], "repeats [0]"),
        (["compare", "--backends", "numpy", "numpy"], "repeats ['numpy']"),
        (["compare", "--backends", "mxnet"], "port 'mxnet': no module named 'mxnet'"),
        (["compare", "--margin", "0"], "--margin must be"),
        (["compare", "--inline", "--threads", "2"], "not --inline"),
        (["compare", "--inline", "--jobs", "2"], "not allowed with argument --inline"),
        (["compare", "--jobs", "0"], "--jobs must be positive"),
        (["compare", "--weight-decay", "-1"], "weight_decay must be"),
        (["compare", "--dropouts", "0.2"], "one dropout rate per hidden layer"),
        (["compare", "--noise", "gaussian", "--dropouts", "0.5", "1"], "gaussian noise needs rates below 1"),
        (["compare", "--mc-samples", "-2"], "mc_samples must be"),
        (["compare", "--data-dir", "/nonexistent/fashion"], "not found (looked in /nonexistent/fashion)"),
        (
            ["compare", "--backends", "numpy", "--out", "/proc/no/such/folder"],
            "cannot write to the output folder",
        ),
        (["train", "--backend", "numpy", "--device", "gpu", "--data-source", "synthetic"], "one device"),
        (["report", "/nonexistent"], "neither results.json nor bench.json"),
        (["compare", "--backends", "numpy", "--device", "gpu", "--data-source", "synthetic"], "one device"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, capsys):
    code, stderr = run_main(capsys, *args)
    assert code == 2 and message in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["study"], "name a study"),
        (["study", "nope"], "invalid choice"),
        (["study", "rates", "--quick", "--backends", "numpy", "--seeds", "0", "0"], "repeats"),
    ],
)
def test_bad_study_input_is_one_clear_line(args, message, capsys):
    code, stderr = run_main(capsys, *args)
    assert code == 2 and message in stderr
