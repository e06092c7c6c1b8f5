"""The predictions table: one row per scored window (schema, validation, file I/O, per-video views).

Columns (all frame indices at the target rate, see docs/architecture.md):

| column | meaning |
|---|---|
| video_id, source, category | clip id; ``dota`` / ``bdd``; accident category (``normal`` for BDD) |
| ego, night | ego vehicle involved; night video (bool) |
| end_frame, fps, num_frames | the window's last frame; frame rate; video length in frames |
| anomaly_start, anomaly_end | anomaly span ``[start, end)``, -1 when none |
| crash, risk | labels of the window (0/1; 0 Normal / 1 Warning / 2 Danger) |
| probe | ``none`` (the real input) or a shortcut probe (``shuffled``, ``repeated``) |
| prob_<class> | the model's probabilities, as its task names them (``riskvision.tasks``): ``prob_crash`` |
|  | (binary) or ``prob_normal``, ``prob_warning``, ``prob_danger`` |
| p_crash | the common view P(crash) (``Task.crash_probability``) |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskvision.batch import METADATA_KEYS
from riskvision.evaluation.anticipation import VideoScores
from riskvision.files import atomic_write
from riskvision.tasks import Task

__all__ = [
    "META_COLUMNS",
    "PREDICTION_FILES",
    "PROBES",
    "crash_video_rows",
    "find_predictions",
    "make_table",
    "read_predictions",
    "real_windows",
    "spanned_windows",
    "validate_table",
    "video_level",
    "video_scores",
    "write_predictions",
]

META_COLUMNS = METADATA_KEYS  # the batch's metadata keys, one column each
PROBES = ("none", "shuffled", "repeated")


def make_table(meta: Mapping[str, Sequence[Any]], values: np.ndarray, task: Task, probe: str = "none") -> pd.DataFrame:
    """Rows from per-window metadata (the batch keys of :data:`META_COLUMNS`) and the values of the task's
    probability columns (``Task.column_values``: ``[N]`` P(crash) for binary, ``[N, K]`` for K classes)."""
    values = np.asarray(values, dtype=float)
    table = pd.DataFrame({key: np.asarray(meta[key]) for key in META_COLUMNS})
    table["probe"] = probe
    columns = task.prob_columns
    table[columns] = values.reshape(len(table), len(columns))
    table["p_crash"] = task.crash_probability(values)
    return table


def validate_table(table: pd.DataFrame, source: str = "predictions table") -> pd.DataFrame:
    """Check the schema (missing columns and unknown probes are errors naming ``source``) and
    normalise dtypes (strings, bools, ints); returns the table."""
    missing = [c for c in (*META_COLUMNS, "probe", "p_crash") if c not in table.columns]
    if missing:
        raise ValueError(f"{source} lacks columns {missing}; expected the schema of riskvision.evaluation.table")
    if not any(c.startswith("prob_") for c in table.columns):
        raise ValueError(f"{source} has no prob_<class> column")
    unknown = set(table["probe"]) - set(PROBES)
    if unknown:
        raise ValueError(f"{source} has unknown probe values {sorted(unknown)}; expected {list(PROBES)}")
    table = table.copy()
    for column in ("video_id", "source", "category", "probe"):
        table[column] = table[column].astype(str)
    for column in ("ego", "night"):
        table[column] = table[column].astype(str).str.lower().isin(["true", "1"])
    for column in ("end_frame", "num_frames", "anomaly_start", "anomaly_end", "crash", "risk"):
        table[column] = table[column].astype(int)
    return table


#: the file names of a run folder's predictions table, the default (Parquet) first; CSV on request
#: (``predictions_file=predictions.csv``).
PREDICTION_FILES = ("predictions.parquet", "predictions.csv")


def write_predictions(table: pd.DataFrame, path: str | Path) -> Path:
    """Write Parquet (``.parquet`` suffix: zstd-compressed, strings dictionary-encoded, ~10x smaller than CSV) or
    CSV (any other suffix)."""
    if Path(path).suffix == ".parquet":
        return atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False, compression="zstd"))
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read and validate a predictions table written by :func:`write_predictions`, Parquet (``.parquet``) or CSV:
    the one reader of predictions tables (eval, compare, the notebook, the review page)."""
    path = Path(path)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)
    return validate_table(table, str(path))


