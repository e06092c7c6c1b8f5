"""Ranking metrics (AUROC, average precision) with optional per-sample weights.

Weights make the per-video bootstrap cheap: resampling videos with replacement is the same as
weighting every row by the number of times its video was drawn (see :mod:`riskvision.evaluation.bootstrap`).
Both functions agree with ``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` (with
``sample_weight``), ties included; they return ``nan`` where a class is absent instead of raising.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Ranking", "auroc", "average_precision", "tied_counts"]


class Ranking:
    """Scores sorted ONCE (highest first, ties grouped), then AUROC / AP under any per-row weights.

    A per-video bootstrap evaluates the same scores under 1,000 weightings; sorting once and only re-weighting
    turns each resample into a gather and a few sums over the rows (no ``argsort``). Every value is bitwise the
    one :func:`auroc` / :func:`average_precision` computed by re-sorting (the same order, the same sums).

    Args:
        scores: ``[N]`` scores (higher = more positive).
        labels: ``[N]`` bool (or 0/1) labels.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=float)
        self.order = np.argsort(-scores, kind="mergesort")
        sorted_scores = scores[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
        self.positive = np.asarray(labels).astype(bool)[self.order]
        self.negative = ~self.positive
        self.ties = len(self.starts) < len(scores)

    def counts(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Weighted positive and negative counts per distinct score, highest score first: ``(pos, neg)``
        (``weights`` ``[N]``, ``None``: all 1)."""
        if len(self.order) == 0:
            return np.zeros(0), np.zeros(0)
        ordered = np.ones(len(self.order)) if weights is None else np.asarray(weights, dtype=float)[self.order]
        pos, neg = ordered * self.positive, ordered * self.negative
        if self.ties:
            return np.add.reduceat(pos, self.starts), np.add.reduceat(neg, self.starts)
        return pos, neg

    def auroc(self, weights: np.ndarray | None = None) -> float:
        """:func:`auroc` of the scores under ``weights``."""
        return _auroc_of_counts(*self.counts(weights))

    def average_precision(self, weights: np.ndarray | None = None) -> float:
        """:func:`average_precision` of the scores under ``weights``."""
        return _average_precision_of_counts(*self.counts(weights))


def tied_counts(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positive and negative counts per distinct score, highest score first: ``(pos, neg)``."""
    return Ranking(scores, labels).counts(weights)


def auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties
    counting 1/2, each sample counted ``weight`` times. Unitless, in [0, 1]; ``nan`` without both classes.

    ``AUROC = sum_g pos_g * (neg_below_g + neg_g / 2) / (P * N)`` over groups ``g`` of tied scores.
    """
    return Ranking(scores, labels).auroc(weights)


def average_precision(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Average precision (sklearn's definition, no interpolation): ``AP = sum_k (R_k - R_{k-1}) P_k``
    with precision ``P_k`` and recall ``R_k`` at the k-th distinct score as threshold (``score >= t``),
    thresholds descending, ``R_0 = 0``. Unitless, in [0, 1]; ``nan`` without positives.
    """
    return Ranking(scores, labels).average_precision(weights)


def _auroc_of_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    neg_below = total_neg - np.cumsum(neg)
    return float(np.sum(pos * (neg_below + neg / 2)) / (total_pos * total_neg))


def _average_precision_of_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    if pos.sum() <= 0:
        return float("nan")
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
