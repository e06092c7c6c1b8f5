"""The deployment view: false alarms per hour of normal driving, and recall / mTTA at a capped false-alarm rate,
measured on the alarm riskvision deploys.

The alarm is the deployed alarm policy (:class:`riskvision.alarm.AlarmPolicy`: smoothing, hysteresis, minimum
on-time). :class:`PolicySweep` replays each video's per-window P(crash), in time order (``end_frame / fps``
seconds, at the step the table was scored at), through that policy, the same objects the streaming engine runs:

- a false alarm is an alarm-on event in a negative video (normal driving); false alarms per hour = on-events /
  hours of negative video, a video lasting ``num_frames / fps`` seconds;
- a positive (a crash video with an anomaly start) is detected when the alarm turns on at a window ending before
  ``anomaly_start`` (the policy replayed on those windows); its time-to-accident is ``(anomaly_start - first
  on-frame) / fps`` seconds, and mTTA the mean over detected positives;
- the operating point (:func:`choose_operating_point`) is the lowest threshold whose rate is ``<= cap`` on the
  VALIDATION split; test metrics are reported at it (``operating_point``), at the run's F1 threshold
  (``at_threshold``) and at the lowest threshold meeting the cap on the test split itself (``at_cap``, re-chosen
  in every bootstrap resample: the interval covers the choice of threshold too).

Each video's outcome under the policy at one threshold (:func:`video_outcomes`, the review page's column) comes
from the same replay: a positive is ``detected`` (as above), ``late`` (its first on-event comes at or after
``anomaly_start``) or ``missed`` (no on-event); a negative is a ``false alarm`` (one on-event or more) or a
``correct rejection``; a crash video without anomaly span takes no part (``no span``). Detected positives /
positives is the recall, and the negatives' on-events sum to ``false_alarms``.

Candidate thresholds are the values at which some replayed alarm changes (the smoothed values, and the smoothed
values / ``off_ratio``, :meth:`Hysteresis.breakpoints`), thinned to at most :data:`MAX_CANDIDATES` by quantiles,
plus ``inf`` (no alarm) when none meets the cap.

The RAW-threshold view (``raw_threshold``: :class:`AlarmSweep`) is the older definition, kept under its own key:
A window alarms when its P(crash) is ``>= threshold``. An alarm EPISODE is a maximal run of consecutive scored
windows of one video that alarm: it re-arms once the score falls below the threshold. Over the videos of a
predictions table (``probe == "none"``, :func:`.table.video_scores`):

- a false alarm is an episode in a negative video (no window labelled crash: normal driving); false alarms per
  hour = episodes / hours of negative video, a video lasting ``num_frames / fps`` seconds;
- a positive (a crash video with an anomaly start) is detected when a window ending before ``anomaly_start``
  alarms (the windows :mod:`.anticipation` scores); recall = detected / positives; its time-to-accident is
  ``(anomaly_start - first alarming frame) / fps`` seconds, and mTTA the mean over detected positives;
- at a cap of ``c`` false alarms per hour, the threshold is the lowest one whose rate is ``<= c``. The rate is
  not monotone in the threshold (raising it can split one episode into two), so this is the lowest such
  threshold, not the first one past the last violation. Candidates are the distinct scores of the windows that
  take part, and ``inf`` (no alarm at all) when none meets the cap.

Per-video bootstrap CIs (:mod:`.bootstrap`) re-choose the capped threshold in every resample: the interval
covers the choice of threshold too.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskvision.alarm import AlarmPolicy, OperatingPoint
from riskvision.evaluation.anticipation import VideoScores
from riskvision.evaluation.bootstrap import bootstrap_ci
from riskvision.evaluation.table import real_windows, video_scores

__all__ = [
    "MAX_CANDIDATES",
    "OUTCOMES",
    "AlarmSweep",
    "PolicySweep",
    "choose_operating_point",
    "deployment_curve",
    "deployment_metrics",
    "raw_threshold_metrics",
    "raw_threshold_statistics",
    "video_alarm_events",
    "video_outcomes",
]

log = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0
#: At most this many candidate thresholds are replayed (quantiles of the breakpoints when there are more).
MAX_CANDIDATES = 512
#: Points of the deployment curve stored in metrics.json (each with bootstrap bands).
CURVE_POINTS = 40
#: A video's outcome under the policy at one threshold (:func:`video_outcomes`): positives, negatives, crash videos
#: without a span.
OUTCOMES = ("detected", "late", "missed", "false alarm", "correct rejection", "no span")


def _concat(parts: list[np.ndarray], dtype: type = float) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _whole(weights: np.ndarray) -> bool:
    """Every weight is a whole number (bootstrap draw counts, or all 1): sums of them are exact in float64."""
    return bool(np.all(weights == np.round(weights)))


def _key(weights: np.ndarray) -> bytes:
    """A short digest of a weight vector, to remember what one resample's weights gave (two statistics of the same
    resample share one capped threshold)."""
    return hashlib.blake2b(np.ascontiguousarray(weights).tobytes(), digest_size=16).digest()


class _WeightedCounts:
    """``sum of weights[i] over i with values[i] >= t`` for every ``t`` of a fixed ascending grid, fast for
    many weight vectors: the sort and the grid positions are computed once. ``group`` ``[len(values)]``: each
    value's video, so whole-number per-video weights are gathered in the sorted order directly and summed in int64
    (the same exact counts, a cumulative sum ~6x faster than float64's)."""

    def __init__(self, values: np.ndarray, grid: np.ndarray, group: np.ndarray) -> None:
        self.order = np.argsort(values, kind="mergesort")
        self.position = np.searchsorted(values[self.order], grid, side="left")
        self.group = group[self.order]

    def at_or_above(self, weights: np.ndarray) -> np.ndarray:
        """``[len(grid)]`` weighted counts, ``weights`` ``[len(values)]``."""
        cumulative = np.r_[0.0, np.cumsum(weights[self.order])]
        return cumulative[-1] - cumulative[self.position]

    def at_or_above_by_group(self, group_weights: np.ndarray) -> np.ndarray:
        """:meth:`at_or_above` of ``weights = group_weights[group]`` (whole numbers, ``[groups]`` int64): the
        same values, int64."""
        cumulative = np.zeros(len(self.group) + 1, dtype=np.int64)
        np.cumsum(group_weights[self.group], out=cumulative[1:])
        return cumulative[-1] - cumulative[self.position]


class AlarmSweep:
    """The alarms of a set of videos at any threshold and under any per-video weights (a bootstrap resample).

    ``weights`` arguments are ``[len(videos)]`` (a video drawn k times weighs k; ``None``: all 1).
    Thresholds and scores are P(crash); rates are per hour; times in seconds.
    """

    def __init__(self, videos: Sequence[VideoScores]) -> None:
        self.n_videos = len(videos)
        self.negative = np.array([k for k, v in enumerate(videos) if not v.crash], dtype=int)
        self.positive = np.array([k for k, v in enumerate(videos) if v.has_span], dtype=int)
        negatives = [videos[k] for k in self.negative]
        positives = [videos[k] for k in self.positive]
        self.hours = np.array([v.length / v.fps / SECONDS_PER_HOUR for v in negatives], dtype=float)
        # negatives: window i starts an episode at t iff previous_i < t <= score_i (previous = -inf at a video start)
        scores = _concat([v.scores for v in negatives])
        previous = _concat([np.r_[-np.inf, v.scores[:-1]] for v in negatives])
        self.negative_of_window = _concat([np.full(len(v.scores), j) for j, v in enumerate(negatives)], int)
        # positives: the windows before the anomaly start, in frame order
        prefixes = [v.frames < v.anomaly_start for v in positives]
        self.positive_scores = _concat([v.scores[p] for v, p in zip(positives, prefixes)])
        self.positive_frames = _concat([v.frames[p] for v, p in zip(positives, prefixes)])
        self.positive_of_window = _concat([np.full(p.sum(), j) for j, p in enumerate(prefixes)], int)
        self.starts = np.array([v.anomaly_start for v in positives], dtype=float)
        self.fps = np.array([v.fps for v in positives], dtype=float)
        self.thresholds = np.r_[np.unique(np.r_[scores, self.positive_scores]), np.inf]  # candidates, ascending
        self._above = _WeightedCounts(scores, self.thresholds, self.negative_of_window)
        self._both_above = _WeightedCounts(np.minimum(scores, previous), self.thresholds, self.negative_of_window)
        self._scores = scores
        self._previous = previous
        # remembered per threshold / per resample: a bootstrap asks the same threshold 1,000 times, and the capped
        # recall and mTTA of one resample the same capped threshold
        self._episodes: dict[float, np.ndarray] = {}
        self._alarms: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._capped: dict[tuple[float, bytes], float] = {}

    def _weights(self, weights: np.ndarray | None) -> np.ndarray:
        return np.ones(self.n_videos) if weights is None else np.asarray(weights, dtype=float)

    def negative_hours(self, weights: np.ndarray | None = None) -> float:
        """Hours of normal driving (the negative videos' durations, weighted)."""
        return float(np.sum(self._weights(weights)[self.negative] * self.hours))

    def false_alarms(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Alarm episodes in the negative videos at ``threshold`` (weighted count)."""
        video_weights = self._weights(weights)[self.negative]
        if _whole(video_weights):  # exact sums: per-video episode counts (kept per threshold) times the weights
            if threshold not in self._episodes:
                if len(self._episodes) > 4096:
                    self._episodes.clear()
                starts = (self._previous < threshold) & (self._scores >= threshold)
                self._episodes[threshold] = np.bincount(
                    self.negative_of_window, weights=starts, minlength=len(self.negative)
                )
            return float(video_weights @ self._episodes[threshold])
        starts = (self._previous < threshold) & (self._scores >= threshold)
        return float(np.sum(video_weights[self.negative_of_window] * starts))

    def false_alarms_per_hour(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """:meth:`false_alarms` / :meth:`negative_hours`; ``nan`` without negative video."""
        hours = self.negative_hours(weights)
        return self.false_alarms(threshold, weights) / hours if hours > 0 else math.nan

    def false_alarm_curve(self, weights: np.ndarray | None = None) -> np.ndarray:
        """False alarms per hour at every candidate threshold (:attr:`thresholds`), ``[len(thresholds)]``."""
        video_weights = self._weights(weights)[self.negative]
        if _whole(video_weights):
            whole = video_weights.astype(np.int64)
            episodes = (self._above.at_or_above_by_group(whole) - self._both_above.at_or_above_by_group(whole)).astype(
                float
            )
        else:
            window_weights = video_weights[self.negative_of_window]
            episodes = self._above.at_or_above(window_weights) - self._both_above.at_or_above(window_weights)
        hours = self.negative_hours(weights)
        return episodes / hours if hours > 0 else np.full(len(self.thresholds), np.nan)

    def capped_threshold(self, cap_per_hour: float, weights: np.ndarray | None = None) -> float:
        """The lowest candidate threshold with at most ``cap_per_hour`` false alarms per hour (``inf`` if only
        silence meets it; ``nan`` without negative video)."""
        key = (float(cap_per_hour), _key(self._weights(weights)))
        if key not in self._capped:
            if len(self._capped) > 4096:
                self._capped.clear()
            meets = np.flatnonzero(self.false_alarm_curve(weights) <= cap_per_hour + 1e-12)
            self._capped[key] = float(self.thresholds[meets[0]]) if len(meets) else math.nan
        return self._capped[key]

    def _first_alarms(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """(positives detected at ``threshold`` as indices into the positives, their first alarming frames)."""
        if threshold not in self._alarms:
            if len(self._alarms) > 4096:
                self._alarms.clear()
            hits = np.flatnonzero(self.positive_scores >= threshold)
            detected, first = np.unique(self.positive_of_window[hits], return_index=True)
            self._alarms[threshold] = detected, self.positive_frames[hits[first]]
        return self._alarms[threshold]

    def recall(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Share of the positive videos detected at ``threshold`` (weighted); ``nan`` without positives."""
        if math.isnan(threshold):
            return math.nan
        w = self._weights(weights)[self.positive]
        detected, _ = self._first_alarms(threshold)
        return float(w[detected].sum() / w.sum()) if w.sum() > 0 else math.nan

    def mtta(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Mean time-to-accident (s) of the positives detected at ``threshold`` (weighted); ``nan`` if none."""
        if math.isnan(threshold):
            return math.nan
        w = self._weights(weights)[self.positive]
        detected, frames = self._first_alarms(threshold)
        tta = (self.starts[detected] - frames) / self.fps[detected]
        total = w[detected].sum()
        return float(np.sum(w[detected] * tta) / total) if total > 0 else math.nan


class PolicySweep:
    """The deployed policy's alarms of a set of videos at every candidate threshold and under any per-video weights.

    Each video is replayed once (:meth:`AlarmPolicy.on_events_many`: one alarm per candidate threshold, the stream's own
    :class:`~riskvision.alarm.Alarm`); ``weights`` arguments are ``[len(videos)]`` (a video drawn k times weighs k;
    ``None``: all 1). Thresholds are on the smoothed P(crash); rates per hour; times in seconds.

    Args:
        videos: per-video window scores in frame order (:func:`.table.video_scores`).
        policy: the alarm policy replayed.
        extra_thresholds: thresholds that must be candidates (an operating point, the run's threshold).
        sweep: ``False``: the candidates are ``extra_thresholds`` (and ``inf``) alone, e.g. one video's outcome at a
            known threshold (:func:`video_outcomes`), without the breakpoints of every smoothed value.
    """

    def __init__(
        self,
        videos: Sequence[VideoScores],
        policy: AlarmPolicy,
        extra_thresholds: Sequence[float] = (),
        sweep: bool = True,
    ) -> None:
        self.n_videos, self.policy = len(videos), policy
        self.negative = np.array([k for k, v in enumerate(videos) if not v.crash], dtype=int)
        self.positive = np.array([k for k, v in enumerate(videos) if v.has_span], dtype=int)
        negatives = [videos[k] for k in self.negative]
        positives = [(videos[k], videos[k].frames < videos[k].anomaly_start) for k in self.positive]
        self.hours = np.array([v.length / v.fps / SECONDS_PER_HOUR for v in negatives], dtype=float)
        streams = [(v.frames / v.fps, v.scores) for v in negatives]
        streams += [(v.frames[p] / v.fps, v.scores[p]) for v, p in positives]
        self.thresholds = _candidates(policy, streams if sweep else [], extra_thresholds)  # where alarms change
        # every whole video replayed once (causal: a positive's alarms before its anomaly start are those of its
        # prefix): [videos, K] alarm-on events and the index of the first one (-1: none)
        counts, first = policy.on_events_many([(v.frames / v.fps, v.scores) for v in videos], self.thresholds)
        shape = (len(videos), len(self.thresholds))
        self.events = counts.astype(float).reshape(shape)
        first = first.reshape(shape)
        # [videos, K]: the target frame of each video's first on-event (-1: none)
        self.first_frames = np.array(
            [np.where(first[k] >= 0, v.frames[np.maximum(first[k], 0)], -1) for k, v in enumerate(videos)], dtype=int
        ).reshape(shape)
        self.false_alarm_counts = self.events[self.negative]  # [negatives, K]
        # [positives, K]: seconds before the anomaly start of the first on-event, nan when none came before it
        tta = [
            np.where(first[k] >= 0, (videos[k].anomaly_start - self.first_frames[k]) / videos[k].fps, np.nan)
            for k in self.positive
        ]
        self.tta = np.array(tta, dtype=float).reshape(len(self.positive), len(self.thresholds))
        self.tta[self.tta <= 0] = np.nan  # the first alarm came at or after the anomaly start: not detected
        # per candidate (rows, contiguous): the positives' TTA with 0 where not detected, for :meth:`at`
        self._tta_or_zero = np.where(np.isnan(self.tta), 0.0, self.tta).T.copy()
        self._capped: dict[tuple[float, bytes], int] = {}

    def _weights(self, weights: np.ndarray | None) -> np.ndarray:
        return np.ones(self.n_videos) if weights is None else np.asarray(weights, dtype=float)

    def events_per_video(self, ids: Sequence[str], k: int) -> dict[str, int]:
        """``{video id: alarm-on events}`` at candidate ``k``, ``ids`` naming the videos in order."""
        return {str(video_id): int(count) for video_id, count in zip(ids, self.events[:, k])}

    def index(self, threshold: float) -> int:
        """The candidate position of ``threshold`` (one of :attr:`thresholds`)."""
        k = int(np.searchsorted(self.thresholds, threshold))
        if k >= len(self.thresholds) or self.thresholds[k] != threshold:
            raise ValueError(f"threshold {threshold} is not a candidate; pass it in extra_thresholds")
        return k

    def negative_hours(self, weights: np.ndarray | None = None) -> float:
        """Hours of normal driving (the negative videos' durations, weighted)."""
        return float(np.sum(self._weights(weights)[self.negative] * self.hours))

    def false_alarm_curve(self, weights: np.ndarray | None = None) -> np.ndarray:
        """False alarms per hour at every candidate threshold ``[K]`` (``nan`` without negative video)."""
        hours = self.negative_hours(weights)
        events = self._weights(weights)[self.negative] @ self.false_alarm_counts
        return events / hours if hours > 0 else np.full(len(self.thresholds), np.nan)

    def capped_index(self, cap_per_hour: float, weights: np.ndarray | None = None) -> int:
        """The position of the lowest candidate with at most ``cap_per_hour`` false alarms per hour (the last,
        ``inf``, when only silence meets it; -1 without negative video)."""
        key = (float(cap_per_hour), _key(self._weights(weights)))
        if key not in self._capped:  # the capped recall and mTTA of one resample share it
            if len(self._capped) > 4096:
                self._capped.clear()
            meets = np.flatnonzero(self.false_alarm_curve(weights) <= cap_per_hour + 1e-12)
            self._capped[key] = int(meets[0]) if len(meets) else -1
        return self._capped[key]

    def recall_curve(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Share of the positive videos alarmed before their anomaly start, per candidate ``[K]``."""
        w = self._weights(weights)[self.positive]
        total = w.sum()
        return w @ ~np.isnan(self.tta) / total if total > 0 else np.full(len(self.thresholds), np.nan)

    def mtta_curve(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Mean time-to-accident (s) of the detected positives per candidate ``[K]`` (``nan`` where none)."""
        w = self._weights(weights)[self.positive]
        detected = ~np.isnan(self.tta)
        total = w @ detected
        summed = w @ np.where(detected, self.tta, 0.0)
        return np.divide(summed, total, out=np.full(len(self.thresholds), np.nan), where=total > 0)

    def at(self, k: int, curve: str, weights: np.ndarray | None = None) -> float:
        """``curve`` (``false_alarms_per_hour`` / ``recall`` / ``mtta``) at candidate ``k`` alone (``nan`` for
        k = -1): one column, so a bootstrap of a fixed threshold costs O(videos) per resample."""
        if k < 0:
            return math.nan
        w = self._weights(weights)
        if curve == "false_alarms_per_hour":
            hours = self.negative_hours(weights)
            return float(w[self.negative] @ self.false_alarm_counts[:, k] / hours) if hours > 0 else math.nan
        w, tta = w[self.positive], self.tta[:, k]
        detected = ~np.isnan(tta)
        if curve == "recall":
            return float(w @ detected / w.sum()) if w.sum() > 0 else math.nan
        total = w @ detected
        return float(w @ self._tta_or_zero[k] / total) if total > 0 else math.nan


def _candidates(
    policy: AlarmPolicy, streams: Sequence[tuple[np.ndarray, np.ndarray]], extra: Sequence[float]
) -> np.ndarray:
    """Ascending candidate thresholds: the rule's breakpoints of every smoothed value in (0, 1], thinned to
    :data:`MAX_CANDIDATES` by quantiles, with ``extra`` and ``inf``."""
    smoothed = [policy.smooth(times, scores) for times, scores in streams]
    points = policy.rule.breakpoints(np.concatenate(smoothed) if smoothed else np.zeros(0))
    points = np.unique(points[(points > 0) & (points <= 1)])
    if len(points) > MAX_CANDIDATES:
        points = np.unique(np.quantile(points, np.linspace(0, 1, MAX_CANDIDATES), method="inverted_cdf"))
    extra = [float(t) for t in extra if t is not None and not math.isnan(float(t))]
    return np.unique(np.r_[points, extra, np.inf])


def video_alarm_events(table: pd.DataFrame, policy: AlarmPolicy, threshold: float) -> dict[str, int]:
    """``{video_id: alarm-on events}`` of ``table``'s real input replayed through ``policy`` at ``threshold``: what
    streaming each video (at the table's step) raises."""
    return {
        video_id: len(policy.replay(v.frames / v.fps, v.scores, threshold, v.frames))
        for video_id, v in zip(*_videos(table))
    }


def video_outcomes(table: pd.DataFrame, policy: AlarmPolicy, threshold: float) -> pd.DataFrame:
    """One row per video of ``table``'s real input (sorted by ``video_id``), ``policy`` replayed at ``threshold``
    (``inf``: no alarm) by the :class:`PolicySweep` that :func:`deployment_metrics` counts with (module doc):

    ``outcome`` (one of :data:`OUTCOMES`), ``false_alarms`` (alarm-on events of a negative video, ``nan`` for the
    others), ``first_alarm`` (the target frame of the first on-event, -1 if none), ``tta_s`` (``(anomaly_start -
    first_alarm) / fps`` of a positive with an alarm: > 0 detected, <= 0 late; ``nan`` otherwise) and ``max_p`` (the
    highest raw P(crash)). Detected / positives is ``deployment_metrics``' recall at ``threshold`` and the
    ``false_alarms`` sum to its ``false_alarms`` there."""
    ids, videos = _videos(table)
    sweep = PolicySweep(videos, policy, [threshold], sweep=False)
    k = sweep.index(float(threshold))
    first_alarm = sweep.first_frames[:, k]
    outcome = np.full(len(ids), OUTCOMES[5], dtype=object)
    false_alarms = np.full(len(ids), np.nan)
    false_alarms[sweep.negative] = sweep.false_alarm_counts[:, k]
    outcome[sweep.negative] = np.where(false_alarms[sweep.negative] > 0, OUTCOMES[3], OUTCOMES[4])
    detected = ~np.isnan(sweep.tta[:, k])
    outcome[sweep.positive] = np.where(
        detected, OUTCOMES[0], np.where(first_alarm[sweep.positive] >= 0, OUTCOMES[1], OUTCOMES[2])
    )
    tta = np.full(len(ids), np.nan)
    alarmed = sweep.positive[first_alarm[sweep.positive] >= 0]
    tta[alarmed] = [(videos[j].anomaly_start - first_alarm[j]) / videos[j].fps for j in alarmed]
    return pd.DataFrame(
        {
            "video_id": ids,
            "outcome": outcome,
            "false_alarms": false_alarms,
            "first_alarm": first_alarm,
            "tta_s": tta,
            "max_p": [float(v.scores.max()) if len(v.scores) else math.nan for v in videos],
        }
    )


def _videos(table: pd.DataFrame) -> tuple[np.ndarray, list[VideoScores]]:
    real = real_windows(table)
    return real.groupby("video_id", sort=True).size().index.to_numpy(), video_scores(real)


def choose_operating_point(
    table: pd.DataFrame, policy: AlarmPolicy, cap_per_hour: float, split: str = "val", step: int = 1
) -> OperatingPoint:
    """The lowest threshold meeting ``cap_per_hour`` false alarms per hour under ``policy`` on ``table`` (the
    ``split`` it was scored on, at ``step``); ``inf`` (no alarm, logged) when none does or the split has no normal
    video to measure false alarms on."""
    cap = _check_cap(cap_per_hour)
    sweep = PolicySweep(_videos(table)[1], policy)
    k = sweep.capped_index(cap)
    threshold = float(sweep.thresholds[k]) if k >= 0 else math.inf
    if math.isinf(threshold):
        reason = "no normal video" if k < 0 else f"no threshold gives <= {cap:g} false alarms per hour"
        log.warning(
            f"Operating point on {split}: {reason}; the threshold is 'no alarm' (the deployed alarm never "
            "turns on). Fix: raise settings.false_alarm_cap_per_hour, or change the alarm policy (conf/alarm/)"
        )
    point = OperatingPoint(
        threshold, cap, split, policy, sweep.at(k, "false_alarms_per_hour"), sweep.at(k, "recall"), int(step)
    )
    log.info(f"Alarm policy: {policy.describe(threshold)}; {point.describe()}")
    return point


def deployment_curve(
    sweep: PolicySweep, ids: np.ndarray, n_boot: int, seed: int, points: int = CURVE_POINTS
) -> dict[str, list[float]]:
    """Recall and mTTA against false alarms per hour at up to ``points`` thresholds (quantiles of the candidates),
    with per-video bootstrap 95% bands: ``{"thresholds", "false_alarms_per_hour", "recall", "recall_low",
    "recall_high", "mtta", "mtta_low", "mtta_high"}`` (lists; ``None`` for nan)."""
    finite = np.flatnonzero(np.isfinite(sweep.thresholds))
    chosen = (
        np.unique(finite[np.linspace(0, len(finite) - 1, min(points, len(finite))).round().astype(int)])
        if len(finite)
        else finite
    )
    out: dict[str, list[float]] = {
        key: []
        for key in (
            "thresholds",
            "false_alarms_per_hour",
            "recall",
            "recall_low",
            "recall_high",
            "mtta",
            "mtta_low",
            "mtta_high",
        )
    }
    for k in chosen:
        out["thresholds"].append(float(sweep.thresholds[k]))
        out["false_alarms_per_hour"].append(sweep.at(int(k), "false_alarms_per_hour"))
        for name in ("recall", "mtta"):
            ci = bootstrap_ci(ids, lambda w, k=int(k), name=name: sweep.at(k, name, w), n_boot, seed)
            out[name].append(ci.value)
            out[f"{name}_low"].append(ci.low)
            out[f"{name}_high"].append(ci.high)
    return {key: [None if v is None or math.isnan(v) else v for v in values] for key, values in out.items()}


def _check_cap(cap_per_hour: float) -> float:
    cap = float(cap_per_hour)
    if not math.isfinite(cap) or cap < 0:
        raise ValueError(f"false-alarm cap {cap_per_hour!r} per hour; give a finite rate >= 0, e.g. 1.0")
    return cap


def _sweep(table: pd.DataFrame) -> tuple[np.ndarray, AlarmSweep]:
    """(video id per video, the sweep of those videos) of ``table``'s real input."""
    real = real_windows(table)
    ids = real.groupby("video_id", sort=True).size().index.to_numpy()  # the order of video_scores
    return ids, AlarmSweep(video_scores(real))


def _statistics(
    ids: np.ndarray,
    sweep: AlarmSweep,
    threshold: float,
    cap: float,
) -> dict[str, tuple[np.ndarray, Callable[[np.ndarray], float]]]:
    return {
        "false_alarms_per_hour": (ids, lambda w: sweep.false_alarms_per_hour(threshold, w)),
        "recall": (ids, lambda w: sweep.recall(threshold, w)),
        "mtta": (ids, lambda w: sweep.mtta(threshold, w)),
        "capped_recall": (ids, lambda w: sweep.recall(sweep.capped_threshold(cap, w), w)),
        "capped_mtta": (ids, lambda w: sweep.mtta(sweep.capped_threshold(cap, w), w)),
    }


def raw_threshold_statistics(
    table: pd.DataFrame,
    threshold: float,
    cap_per_hour: float = 1.0,
) -> dict[str, tuple[np.ndarray, Callable[[np.ndarray], float]]]:
    """The raw-threshold view's ``(video_id per row, statistic(row weights))`` per bootstrapped quantity, one row
    per video (the shape of :func:`.summary.ci_statistics`): false alarms per hour, recall and mTTA at
    ``threshold``, and recall and mTTA at the lowest threshold with at most ``cap_per_hour`` false alarms per hour."""
    return _statistics(*_sweep(table), threshold, _check_cap(cap_per_hour))


def raw_threshold_metrics(
    table: pd.DataFrame, threshold: float, cap_per_hour: float = 1.0, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """``metrics.json``'s ``deployment.raw_threshold``: alarm episodes as runs of RAW window scores ``>=
    threshold`` (:class:`AlarmSweep`; no smoothing, hysteresis or minimum on-time): ``at_threshold`` (false alarms,
    false alarms per hour, recall, mTTA in s at ``threshold``) and ``at_cap`` (the capped threshold, its false
    alarms per hour, recall and mTTA), with per-video bootstrap CIs."""
    cap = _check_cap(cap_per_hour)
    ids, sweep = _sweep(table)
    cis = {
        name: bootstrap_ci(rows, stat, n_boot, seed).as_dict()
        for name, (rows, stat) in _statistics(ids, sweep, threshold, cap).items()
    }
    capped = sweep.capped_threshold(cap)
    capped_rate = sweep.false_alarms_per_hour(capped) if not math.isnan(capped) else math.nan
    return {
        "at_threshold": {
            "threshold": float(threshold),
            "false_alarms": sweep.false_alarms(threshold),
            "false_alarms_per_hour": cis["false_alarms_per_hour"],
            "recall": cis["recall"],
            "mtta": cis["mtta"],
        },
        "at_cap": {
            "cap_per_hour": cap,
            "threshold": capped,
            "false_alarms_per_hour": capped_rate,
            "recall": cis["capped_recall"],
            "mtta": cis["capped_mtta"],
        },
    }


def _at(sweep: PolicySweep, ids: np.ndarray, k: int, n_boot: int, seed: int) -> dict[str, Any]:
    """False alarms (count), and false alarms per hour, recall and mTTA with CIs at candidate ``k``."""
    cis = {
        name: bootstrap_ci(ids, lambda w, name=name: sweep.at(k, name, w), n_boot, seed).as_dict()
        for name in ("false_alarms_per_hour", "recall", "mtta")
    }
    return {"threshold": float(sweep.thresholds[k]), "false_alarms": float(sweep.false_alarm_counts[:, k].sum()), **cis}


def deployment_metrics(
    table: pd.DataFrame,
    threshold: float,
    cap_per_hour: float = 1.0,
    n_boot: int = 1000,
    seed: int = 0,
    policy: AlarmPolicy | None = None,
    operating_point: OperatingPoint | None = None,
) -> dict[str, Any]:
    """``metrics.json``'s ``deployment`` entry (see module doc), replaying ``policy`` (``None``: the operating
    point's, else :class:`AlarmPolicy`'s defaults): ``policy``, counts and hours; ``operating_point`` (the
    threshold chosen on validation, where it came from, and false alarms, false alarms per hour, recall, mTTA
    at it on this table; ``None`` without one); ``at_threshold`` (the same at the run's F1 ``threshold``);
    ``at_cap`` (at the lowest threshold meeting ``cap_per_hour`` on this table, re-chosen per resample); the first
    two also hold ``alarm_events_per_video`` (each whole video replayed: what streaming it raises);
    ``curve`` (:func:`deployment_curve`); ``raw_threshold`` (:func:`raw_threshold_metrics`). Rates, recall and
    mTTA carry per-video bootstrap CIs (``{"value", "low", "high", "p_above_zero"}``, ``n_boot`` resamples seeded
    by ``seed``)."""
    cap = _check_cap(cap_per_hour)
    if policy is None:
        policy = operating_point.policy if operating_point is not None else AlarmPolicy()
    if operating_point is not None and operating_point.policy != policy:
        raise ValueError(
            f"the operating point was chosen under {operating_point.policy}, not {policy}; replay the "
            "policy it was chosen under (or choose it again under this one)"
        )
    ids, videos = _videos(table)
    fixed = [threshold] + ([operating_point.threshold] if operating_point is not None else [])
    sweep = PolicySweep(videos, policy, fixed)
    capped = {
        name: bootstrap_ci(
            ids, lambda w, name=name: sweep.at(sweep.capped_index(cap, w), name, w), n_boot, seed
        ).as_dict()
        for name in ("recall", "mtta")
    }
    k_cap = sweep.capped_index(cap)
    chosen = None
    if operating_point is not None:
        point = operating_point
        chosen = {
            "chosen_on": point.chosen_on,
            "cap_per_hour": point.cap_per_hour,
            "step": point.step,
            "chosen_false_alarms_per_hour": point.false_alarms_per_hour,
            "chosen_recall": point.recall,
            **_at(sweep, ids, sweep.index(point.threshold), n_boot, seed),
            "alarm_events_per_video": sweep.events_per_video(ids, sweep.index(point.threshold)),
        }
    return {
        "policy": policy.to_dict(),
        "n_negative_videos": len(sweep.negative),
        "n_positive_videos": len(sweep.positive),
        "negative_hours": sweep.negative_hours(),
        "operating_point": chosen,
        "at_threshold": {
            **_at(sweep, ids, sweep.index(float(threshold)), n_boot, seed),
            "alarm_events_per_video": sweep.events_per_video(ids, sweep.index(float(threshold))),
        },
        "at_cap": {
            "cap_per_hour": cap,
            "threshold": float(sweep.thresholds[k_cap]) if k_cap >= 0 else math.nan,
            "false_alarms_per_hour": sweep.at(k_cap, "false_alarms_per_hour"),
            **capped,
        },
        "curve": deployment_curve(sweep, ids, n_boot, seed),
        "raw_threshold": raw_threshold_metrics(table, threshold, cap, n_boot, seed),
    }
