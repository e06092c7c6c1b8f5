"""Per-frame metrics of crash videos: DoTA's frame-level AUC and UString/DSTA accident anticipation.

A "per-frame score" is P(crash) of the window that ENDS at that frame (it sees that frame and the
ones before it, nothing after). Frame indices are target-rate indices; seconds are ``index / fps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from riskvision.evaluation.ranking import auroc

__all__ = ["AnticipationCurve", "VideoScores", "anticipation_curve", "anticipation_metrics", "frame_auc", "ustring_thresholds"]


@dataclass(frozen=True)
class VideoScores:
    """Per-frame scores of one video: ``frames`` (ascending target-rate indices) and ``scores`` (same
    length), its video-level ``crash`` label, anomaly span ``[anomaly_start, anomaly_end)`` (-1: none)
    and frame rate ``fps``."""

    frames: np.ndarray
    scores: np.ndarray
    crash: bool
    anomaly_start: int
    anomaly_end: int
    fps: float

    @property
    def has_span(self) -> bool:
        """A crash video with an annotated anomaly span (frame AUC and anticipation need one)."""
        return self.crash and self.anomaly_start >= 0


def frame_auc(videos: Sequence[VideoScores]) -> float:
    """DoTA's frame-level AUC: the AUROC of per-frame scores pooled over every frame of every crash video
    with an anomaly span, a frame being positive iff ``anomaly_start <= frame < anomaly_end``.
    Normal videos take no part. Unitless in [0, 1]; ``nan`` if no frame of either class."""
    crash = [v for v in videos if v.has_span]
    if not crash:
        return float("nan")
    scores = np.concatenate([v.scores for v in crash])
    labels = np.concatenate([(v.frames >= v.anomaly_start) & (v.frames < v.anomaly_end) for v in crash])
    return auroc(scores, labels)


@dataclass(frozen=True)
class AnticipationCurve:
    """Per threshold (only those with at least one true-positive video): ``thresholds``, video-level
    ``precision`` and ``recall``, and ``tta`` (mean time-to-accident in seconds over true-positive videos)."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    tta: np.ndarray


def ustring_thresholds(videos: Sequence[VideoScores]) -> np.ndarray:
    """UString's grid: ``max(min score, 0), +0.001, ... < 1`` over the scores that take part."""
    return _ustring_grid(_scored_prefixes(videos)[0])


def _ustring_grid(scores: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`ustring_thresholds` from the scores of :func:`_scored_prefixes`."""
    scored = [s for s in scores if len(s)]
    if not scored:
        return np.zeros(0)
    lowest = min(float(np.min(s)) for s in scored)
    return np.arange(max(lowest, 0.0), 1.0, 0.001)


def _scored_prefixes(videos: Sequence[VideoScores]) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[VideoScores]]:
    """(scores, frames, is_positive, videos) of the videos that take part: positives are crash videos with
    an anomaly start, scored on frames ``< anomaly_start``; negatives are non-crash videos, all frames."""
    used = [v for v in videos if v.has_span or not v.crash]
    keep = [v.frames < v.anomaly_start if v.crash else np.ones(len(v.frames), bool) for v in used]
    scores = [v.scores[k] for v, k in zip(used, keep)]
    frames = [v.frames[k] for v, k in zip(used, keep)]
    return scores, frames, np.array([v.crash for v in used], dtype=bool), used


def _first_alarms(scores: np.ndarray, frames: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Frame of the first score ``>= t`` for each threshold ``t`` (``nan`` where none)."""
    if len(scores) == 0:
        return np.full(len(thresholds), np.nan)
    running_max = np.maximum.accumulate(scores)
    first = np.searchsorted(running_max, thresholds, side="left")
    found = first < len(scores)
    return np.where(found, frames[np.minimum(first, len(scores) - 1)], np.nan)


def anticipation_curve(videos: Sequence[VideoScores], thresholds: np.ndarray | None = None) -> AnticipationCurve:
    """Video-level precision / recall and mean TTA at each threshold (see :func:`anticipation_metrics`)."""
    scores, frames, positive, used = _scored_prefixes(videos)
    thresholds = _ustring_grid(scores) if thresholds is None else np.asarray(thresholds, dtype=float)
    if not used or len(thresholds) == 0:
        empty = np.zeros(0)
        return AnticipationCurve(empty, empty, empty, empty)
    alarms = np.stack([_first_alarms(s, f, thresholds) for s, f in zip(scores, frames)])  # [videos, thresholds]
    alarmed = ~np.isnan(alarms)
    starts = np.array([v.anomaly_start for v in used], dtype=float)[:, None]
    fps = np.array([v.fps for v in used], dtype=float)[:, None]
    true_pos = alarmed & positive[:, None]
    n_tp, n_alarmed = true_pos.sum(axis=0), alarmed.sum(axis=0)
    tta_sum = np.where(true_pos, (starts - alarms) / fps, 0.0).sum(axis=0)
    keep = n_tp > 0
    return AnticipationCurve(
        thresholds=thresholds[keep], precision=n_tp[keep] / n_alarmed[keep],
        recall=n_tp[keep] / max(positive.sum(), 1), tta=tta_sum[keep] / n_tp[keep],
    )  # fmt: skip


def anticipation_metrics(videos: Sequence[VideoScores], thresholds: np.ndarray | None = None) -> dict[str, float]:
    """Accident anticipation as UString (Bao et al. 2020) and DSTA (Karim et al. 2022) evaluate it.

    Videos: positives are crash videos with an anomaly span, scored on their frames ``< anomaly_start``
    only (a positive with no such frame can never be caught); negatives are non-crash videos, all frames.
    For each threshold ``t`` (default UString's grid ``max(min score, 0):1:0.001``):

    - a video raises an alarm iff some scored frame has score ``>= t``; its first alarm is the first such frame;
    - precision = true-positive videos / alarmed videos; recall = true-positive videos / positive videos;
    - TTA(t) = mean over true-positive videos of ``(anomaly_start - first alarm) / fps`` seconds;
    - thresholds with no true positive are skipped (as UString does).

    Then, per distinct recall value, the highest precision and the highest TTA among its thresholds;
    ``ap`` = ``P_1 R_1 + sum_i (P_{i-1} + P_i) / 2 (R_i - R_{i-1})`` over recalls ascending (UString's
    trapezoid), ``mtta`` = mean of those TTAs (s), ``tta_r80`` (s) and ``precision_r80`` at the recall
    nearest 0.8 (first of ties).

    Differences from UString's code, all forced by variable-length videos: TTA is the absolute
    ``(anomaly_start - first alarm) / fps`` per video, where UString scales a relative
    ``1 - first alarm / anomaly_start`` by the (fixed) clip length in seconds; the highest-recall
    group takes the maximum over its thresholds like every other group (UString takes its first).
    Returns ``nan`` everywhere without a true positive at any threshold.
    """
    curve = anticipation_curve(videos, thresholds)
    if len(curve.recall) == 0:
        return {"ap": float("nan"), "mtta": float("nan"), "tta_r80": float("nan"), "precision_r80": float("nan")}
    recalls = np.unique(curve.recall)
    precision = np.array([curve.precision[curve.recall == r].max() for r in recalls])
    tta = np.array([curve.tta[curve.recall == r].max() for r in recalls])
    ap = precision[0] * recalls[0] + np.sum((precision[1:] + precision[:-1]) / 2 * np.diff(recalls))
    at80 = int(np.argmin(np.abs(recalls - 0.8)))
    return {"ap": float(ap), "mtta": float(tta.mean()), "tta_r80": float(tta[at80]), "precision_r80": float(precision[at80])}
