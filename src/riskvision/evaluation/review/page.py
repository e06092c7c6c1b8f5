"""Write the review page: ``index.html`` + ``review.js`` / ``review.css`` (this package's files), ``data.js`` (the
table: one entry per scored video, per run its outcome), ``series/<k>.js`` (video ``k``'s timelines, loaded when it
is opened) and ``clips/*.mp4``. Everything is plain files: the page opens from disk (``file://``) with no server.

The data are JavaScript files, not JSON: a page opened from disk may run the scripts next to it but not ``fetch()``
them.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha1
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskvision.evaluation.deployment import OUTCOMES, video_outcomes
from riskvision.evaluation.report import Run, find_runs, load_runs
from riskvision.evaluation.review.clips import ClipError, ClipSettings, find_videos, make_clip
from riskvision.evaluation.review.locate import VideoLocation, locate_videos
from riskvision.evaluation.review.policy import RunPolicy, policy_trace, run_policy
from riskvision.evaluation.summary import jsonable
from riskvision.evaluation.table import real_windows
from riskvision.figure_style import ANOMALY_SPAN, THRESHOLD_LINE, WARNING_SPAN
from riskvision.files import atomic_write
from riskvision.progress import ProgressLine

__all__ = ["ASSETS", "ReviewSettings", "build_review", "review_settings", "write_review"]

#: The page's own files, copied next to its data.
ASSETS = ("index.html", "review.js", "review.css")
META = ("source", "category", "ego", "night", "fps", "num_frames", "anomaly_start", "anomaly_end")
#: An optional column of the predictions table: the annotated alert frame (target rate, -1: none). Tables written
#: today do not carry it; the page's alert column and line stay empty then.
ALERT = "alert_start"


@dataclass
class ReviewSettings:
    """What the page is built with: ``videos`` (folders searched for each video's file or frame folder,
    :func:`.clips.find_videos`) and ``located`` (videos and alert times of a data config's records,
    :func:`.locate.locate_videos`; they win over the search), neither: no clips; the ``clips``' encoding; the page
    ``title``. The alarm policy is each run's own (its metrics.json, :func:`.policy.run_policy`)."""

    videos: Sequence[str] = ()
    located: Mapping[str, VideoLocation] = field(default_factory=dict)
    clips: ClipSettings = field(default_factory=ClipSettings)
    title: str = "riskvision review"


def _clip_name(video_id: str) -> str:
    """A file name for ``video_id``: itself when it is a plain name, else a slug + a digest (no collision)."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", video_id)[:80]
    return f"{slug}.mp4" if slug == video_id else f"{slug}-{sha1(video_id.encode()).hexdigest()[:10]}.mp4"


def _located_alert(settings: ReviewSettings, video_id: str) -> float | None:
    place = settings.located.get(video_id)
    return None if place is None else place.alert_s


def _rounded(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def _reference(run: Run, alarm: RunPolicy) -> dict[str, Any]:
    """metrics.json's policy-replayed deployment counts where the page replays (``deployment.operating_point``, else
    ``deployment.at_threshold``): the page's check of its outcome counts."""
    key = "operating_point" if alarm.basis == "operating point" else "at_threshold"
    deployment = run.metrics["deployment"]
    at = deployment.get(key) or {}
    recall = (at.get("recall") or {}).get("value")
    positives = deployment.get("n_positive_videos")
    return {
        "key": key,
        "n_positive": positives,
        "n_negative": deployment.get("n_negative_videos"),
        "false_alarms": at.get("false_alarms"),
        "detected": None if recall is None or positives is None else round(recall * positives),
    }


