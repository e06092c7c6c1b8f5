"""The deployment view: false alarms per hour of normal driving, and recall / mTTA at a capped false-alarm rate.

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

Each video's outcome at a threshold (:func:`video_outcomes`, the review page's column): a positive is ``detected``
(as above), ``late`` (its first alarm comes at or after ``anomaly_start``) or ``missed`` (no alarm); a negative is a
``false alarm`` (one episode or more) or a ``correct rejection``; a crash video without anomaly span takes no part
(``no span``). Detected positives / positives is the recall, and the episodes of the false alarms sum to
``false_alarms``.

Per-video bootstrap CIs (:mod:`.bootstrap`) re-choose the capped threshold in every resample: the interval
covers the choice of threshold too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskvision.evaluation.anticipation import VideoScores
from riskvision.evaluation.bootstrap import bootstrap_ci
from riskvision.evaluation.table import real_windows, video_scores

__all__ = ["OUTCOMES", "AlarmSweep", "deployment_metrics", "deployment_statistics", "video_outcomes"]

SECONDS_PER_HOUR = 3600.0
#: A video's outcome at a threshold (:func:`video_outcomes`): positives, negatives, crash videos without a span.
OUTCOMES = ("detected", "late", "missed", "false alarm", "correct rejection", "no span")


def _concat(parts: list[np.ndarray], dtype: type = float) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


class _WeightedCounts:
    """``sum of weights[i] over i with values[i] >= t`` for every ``t`` of a fixed ascending grid, fast for
    many weight vectors: the sort and the grid positions are computed once."""

    def __init__(self, values: np.ndarray, grid: np.ndarray) -> None:
        self.order = np.argsort(values, kind="mergesort")
        self.position = np.searchsorted(values[self.order], grid, side="left")

    def at_or_above(self, weights: np.ndarray) -> np.ndarray:
        """``[len(grid)]`` weighted counts, ``weights`` ``[len(values)]``."""
        cumulative = np.r_[0.0, np.cumsum(weights[self.order])]
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
        self._above = _WeightedCounts(scores, self.thresholds)
        self._both_above = _WeightedCounts(np.minimum(scores, previous), self.thresholds)
        self._scores = scores
        self._previous = previous

    def _weights(self, weights: np.ndarray | None) -> np.ndarray:
        return np.ones(self.n_videos) if weights is None else np.asarray(weights, dtype=float)

    def negative_hours(self, weights: np.ndarray | None = None) -> float:
        """Hours of normal driving (the negative videos' durations, weighted)."""
        return float(np.sum(self._weights(weights)[self.negative] * self.hours))

    def episodes_per_negative(self, threshold: float) -> np.ndarray:
        """Alarm episodes at ``threshold`` in each negative video, ``[len(negative)]`` (the order of
        :attr:`negative`): the windows that alarm while the one before did not (or that open the video)."""
        starts = (self._previous < threshold) & (self._scores >= threshold)
        return np.bincount(self.negative_of_window, weights=starts, minlength=len(self.negative))

    def false_alarms(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Alarm episodes in the negative videos at ``threshold`` (weighted count)."""
        return float(np.sum(self._weights(weights)[self.negative] * self.episodes_per_negative(threshold)))

    def false_alarms_per_hour(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """:meth:`false_alarms` / :meth:`negative_hours`; ``nan`` without negative video."""
        hours = self.negative_hours(weights)
        return self.false_alarms(threshold, weights) / hours if hours > 0 else math.nan

    def false_alarm_curve(self, weights: np.ndarray | None = None) -> np.ndarray:
        """False alarms per hour at every candidate threshold (:attr:`thresholds`), ``[len(thresholds)]``."""
        window_weights = self._weights(weights)[self.negative][self.negative_of_window]
        episodes = self._above.at_or_above(window_weights) - self._both_above.at_or_above(window_weights)
        hours = self.negative_hours(weights)
        return episodes / hours if hours > 0 else np.full(len(self.thresholds), np.nan)

    def capped_threshold(self, cap_per_hour: float, weights: np.ndarray | None = None) -> float:
        """The lowest candidate threshold with at most ``cap_per_hour`` false alarms per hour (``inf`` if only
        silence meets it; ``nan`` without negative video)."""
        curve = self.false_alarm_curve(weights)
        meets = np.flatnonzero(curve <= cap_per_hour + 1e-12)
        return float(self.thresholds[meets[0]]) if len(meets) else math.nan

    def first_alarms(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """(positives detected at ``threshold`` as indices into the positives, their first alarming frames)."""
        hits = np.flatnonzero(self.positive_scores >= threshold)
        detected, first = np.unique(self.positive_of_window[hits], return_index=True)
        return detected, self.positive_frames[hits[first]]

    def recall(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Share of the positive videos detected at ``threshold`` (weighted); ``nan`` without positives."""
        if math.isnan(threshold):
            return math.nan
        w = self._weights(weights)[self.positive]
        detected, _ = self.first_alarms(threshold)
        return float(w[detected].sum() / w.sum()) if w.sum() > 0 else math.nan

    def mtta(self, threshold: float, weights: np.ndarray | None = None) -> float:
        """Mean time-to-accident (s) of the positives detected at ``threshold`` (weighted); ``nan`` if none."""
        if math.isnan(threshold):
            return math.nan
        w = self._weights(weights)[self.positive]
        detected, frames = self.first_alarms(threshold)
        tta = (self.starts[detected] - frames) / self.fps[detected]
        total = w[detected].sum()
        return float(np.sum(w[detected] * tta) / total) if total > 0 else math.nan


def _check_cap(cap_per_hour: float) -> float:
    cap = float(cap_per_hour)
    if not math.isfinite(cap) or cap < 0:
        raise ValueError(f"false-alarm cap {cap_per_hour!r} per hour; give a finite rate >= 0, e.g. 1.0")
    return cap


def _videos(table: pd.DataFrame) -> tuple[np.ndarray, list[VideoScores]]:
    """(video id per video, their scores) of ``table``'s real input."""
    real = real_windows(table)
    ids = real.groupby("video_id", sort=True).size().index.to_numpy()  # the order of video_scores
    return ids, video_scores(real)


def _sweep(table: pd.DataFrame) -> tuple[np.ndarray, AlarmSweep]:
    """(video id per video, the sweep of those videos) of ``table``'s real input."""
    ids, videos = _videos(table)
    return ids, AlarmSweep(videos)


def _statistics(ids: np.ndarray, sweep: AlarmSweep, threshold: float, cap: float,
                ) -> dict[str, tuple[np.ndarray, Callable[[np.ndarray], float]]]:
    return {
        "false_alarms_per_hour": (ids, lambda w: sweep.false_alarms_per_hour(threshold, w)),
        "recall": (ids, lambda w: sweep.recall(threshold, w)),
        "mtta": (ids, lambda w: sweep.mtta(threshold, w)),
        "capped_recall": (ids, lambda w: sweep.recall(sweep.capped_threshold(cap, w), w)),
        "capped_mtta": (ids, lambda w: sweep.mtta(sweep.capped_threshold(cap, w), w)),
    }


def deployment_statistics(table: pd.DataFrame, threshold: float, cap_per_hour: float = 1.0,
                          ) -> dict[str, tuple[np.ndarray, Callable[[np.ndarray], float]]]:
    """``(video_id per row, statistic(row weights))`` per bootstrapped quantity, one row per video (the shape
    of :func:`.summary.ci_statistics`): false alarms per hour, recall and mTTA at ``threshold``, and recall and
    mTTA at the lowest threshold with at most ``cap_per_hour`` false alarms per hour."""
    return _statistics(*_sweep(table), threshold, _check_cap(cap_per_hour))


def deployment_metrics(table: pd.DataFrame, threshold: float, cap_per_hour: float = 1.0, n_boot: int = 1000,
                       seed: int = 0) -> dict[str, Any]:
    """``metrics.json``'s ``deployment`` entry (see module doc): counts and hours, then ``at_threshold`` (the
    run's operating ``threshold``: false alarms, false alarms per hour, recall, mTTA in s) and ``at_cap`` (the
    capped threshold, its false alarms per hour, recall and mTTA). Rates, recall and mTTA carry per-video
    bootstrap CIs (``{"value", "low", "high", "p_above_zero"}``, ``n_boot`` resamples seeded by ``seed``)."""
    cap = _check_cap(cap_per_hour)
    ids, sweep = _sweep(table)
    cis = {name: bootstrap_ci(rows, stat, n_boot, seed).as_dict()
           for name, (rows, stat) in _statistics(ids, sweep, threshold, cap).items()}
    capped = sweep.capped_threshold(cap)
    capped_rate = sweep.false_alarms_per_hour(capped) if not math.isnan(capped) else math.nan
    return {
        "n_negative_videos": len(sweep.negative), "n_positive_videos": len(sweep.positive),
        "negative_hours": sweep.negative_hours(),
        "at_threshold": {"threshold": float(threshold), "false_alarms": sweep.false_alarms(threshold),
                         "false_alarms_per_hour": cis["false_alarms_per_hour"], "recall": cis["recall"],
                         "mtta": cis["mtta"]},
        "at_cap": {"cap_per_hour": cap, "threshold": capped, "false_alarms_per_hour": capped_rate,
                   "recall": cis["capped_recall"], "mtta": cis["capped_mtta"]},
    }  # fmt: skip


def video_outcomes(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """One row per video of ``table``'s real input (sorted by ``video_id``) at ``threshold`` (module doc):

    ``outcome`` (one of :data:`OUTCOMES`), ``false_alarms`` (alarm episodes of a negative video, ``nan`` for the
    others), ``first_alarm`` (the first frame whose window's P(crash) is ``>= threshold``, -1 if none), ``tta_s``
    (``(anomaly_start - first_alarm) / fps`` of a positive with an alarm: > 0 detected, <= 0 late; ``nan`` otherwise)
    and ``max_p`` (the highest P(crash)). Outcome counts agree with :func:`deployment_metrics` by construction:
    both come from one :class:`AlarmSweep`."""
    ids, videos = _videos(table)
    sweep = AlarmSweep(videos)
    outcome = np.full(len(ids), OUTCOMES[5], dtype=object)
    false_alarms = np.full(len(ids), np.nan)
    false_alarms[sweep.negative] = sweep.episodes_per_negative(threshold)
    outcome[sweep.negative] = np.where(false_alarms[sweep.negative] > 0, OUTCOMES[3], OUTCOMES[4])
    first_alarm = np.array([v.frames[np.argmax(v.scores >= threshold)] if np.any(v.scores >= threshold) else -1
                            for v in videos], dtype=int)
    outcome[sweep.positive] = np.where(first_alarm[sweep.positive] >= 0, OUTCOMES[1], OUTCOMES[2])
    detected, _ = sweep.first_alarms(threshold)
    outcome[sweep.positive[detected]] = OUTCOMES[0]
    tta = np.full(len(ids), np.nan)
    alarmed = sweep.positive[first_alarm[sweep.positive] >= 0]
    tta[alarmed] = [(videos[k].anomaly_start - first_alarm[k]) / videos[k].fps for k in alarmed]
    return pd.DataFrame({"video_id": ids, "outcome": outcome, "false_alarms": false_alarms, "first_alarm": first_alarm,
                         "tta_s": tta, "max_p": [float(v.scores.max()) if len(v.scores) else math.nan for v in videos]})
