"""Ranking metrics (AUROC, average precision) with optional per-sample weights.

Weights make the per-video bootstrap cheap: resampling videos with replacement is the same as
weighting every row by the number of times its video was drawn (see :mod:`.bootstrap`).
Both functions agree with ``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` (with
``sample_weight``), ties included; they return ``nan`` where a class is absent instead of raising.
"""

from __future__ import annotations

import numpy as np

__all__ = ["auroc", "average_precision", "tied_counts"]


def tied_counts(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positive and negative counts per distinct score, highest score first: ``(pos, neg)``."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(bool)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos = np.add.reduceat(weights[order] * labels[order], starts) if len(scores) else np.zeros(0)
    neg = np.add.reduceat(weights[order] * ~labels[order], starts) if len(scores) else np.zeros(0)
    return pos, neg


def auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties
    counting 1/2, each sample counted ``weight`` times. Unitless, in [0, 1]; ``nan`` without both classes.

    ``AUROC = sum_g pos_g * (neg_below_g + neg_g / 2) / (P * N)`` over groups ``g`` of tied scores.
    """
    pos, neg = tied_counts(scores, labels, weights)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    neg_below = total_neg - np.cumsum(neg)
    return float(np.sum(pos * (neg_below + neg / 2)) / (total_pos * total_neg))


def average_precision(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Average precision (sklearn's definition, no interpolation): ``AP = sum_k (R_k - R_{k-1}) P_k``
    with precision ``P_k`` and recall ``R_k`` at the k-th distinct score as threshold (``score >= t``),
    thresholds descending, ``R_0 = 0``. Unitless, in [0, 1]; ``nan`` without positives.
    """
    pos, neg = tied_counts(scores, labels, weights)
    if pos.sum() <= 0:
        return float("nan")
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
