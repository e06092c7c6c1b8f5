"""Evaluation: metric functions on prediction tables, shortcut probes, the prediction writer and the
comparison report. Evaluation reads batches and prediction tables only, never the data layer's files.

The metric modules (numpy/pandas only) are imported here; :mod:`.predict` (torch) and :mod:`.report`
(matplotlib) are imported explicitly by the scripts that need them.
"""

from riskvision.evaluation.anticipation import VideoScores, anticipation_metrics, frame_auc, frame_auc_minmax
from riskvision.evaluation.bootstrap import Interval, bootstrap_ci, paired_bootstrap_diff
from riskvision.evaluation.deployment import deployment_metrics
from riskvision.evaluation.nexar import nexar_metrics, write_submission
from riskvision.evaluation.summary import RunInfo, compute_metrics
from riskvision.evaluation.table import make_table, read_predictions, write_predictions
from riskvision.metrics.calibration import brier_score, expected_calibration_error, reliability_table
from riskvision.metrics.classification import binary_metrics, multiclass_metrics
from riskvision.metrics.ranking import auroc, average_precision

__all__ = [
    "Interval",
    "RunInfo",
    "VideoScores",
    "anticipation_metrics",
    "auroc",
    "average_precision",
    "binary_metrics",
    "bootstrap_ci",
    "brier_score",
    "compute_metrics",
    "deployment_metrics",
    "expected_calibration_error",
    "frame_auc",
    "frame_auc_minmax",
    "make_table",
    "multiclass_metrics",
    "nexar_metrics",
    "paired_bootstrap_diff",
    "read_predictions",
    "reliability_table",
    "write_predictions",
    "write_submission",
]