def _video_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per video scored by any run (sorted by id): its metadata, from the first run that has it."""
    firsts = [
        real_windows(run.table).groupby("video_id", sort=True)[[c for c in (*META, ALERT) if c in run.table]].first()
        for run in runs
    ]
    videos = pd.concat(firsts)
    videos[ALERT] = videos[ALERT].fillna(-1).astype(int) if ALERT in videos else -1
    return videos[~videos.index.duplicated()].sort_index()


def _clips(videos: pd.DataFrame, out: Path, settings: ReviewSettings) -> tuple[dict[str, str], dict[str, str]]:
    """``(video_id -> clip path relative to out, video_id -> why it has none)``."""
    if not settings.videos and not settings.located:
        reason = "no videos given: rerun with videos=[FOLDER,...] or data=<group> (the data config's records)"
        return {}, {video_id: reason for video_id in videos.index}
    found = find_videos(settings.videos, videos.index) if settings.videos else {}
    found.update({video_id: place.path for video_id, place in settings.located.items()})
    clips, missing = {}, {}
    progress = ProgressLine("writing review clips", len(videos), "clips")
    for video_id, meta in videos.iterrows():
        progress.advance(note=video_id)
        if video_id not in found:
            missing[video_id] = (
                f"not found: no video file or frame folder named {video_id!r} under "
                f"{', '.join(map(str, settings.videos)) or '(no folder)'}"
                f"{' and no record of that id in the data config' if settings.located else ''}"
            )
            continue
        name = f"clips/{_clip_name(video_id)}"
        try:
            make_clip(found[video_id], out / name, float(meta["fps"]), int(meta["num_frames"]), settings.clips)
            clips[video_id] = name
        except ClipError as error:
            missing[video_id] = str(error)
    progress.close(min_elapsed_s=2.0)
    return clips, missing


def _run_entries(run: Run, videos: pd.DataFrame, alarm: RunPolicy) -> tuple[dict[str, list], dict[str, dict]]:
    """``(video_id -> [max P, first alarm s, TTA s, false-alarm episodes, outcome index],
    video_id -> its timeline: frames, P, smoothed P, alarm episodes)`` of one run, its policy replayed at
    ``alarm.threshold``."""
    outcomes = video_outcomes(run.table, alarm.policy, alarm.threshold).set_index("video_id")
    rows, series = {}, {}
    for video_id, windows in real_windows(run.table).sort_values("end_frame").groupby("video_id", sort=True):
        fps, outcome = float(videos.at[video_id, "fps"]), outcomes.loc[video_id]
        first = int(outcome["first_alarm"])
        rows[video_id] = [
            outcome["max_p"],
            first / fps if first >= 0 else None,
            outcome["tta_s"],
            outcome["false_alarms"],
            OUTCOMES.index(outcome["outcome"]),
        ]
        frames, p_crash = windows["end_frame"].to_numpy(), windows["p_crash"].to_numpy(float)
        trace = policy_trace(frames, p_crash, fps, int(videos.at[video_id, "num_frames"]) / fps, alarm)
        series[video_id] = {
            "frames": frames.tolist(),
            "p": _rounded(p_crash),
            "smoothed": _rounded(trace.smoothed),
            "episodes": [[round(a, 3), round(b, 3)] for a, b in trace.episodes],
        }
    return rows, series


def _script(before: str, value: Any, after: str) -> str:
    """The text of a JavaScript file ``before + JSON(value) + after`` (``nan`` / ``inf`` -> ``null``)."""
    return before + json.dumps(jsonable(value), separators=(",", ":"), allow_nan=False) + after + "\n"


def write_review(runs: Sequence[Run], out_dir: str | Path, settings: ReviewSettings | None = None) -> Path:
    """Write the review page of ``runs`` (loaded by :func:`riskvision.evaluation.report.load_runs`) into
    ``out_dir``; returns ``out_dir/index.html``."""
    settings = settings or ReviewSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    alarms = [run_policy(run.metrics, str(run.folder / "metrics.json")) for run in runs]  # refused before any clip
    videos = _video_table(runs)
    clips, missing = _clips(videos, out, settings)
    per_run = [_run_entries(run, videos, alarm) for run, alarm in zip(runs, alarms)]
    entries, partial = [], out / ".series.partial"  # the series folder is replaced whole, once complete
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for k, (video_id, meta) in enumerate(videos.iterrows()):
        start, end, fps = int(meta["anomaly_start"]), int(meta["anomaly_end"]), float(meta["fps"])
        entries.append(
            {
                "id": video_id,
                "source": meta["source"],
                "category": meta["category"],
                "ego": bool(meta["ego"]),
                "night": bool(meta["night"]),
                "fps": fps,
                "num_frames": int(meta["num_frames"]),
                "anomaly": [start / fps, end / fps] if start >= 0 else None,
                "alert": int(meta[ALERT]) / fps if int(meta[ALERT]) >= 0 else _located_alert(settings, video_id),
                "clip": clips.get(video_id),
                "missing": missing.get(video_id),
                "runs": [rows.get(video_id) for rows, _ in per_run],
            }
        )
        (partial / f"{k}.js").write_text(
            _script(f"REVIEW.addSeries({k}, ", [series.get(video_id) for _, series in per_run], ");")
        )
    shutil.rmtree(out / "series", ignore_errors=True)
    partial.rename(out / "series")
    data = {
        "title": settings.title,
        "outcomes": list(OUTCOMES),
        "runs": [
            {
                "name": run.name,
                "folder": str(run.folder),
                "threshold": alarm.threshold,
                "basis": alarm.basis,
                "policy": alarm.describe,
                "reference": _reference(run, alarm),
            }
            for run, alarm in zip(runs, alarms)
        ],
        "style": {"anomaly": ANOMALY_SPAN, "warning": WARNING_SPAN, "threshold": THRESHOLD_LINE},
        "videos": entries,
    }
    text = _script("window.REVIEW_DATA = ", data, ";")
    atomic_write(out / "data.js", lambda tmp: tmp.write_text(text))
    for name in ASSETS:
        text = resources.files(__package__).joinpath(name).read_text()
        atomic_write(out / name, lambda tmp, text=text: tmp.write_text(text))
    return out / "index.html"


def review_settings(config: Mapping[str, Any]) -> ReviewSettings:
    """:class:`ReviewSettings` from ``conf/review.yaml``'s keys (or compare.yaml's ``review``): ``videos``, ``data``
    (a data config: its records locate the videos), ``title`` and ``clips``; a key left out keeps its default. The
    alarm policy is not a setting: each run's own is drawn (:func:`.policy.run_policy`)."""
    data = config.get("data")
    return ReviewSettings(
        videos=[str(v) for v in (config.get("videos") or [])],
        title=str(config.get("title") or "riskvision review"),
        located=locate_videos(data) if data is not None else {},
        clips=ClipSettings(**dict(config.get("clips") or {})),
    )


def build_review(paths: Sequence[str | Path], out_dir: str | Path, settings: ReviewSettings | None = None) -> Path:
    """``scripts/review.py``: the run folders at or below ``paths`` (as compare.py finds them) -> the page in
    ``out_dir``; returns its ``index.html``."""
    return write_review(load_runs(find_runs(paths)), out_dir, settings)
