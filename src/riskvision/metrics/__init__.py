"""Metric functions of scores against labels: numpy (pandas for the reliability table), no torch; the floor that
:mod:`riskvision.tasks` and :mod:`riskvision.evaluation` both read.

- :mod:`.ranking`: AUROC and average precision, with per-sample weights (the bootstrap's resampling);
- :mod:`.classification`: thresholded binary and K-class metrics (precision, recall, F1, accuracy, confusion);
- :mod:`.calibration`: Brier score, expected calibration error, the reliability table.
"""

from riskvision.metrics.calibration import brier_score, expected_calibration_error, reliability_table
from riskvision.metrics.classification import binary_metrics, confusion_matrix, multiclass_metrics, precision_recall_f1
from riskvision.metrics.ranking import Ranking, auroc, average_precision

__all__ = [
    "Ranking",
    "auroc",
    "average_precision",
    "binary_metrics",
    "brier_score",
    "confusion_matrix",
    "expected_calibration_error",
    "multiclass_metrics",
    "precision_recall_f1",
    "reliability_table",
]
