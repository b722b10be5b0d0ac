"""Evaluation figures from log-probabilities, the same for every port: NLL, accuracy, and the
expected calibration error; and the mean over Monte Carlo passes (MC dropout)."""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def log_mean_exp(log_probs: np.ndarray) -> np.ndarray:
    """log of the mean over axis 0 of exp(log_probs): the MC prediction, computed stably."""
    return np.logaddexp.reduce(log_probs, axis=0) - np.log(len(log_probs))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, list]:
    """Per equal-width confidence bin: its count, its accuracy and its mean confidence (None
    where empty): the points of a reliability diagram."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    hits, confidence_sum = np.bincount(which, correct, bins), np.bincount(which, confidence, bins)
    filled = counts > 0
    return {
        "count": counts.tolist(),
        "accuracy": [float(h / c) if f else None for h, c, f in zip(hits, counts, filled, strict=True)],
        "confidence": [
            float(s / c) if f else None for s, c, f in zip(confidence_sum, counts, filled, strict=True)
        ],
    }


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins of (share of examples) x |accuracy - mean confidence|;
    NaN for predictions that are not finite (a diverged run)."""
    if not np.isfinite(probs).all():
        return float("nan")
    table = reliability(probs, labels, bins)
    gaps = [
        n * abs(a - c)
        for n, a, c in zip(table["count"], table["accuracy"], table["confidence"], strict=True)
        if n
    ]
    return float(sum(gaps) / len(labels))


def summarize(log_probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """loss (mean negative log-likelihood), accuracy and ece of predictions for labels."""
    log_probs = np.asarray(log_probs, np.float64)
    return {
        "loss": float(-log_probs[np.arange(len(labels)), labels].mean()),
        "accuracy": float(np.mean(log_probs.argmax(axis=1) == labels)),
        "ece": expected_calibration_error(np.exp(log_probs), labels),
    }
