"""Per-frame metrics of crash videos: DoTA's frame-level AUC and UString/DSTA accident anticipation.

A "per-frame score" is P(crash) of the window that ENDS at that frame (it sees that frame and the
ones before it, nothing after). Frame indices are target-rate indices; seconds are ``index / fps``.

Conventions (:data:`CONVENTIONS`): ``riskvision`` (the default, what ``metrics.json`` has always held) and
``ustring``, which reproduces the ``evaluation`` function of UString's code (Bao et al. 2020) and of DSTA's
(Karim et al. 2022, the same function plus P@R80); see :func:`anticipation_metrics`. The frame AUC comes
pooled on raw scores (:func:`frame_auc`) and per-video min-max normalised as DoTA's code does
(:func:`frame_auc_minmax`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from riskvision.metrics.ranking import auroc

__all__ = [
    "CONVENTIONS",
    "AnticipationCurve",
    "VideoScores",
    "anticipation_curve",
    "anticipation_metrics",
    "frame_auc",
    "MINMAX_EPS",
    "frame_auc_minmax",
    "minmax_per_video",
    "ustring_thresholds",
]

#: ``riskvision``: ours (the default); ``ustring``: UString's / DSTA's evaluation code (:func:`anticipation_metrics`).
CONVENTIONS = ("riskvision", "ustring")


@dataclass(frozen=True)
class VideoScores:
    """Per-frame scores of one video: ``frames`` (ascending target-rate indices) and ``scores`` (same
    length), its video-level ``crash`` label, anomaly span ``[anomaly_start, anomaly_end)`` (-1: none),
    frame rate ``fps`` and length ``num_frames`` (target-rate frames; ``None``: one past the last scored frame)."""

    frames: np.ndarray
    scores: np.ndarray
    crash: bool
    anomaly_start: int
    anomaly_end: int
    fps: float
    num_frames: int | None = None

    @property
    def length(self) -> int:
        """The video's length T in frames: ``num_frames``, else one past its last scored frame."""
        if self.num_frames is not None:
            return int(self.num_frames)
        return int(self.frames[-1]) + 1 if len(self.frames) else 0

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


#: DoTA's ``test.py`` adds this to each video's score range before dividing (``get_score_label``).
MINMAX_EPS = 1e-7


def minmax_per_video(scores: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
    """``scores`` ``[N]`` min-max normalised within each video of ``video_ids`` ``[N]`` exactly as DoTA's
    ``test.py`` does: ``(s - min) / (max - min + 1e-7)`` over that video's rows (:data:`MINMAX_EPS`). A video's
    maximum maps just below 1 by an amount that depends on its range, so maxima of different videos do not tie
    (video A [0.2, 0.9] -> [0, 0.99999986], video B [0.1, 0.4] -> [0, 0.99999967]); all-equal scores -> 0s."""
    scores = np.asarray(scores, dtype=float)
    _, group = np.unique(np.asarray(video_ids).astype(str), return_inverse=True)
    low = np.full(group.max() + 1 if len(group) else 0, np.inf)
    high = np.full(len(low), -np.inf)
    np.minimum.at(low, group, scores)
    np.maximum.at(high, group, scores)
    return (scores - low[group]) / ((high - low)[group] + MINMAX_EPS)


def frame_auc_minmax(videos: Sequence[VideoScores]) -> float:
    """DoTA's frame AUC as DoTA's evaluation code computes it (Yao et al. 2022, "DoTA: unsupervised detection of
    traffic anomaly in driving videos", frame-level AUC of its benchmark): each crash video's frame scores are first
    min-max normalised within that video as DoTA's ``test.py`` does (:func:`minmax_per_video`:
    ``(s - min) / (max - min + 1e-7)``; all-equal scores -> 0s), then pooled
    as in :func:`frame_auc`. Per-video normalisation removes each video's offset: only the ranking of frames WITHIN
    a video counts, so it can differ from the raw-score AUC either way. Unitless in [0, 1]; ``nan`` as frame_auc."""
    crash = [v for v in videos if v.has_span]
    if not crash:
        return float("nan")
    normalised = [
        VideoScores(
            v.frames,
            minmax_per_video(v.scores, np.zeros(len(v.scores))),
            v.crash,
            v.anomaly_start,
            v.anomaly_end,
            v.fps,
            v.num_frames,
        )
        for v in crash
    ]
    return frame_auc(normalised)


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


def _scored_prefixes(
    videos: Sequence[VideoScores],
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[VideoScores]]:
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


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"anticipation convention={convention!r}; use one of {list(CONVENTIONS)} "
            "('riskvision': ours, 'ustring': UString's / DSTA's evaluation code)"
        )


def _tta_seconds(alarms: np.ndarray, used: Sequence[VideoScores], convention: str) -> np.ndarray:
    """Time-to-accident (s) of first alarms ``[videos, thresholds]`` (frames; ``nan``: none) in ``convention``:
    ``riskvision``: ``(anomaly_start - first) / fps``; ``ustring``: ``(1 - first / anomaly_start) * T / fps``
    with T the video's length in frames (UString scales the relative TTA by the clip's duration)."""
    starts = np.array([v.anomaly_start for v in used], dtype=float)[:, None]
    fps = np.array([v.fps for v in used], dtype=float)[:, None]
    if convention == "riskvision":
        return (starts - alarms) / fps
    lengths = np.array([v.length for v in used], dtype=float)[:, None]
    relative = np.divide(alarms, starts, out=np.full(alarms.shape, np.nan), where=starts > 0)
    return (1 - relative) * lengths / fps


