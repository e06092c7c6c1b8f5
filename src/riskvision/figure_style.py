"""The one visual style of riskvision's figures: compare.py's report (``riskvision.evaluation.report``) and
predict_video's timelines (``riskvision.inference.outputs``) draw spans, thresholds and grids with these
matplotlib keyword sets. Plain dicts only: nothing here imports matplotlib."""

from __future__ import annotations

__all__ = ["ANOMALY_SPAN", "GRID", "THRESHOLD_LINE", "THRESHOLD_OFF_LINE", "WARNING_SPAN"]

#: The annotated anomaly span (``ax.axvspan``): grey.
ANOMALY_SPAN = {"color": "0.6", "alpha": 0.25, "lw": 0}
#: The warning horizon before it (the Warning frames): orange.
WARNING_SPAN = {"color": "orange", "alpha": 0.18, "lw": 0}
#: A decision threshold (``ax.axhline``), or an alarm's on threshold: dashed dark grey.
THRESHOLD_LINE = {"color": "0.3", "ls": "--", "lw": 1}
#: An alarm's off threshold (hysteresis): dotted dark grey.
THRESHOLD_OFF_LINE = {"color": "0.3", "ls": ":", "lw": 1}
#: The background grid (``ax.grid``).
GRID = {"alpha": 0.3}
