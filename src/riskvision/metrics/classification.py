"""Thresholded and ranking metrics of the two tasks (binary and K-class decisions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from riskvision.metrics.ranking import auroc, average_precision

__all__ = ["binary_metrics", "confusion_matrix", "multiclass_metrics", "precision_recall_f1"]


def precision_recall_f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``, ``F1 = 2 P R / (P + R)``; each 0 when
    its denominator is 0 (sklearn's ``zero_division=0``)."""
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``C[i, j]`` = number of samples with true class ``i`` predicted as ``j`` (int, ``[K, K]``)."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(labels, dtype=int), np.asarray(predictions, dtype=int)), 1)
    return matrix


def binary_metrics(p_positive: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Binary metrics of probabilities ``p_positive`` against 0/1 ``labels``.

    Decision: positive iff ``p >= threshold``. Returns precision, recall, F1 and accuracy
    (``(TP + TN) / N``) of those decisions, threshold-free AUROC and AP (:mod:`.ranking`), the
    ``threshold`` itself and the confusion counts ``tp``, ``fp``, ``tn``, ``fn``. Unitless.
    """
    p = np.asarray(p_positive, dtype=float)
    y = np.asarray(labels).astype(bool)
    decided = p >= threshold
    tp, fp = int(np.sum(decided & y)), int(np.sum(decided & ~y))
    fn, tn = int(np.sum(~decided & y)), int(np.sum(~decided & ~y))
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / max(len(y), 1),
        "auroc": auroc(p, y),
        "ap": average_precision(p, y),
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def multiclass_metrics(probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, object]:
    """K-class metrics of probabilities ``probs`` ``[N, K]`` against integer ``labels``; decision = argmax.

    Per class ``c`` (one-vs-rest): precision, recall, F1 (:func:`precision_recall_f1`);
    ``f1_macro`` = unweighted mean of the K per-class F1 (classes absent from labels and predictions
    count with F1 0, like sklearn's ``zero_division=0``); ``accuracy`` = fraction of argmax == label;
    ``confusion_matrix`` as nested lists (rows true, columns predicted). Unitless.
    """
    y = np.asarray(labels, dtype=int)
    predicted = np.asarray(probs).argmax(axis=1)
    matrix = confusion_matrix(y, predicted, len(class_names))
    out: dict[str, object] = {}
    f1s = []
    for k, name in enumerate(class_names):
        tp = matrix[k, k]
        precision, recall, f1 = precision_recall_f1(tp, matrix[:, k].sum() - tp, matrix[k, :].sum() - tp)
        out.update({f"precision_{name}": precision, f"recall_{name}": recall, f"f1_{name}": f1})
        f1s.append(f1)
    out["f1_macro"] = float(np.mean(f1s))
    out["accuracy"] = float(np.mean(predicted == y)) if len(y) else float("nan")
    out["confusion_matrix"] = matrix.tolist()
    return out