def anticipation_curve(
    videos: Sequence[VideoScores], thresholds: np.ndarray | None = None, convention: str = "riskvision"
) -> AnticipationCurve:
    """Video-level precision / recall and mean TTA (s, in ``convention``) at each threshold (see
    :func:`anticipation_metrics`)."""
    _check_convention(convention)
    scores, frames, positive, used = _scored_prefixes(videos)
    thresholds = _ustring_grid(scores) if thresholds is None else np.asarray(thresholds, dtype=float)
    if not used or len(thresholds) == 0:
        empty = np.zeros(0)
        return AnticipationCurve(empty, empty, empty, empty)
    alarms = np.stack([_first_alarms(s, f, thresholds) for s, f in zip(scores, frames)])  # [videos, thresholds]
    alarmed = ~np.isnan(alarms)
    true_pos = alarmed & positive[:, None]
    n_tp, n_alarmed = true_pos.sum(axis=0), alarmed.sum(axis=0)
    tta_sum = np.where(true_pos, _tta_seconds(alarms, used, convention), 0.0).sum(axis=0)
    keep = n_tp > 0
    return AnticipationCurve(
        thresholds=thresholds[keep],
        precision=n_tp[keep] / n_alarmed[keep],
        recall=n_tp[keep] / max(positive.sum(), 1),
        tta=tta_sum[keep] / n_tp[keep],
    )


def _per_recall(curve: AnticipationCurve, convention: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recalls ascending, precision, TTA) per distinct recall: the highest precision and the highest TTA of its
    thresholds; in the ``ustring`` convention the highest-recall group takes its lowest threshold's values."""
    recalls = np.unique(curve.recall)
    precision = np.array([curve.precision[curve.recall == r].max() for r in recalls])
    tta = np.array([curve.tta[curve.recall == r].max() for r in recalls])
    if convention == "ustring":
        group = np.flatnonzero(curve.recall == recalls[-1])
        first = group[np.argmin(curve.thresholds[group])]
        precision[-1], tta[-1] = curve.precision[first], curve.tta[first]
    return recalls, precision, tta


def anticipation_metrics(
    videos: Sequence[VideoScores], thresholds: np.ndarray | None = None, convention: str = "riskvision"
) -> dict[str, float]:
    """Accident anticipation as UString (Bao et al. 2020) and DSTA (Karim et al. 2022) evaluate it.

    Videos: positives are crash videos with an anomaly span, scored on their frames ``< anomaly_start``
    only (a positive with no such frame can never be caught); negatives are non-crash videos, all frames.
    For each threshold ``t`` (default UString's grid ``max(min score, 0):1:0.001``):

    - a video raises an alarm iff some scored frame has score ``>= t``; its first alarm is the first such frame;
    - precision = true-positive videos / alarmed videos; recall = true-positive videos / positive videos;
    - TTA(t) = mean over true-positive videos of their time-to-accident (s, see the conventions below);
    - thresholds with no true positive are skipped (as UString does).

    Then, per distinct recall value, the highest precision and the highest TTA among its thresholds;
    ``ap`` = ``P_1 R_1 + sum_i (P_{i-1} + P_i) / 2 (R_i - R_{i-1})`` over recalls ascending (UString's
    trapezoid), ``mtta`` = mean of those TTAs (s), ``tta_r80`` (s) at the recall nearest 0.8 (first of ties,
    UString's ``argmin |R - 0.8|``) and ``precision_r80``.

    ``convention="riskvision"`` (the default, forced by variable-length videos): a video's TTA is the absolute
    ``(anomaly_start - first alarm) / fps``; the highest-recall group takes the maximum over its thresholds like
    every other group; ``precision_r80`` is at the recall nearest 0.8, like ``tta_r80``.

    ``convention="ustring"`` reproduces the ``evaluation`` function of UString's code (``src/eval_tools.py``) and
    DSTA's (the same function plus P@R80), whose published numbers (DAD: T = 100 frames at 20 fps, accident at
    frame 90) it matches:

    - a video's TTA is ``(1 - first alarm / anomaly_start) * T / fps`` with T the video's length in frames
      (:attr:`VideoScores.length`): the relative TTA scaled by the CLIP's duration, not the time left before the
      accident, so on DAD an alarm at frame 0 counts 5.0 s where 4.5 s were left (their code uses one T for all
      videos; ours takes each video's own);
    - the highest-recall group takes the values of its FIRST threshold (the lowest: their loop runs the grid
      upwards), not the maximum, so its precision is usually lower and its TTA the group's largest. Their code
      orders thresholds by ``np.argsort(Recall)``, whose default sort is not stable: on long grids it may put
      another member of that group first (it depends on numpy's version and CPU), which moves mTTA in the third
      decimal; we take the lowest threshold, what a stable sort gives;
    - ``precision_r80`` is DSTA's P@R80: the precision at the first (lowest) recall ``>= 0.8``, ``nan`` if no
      recall reaches 0.8.

    Returns ``nan`` everywhere without a true positive at any threshold.
    """
    curve = anticipation_curve(videos, thresholds, convention)
    if len(curve.recall) == 0:
        return {"ap": float("nan"), "mtta": float("nan"), "tta_r80": float("nan"), "precision_r80": float("nan")}
    recalls, precision, tta = _per_recall(curve, convention)
    ap = precision[0] * recalls[0] + np.sum((precision[1:] + precision[:-1]) / 2 * np.diff(recalls))
    at80 = int(np.argmin(np.abs(recalls - 0.8)))
    if convention == "riskvision":
        precision_r80 = float(precision[at80])
    else:
        reached = np.flatnonzero(recalls >= 0.8)
        precision_r80 = float(precision[reached[0]]) if len(reached) else float("nan")
    return {"ap": float(ap), "mtta": float(tta.mean()), "tta_r80": float(tta[at80]), "precision_r80": precision_r80}
