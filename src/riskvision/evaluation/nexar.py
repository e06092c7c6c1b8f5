"""The Nexar collision prediction challenge's metric on our predictions, and its submission file.

The Nexar collision prediction challenge (Kaggle, 2025, on Nexar's dashcam collision data set) scores each
test video by ONE probability. Its test set has three subsets whose videos end 0.5 s, 1.0 s and 1.5 s before
the event (negatives: cut at random points); the score is the mean over the three subsets of the average
precision (positives = collision or near-miss videos).

On a predictions table (one row per window, :mod:`.table`) we take, for a horizon ``h`` seconds:

- a positive (a crash video with an anomaly start ``s``): the P(crash) of its last window ending at or before
  frame ``s - h * fps``: what the model says ``h`` s before the first anomalous frame, having seen nothing later;
- a negative (a video with no crash window): the P(crash) of its last window ending at or before frame
  ``(num_frames - 1) - h * fps``, ``h`` s before its last frame. The challenge cuts negatives at random points;
  a fixed cut keeps the metric deterministic, and a model that sees only the past cannot tell the two apart;
- crash videos without an anomaly span, and videos with no window that early, take no part in that subset.

Only the real input (``probe == "none"``) counts. AP is :func:`.ranking.average_precision` (sklearn's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from riskvision.evaluation.table import crash_video_rows, real_windows
from riskvision.files import atomic_write
from riskvision.metrics.ranking import average_precision

__all__ = ["NEXAR_HORIZONS_S", "horizon_scores", "last_window_scores", "nexar_metrics", "write_submission"]

#: The challenge's three subsets: seconds between a test video's end and the event.
NEXAR_HORIZONS_S = (0.5, 1.0, 1.5)


def horizon_scores(table: pd.DataFrame, horizon_s: float) -> pd.DataFrame:
    """One row per video that takes part at ``horizon_s`` (see module doc): ``video_id``, ``crash`` (0/1, the
    video's label) and ``score`` (P(crash) of its last window ending at or before its cut frame)."""
    real = real_windows(table)
    crash = crash_video_rows(real).astype(int)
    event = np.where(crash == 1, real["anomaly_start"].to_numpy(), real["num_frames"].to_numpy() - 1)
    cut = event - horizon_s * real["fps"].to_numpy(dtype=float)
    usable = (real["end_frame"].to_numpy() <= cut) & ((crash == 0) | (real["anomaly_start"].to_numpy() >= 0))
    rows = real[usable].assign(crash=crash[usable]).sort_values(["video_id", "end_frame"])
    last = rows.groupby("video_id", sort=True).tail(1)
    return pd.DataFrame(
        {
            "video_id": last["video_id"].to_numpy(),
            "crash": last["crash"].to_numpy(int),
            "score": last["p_crash"].to_numpy(float),
        }
    )


def nexar_metrics(table: pd.DataFrame, horizons_s: Sequence[float] = NEXAR_HORIZONS_S) -> dict[str, float]:
    """The challenge's metric on ``table``: ``ap_<ms>ms`` (AP of :func:`horizon_scores` at each horizon, in
    milliseconds: ``ap_500ms``, ``ap_1000ms``, ``ap_1500ms``), ``n_positive_<ms>ms`` / ``n_negative_<ms>ms`` (the
    videos that took part) and ``map`` = the mean of the APs (``nan`` if any is: a subset without positives has
    no AP)."""
    out: dict[str, float] = {}
    aps = []
    for horizon in horizons_s:
        scores = horizon_scores(table, horizon)
        ap = average_precision(scores["score"].to_numpy(), scores["crash"].to_numpy())
        key = f"{round(horizon * 1000)}ms"
        out[f"ap_{key}"] = ap
        out[f"n_positive_{key}"] = int(scores["crash"].sum())
        out[f"n_negative_{key}"] = int((scores["crash"] == 0).sum())
        aps.append(ap)
    out["map"] = float(np.mean(aps)) if aps and not any(math.isnan(a) for a in aps) else float("nan")
    return out


def last_window_scores(table: pd.DataFrame) -> pd.Series:
    """P(crash) of each video's last window (``probe == "none"``), indexed by ``video_id``: the score of a
    challenge test video, which already ends where the challenge wants its prediction."""
    real = real_windows(table).sort_values(["video_id", "end_frame"])
    last = real.groupby("video_id", sort=True).tail(1)
    return pd.Series(last["p_crash"].to_numpy(float), index=last["video_id"].to_numpy(), name="score")


def write_submission(scores: Mapping[str, float] | pd.Series, path: str | Path) -> Path:
    """The challenge's submission CSV at ``path`` (atomically, ``riskvision.files.atomic_write``): header
    ``id,score`` and one row per test video in the order given. Ids are written as given (strings: the
    challenge's ids are zero-padded, ``00204``, so never pass them through int); scores must be probabilities.

    Raises:
        ValueError: an id given twice, an empty id, or a score that is not a finite number in [0, 1], naming it.
    """
    items = list(scores.items())
    ids = [str(video_id) for video_id, _ in items]
    repeated = sorted(set(pd.Series(ids)[pd.Series(ids).duplicated()]))
    if repeated:
        raise ValueError(f"submission {path}: ids {repeated[:5]} appear more than once; give one score per test video")
    if "" in ids:
        raise ValueError(f"submission {path}: an empty id; every row needs its test video's id")
    values = np.array([float(score) for _, score in items], dtype=float)
    bad = [(ids[k], float(values[k])) for k in np.flatnonzero(~(np.isfinite(values) & (values >= 0) & (values <= 1)))]
    if bad:
        raise ValueError(
            f"submission {path}: scores {bad[:5]} are not probabilities in [0, 1]; pass P(crash) "
            "(e.g. last_window_scores(table)), not logits"
        )
    frame = pd.DataFrame({"id": ids, "score": values})
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