def crash_video_rows(table: pd.DataFrame) -> np.ndarray:
    """``[len(table)]`` bool: the row belongs to a crash video, i.e. a video with an annotated anomaly span
    (``anomaly_start >= 0``) or any window labelled crash (a crash video without a span).

    Not the window labels alone: with ``data.labels.crash_mode=overlap`` only windows that overlap the anomaly are
    labelled crash, and at ``settings.step > 1`` a video whose anomaly starts after its last scored window has none
    (10 fps, windows ending at 0, 8, ..., 96, anomaly [97, 100)): it is still a crash video, not normal driving."""
    window_crash = table.groupby("video_id")["crash"].transform("max").to_numpy() == 1
    return window_crash | (table["anomaly_start"].to_numpy() >= 0)


def find_predictions(folder: str | Path) -> Path | None:
    """The predictions table of run folder ``folder`` (:data:`PREDICTION_FILES`, Parquet first), ``None`` without
    one."""
    return next((Path(folder) / name for name in PREDICTION_FILES if (Path(folder) / name).is_file()), None)


def video_scores(table: pd.DataFrame, score: str = "p_crash") -> list[VideoScores]:
    """Per-video frame scores (windows sorted by ``end_frame``) for the anticipation metrics, videos in ``video_id``
    order; a video's ``crash`` is :func:`crash_video_rows` (its span or its window labels). Arrays are cut from one
    sort of the whole table (no per-video pandas lookups: 10k videos in a second)."""
    ordered = table.sort_values("end_frame")
    ids = ordered["video_id"].to_numpy().astype(str)
    by_video = np.argsort(ids, kind="stable")  # groupby's order: videos sorted, rows in end_frame order within
    ids = ids[by_video]
    if not len(ids):
        return []
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    column = {
        name: ordered[name].to_numpy()[by_video]
        for name in ("end_frame", "crash", "anomaly_start", "anomaly_end", "fps", "num_frames")
    }
    values = ordered[score].to_numpy(dtype=float)[by_video]
    crash = (np.maximum.reduceat(column["crash"], starts) == 1) | (column["anomaly_start"][starts] >= 0)
    return [
        VideoScores(
            frames=column["end_frame"][a:b],
            scores=values[a:b],
            crash=bool(crash[k]),
            anomaly_start=int(column["anomaly_start"][a]),
            anomaly_end=int(column["anomaly_end"][a]),
            fps=float(column["fps"][a]),
            num_frames=int(column["num_frames"][a]),
        )
        for k, (a, b) in enumerate(zip(starts, ends))
    ]


def real_windows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows scored on the real input (``probe == "none"``), not under a shortcut probe."""
    return table[table["probe"] == "none"]


def spanned_windows(table: pd.DataFrame) -> pd.DataFrame:
    """Every row of the videos with an annotated anomaly span (crash videos, :func:`crash_video_rows`): where frame
    AUC is defined. All their windows, whatever their own ``crash`` label: with ``data.labels.crash_mode=overlap``
    only windows that overlap the anomaly are labelled crash, and the frames before it are the AUC's negatives."""
    return table[(table["anomaly_start"] >= 0).to_numpy()]


def video_level(table: pd.DataFrame) -> pd.DataFrame:
    """One row per video: its metadata, ``crash`` = a crash video (:func:`crash_video_rows`: its anomaly span or
    any crash window), ``p_crash`` = the highest P(crash) of its windows (the video is flagged if any window is)."""
    first = table.groupby("video_id", sort=True)[["source", "category", "ego", "night", "fps"]].first()
    flagged = table.assign(crash=crash_video_rows(table).astype(int))
    scores = flagged.groupby("video_id", sort=True).agg(crash=("crash", "max"), p_crash=("p_crash", "max"))
    return first.join(scores).reset_index()
