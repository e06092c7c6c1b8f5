"""Calibration of P(crash): Brier score, expected calibration error and reliability-diagram data."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["brier_score", "expected_calibration_error", "reliability_table"]


def brier_score(p_positive: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Binary Brier score ``mean((p - y)^2)`` of probabilities ``p`` against 0/1 labels ``y``, each row counted
    ``weights`` times (``None``: once; a bootstrap resample's draw counts); in [0, 1], lower is better (0.25 for a
    constant 0.5); ``nan`` for no rows or weights summing to 0."""
    p = np.asarray(p_positive, dtype=float)
    squared = (p - np.asarray(labels, dtype=float)) ** 2
    if weights is None:
        return float(np.mean(squared))
    weights = np.asarray(weights, dtype=float)
    return float(np.sum(weights * squared) / weights.sum()) if weights.sum() > 0 else float("nan")


def reliability_table(p_positive: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Reliability-diagram data: ``n_bins`` equal-width bins of ``p`` over [0, 1] (bin ``b`` holds
    ``b/n <= p < (b+1)/n``, the last bin also ``p = 1``); per bin ``lower``, ``upper``, ``count``,
    ``confidence`` (mean p) and ``frequency`` (fraction of positives); empty bins have ``nan`` means."""
    p = np.asarray(p_positive, dtype=float)
    y = np.asarray(labels, dtype=float)
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=p, minlength=n_bins) / count
        frequency = np.bincount(bins, weights=y, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": confidence, "frequency": frequency}
    )


def expected_calibration_error(p_positive: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE of P(positive) (Naeini et al. 2015; Guo et al. 2017 use the same 15 equal-width bins):
    ``ECE = sum_b (n_b / N) |frequency_b - confidence_b|`` over the bins of :func:`reliability_table`
    (empty bins contribute 0). In [0, 1], 0 = perfectly calibrated."""
    table = reliability_table(p_positive, labels, n_bins)
    used = table[table["count"] > 0]
    gaps = (used["frequency"] - used["confidence"]).abs()
    return float(np.sum(used["count"] * gaps) / max(int(table["count"].sum()), 1))
