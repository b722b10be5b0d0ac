"""Evaluation figures every port shares: NLL, accuracy, ECE, and the MC mean."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_ports.common.calibration import expected_calibration_error, log_mean_exp, summarize


def test_ece_is_zero_when_confidence_is_accuracy_and_large_when_overconfident():
    rng = np.random.default_rng(0)
    n = 100_000
    confidence = rng.uniform(0.55, 0.95, n)
    labels = np.zeros(n, int)
    correct = rng.random(n) < confidence  # right exactly as often as it is confident
    probs = np.where(correct[:, None], [1.0, 0.0], [0.0, 1.0]) * confidence[:, None] + np.where(
        correct[:, None], [0.0, 1.0], [1.0, 0.0]
    ) * (1 - confidence[:, None])
    assert expected_calibration_error(probs, labels) < 0.01
    sure = np.tile([0.99, 0.01], (n, 1))
    coin = (rng.random(n) < 0.5).astype(int)
    assert expected_calibration_error(sure, coin) == pytest.approx(0.49, abs=0.01)


def test_log_mean_exp_is_the_log_of_the_mean_probability():
    probs = np.random.default_rng(1).dirichlet(np.ones(10), size=(5, 7))
    np.testing.assert_allclose(log_mean_exp(np.log(probs)), np.log(probs.mean(axis=0)), rtol=1e-12)


def test_summarize_gives_nll_accuracy_and_ece():
    log_probs = np.log([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    figures = summarize(log_probs, np.array([0, 1, 1]))
    assert figures["loss"] == pytest.approx(-(np.log(0.7) + np.log(0.8) + np.log(0.4)) / 3)
    assert figures["accuracy"] == pytest.approx(2 / 3) and 0 <= figures["ece"] <= 1


def test_a_diverged_prediction_gives_nan_figures_not_an_error():
    figures = summarize(np.full((3, 2), np.nan), np.array([0, 1, 1]))
    assert np.isnan(figures["loss"]) and np.isnan(figures["ece"])
