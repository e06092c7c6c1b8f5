"""``metrics.json`` from a predictions table: every metric of the comparison, with per-video CIs.

The common view scores windows and videos by P(crash) (``p_crash``) against the ``crash`` label;
its decision threshold is the run's threshold (the validation-tuned one for a binary model, 0.5
for the 3-class model's P(Warning) + P(Danger)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskvision.alarm import AlarmPolicy, OperatingPoint
from riskvision.evaluation.anticipation import anticipation_metrics, minmax_per_video
from riskvision.evaluation.bootstrap import Statistic, bootstrap_ci, paired_bootstrap_diff
from riskvision.evaluation.deployment import deployment_metrics
from riskvision.evaluation.nexar import nexar_metrics
from riskvision.evaluation.table import real_windows, spanned_windows, video_level, video_scores
from riskvision.metrics import catalog
from riskvision.metrics.calibration import brier_score, expected_calibration_error, reliability_table
from riskvision.metrics.catalog import MetricSpec, View, scored_unit
from riskvision.metrics.classification import binary_metrics
from riskvision.metrics.ranking import auroc, weighted_statistic
from riskvision.tasks import Task

__all__ = [
    "RunInfo",
    "breakdown",
    "ci_statistics",
    "compute_metrics",
    "headline",
    "in_anomaly",
    "jsonable",
    "probe_metrics",
    "source_probe",
    "view_arrays",
]

BREAKDOWN_COLUMNS = ("category", "ego", "night")


@dataclass
class RunInfo:
    """What a table alone does not say: the run's ``name``, its ``task`` (a ``riskvision.tasks`` object) and
    decision ``threshold``, plus free-form ``extra`` (split, checkpoint, cost, ...) copied into metrics.json, and
    the ``run_id`` of the run folder (``riskvision.runs``) its metrics.json and predictions table both carry; the
    deployed ``alarm`` policy (``None``: the operating point's, else the default) and the ``operating_point`` chosen
    on validation (``None``: none), which the deployment view replays."""

    name: str
    task: Task
    threshold: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    alarm: AlarmPolicy | None = None
    operating_point: OperatingPoint | None = None


def in_anomaly(table: pd.DataFrame) -> np.ndarray:
    """Row's window ends inside its video's anomaly span ``[anomaly_start, anomaly_end)`` (bool ``[N]``)."""
    start, end = table["anomaly_start"].to_numpy(), table["anomaly_end"].to_numpy()
    frame = table["end_frame"].to_numpy()
    return (start >= 0) & (frame >= start) & (frame < end)


def _crash_statistic(rows: pd.DataFrame, function: Callable[..., float]) -> tuple[np.ndarray, Statistic]:
    """``(video_id per row, statistic(row weights))``: ``function`` (:func:`~riskvision.metrics.ranking.auroc`, ...)
    of P(crash) against ``crash`` over ``rows``, the scores sorted once for every weighting (a bootstrap resample)."""
    scores, labels = rows["p_crash"].to_numpy(float), rows["crash"].to_numpy()
    return rows["video_id"].to_numpy(), weighted_statistic(function, scores, labels)


def view_arrays(table: pd.DataFrame) -> dict[View, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(video_id [N], scores [N] float, labels [N])`` of each :class:`~riskvision.metrics.catalog.View` of a
    predictions table's ``none`` probe: window P(crash) vs ``crash``; one row per video (:func:`.table.video_level`);
    the windows of the crash videos with an anomaly span, positive inside the span (DoTA's frame AUC, pooled raw
    scores), and the same with each video's scores min-max normalised first (DoTA's code,
    :func:`.anticipation.frame_auc_minmax`)."""
    real = real_windows(table)
    videos = video_level(real)
    spanned = spanned_windows(real)
    span_ids, span_scores = spanned["video_id"].to_numpy(), spanned["p_crash"].to_numpy(float)
    inside = in_anomaly(spanned)
    return {
        View.WINDOWS: (real["video_id"].to_numpy(), real["p_crash"].to_numpy(float), real["crash"].to_numpy()),
        View.VIDEOS: (videos["video_id"].to_numpy(), videos["p_crash"].to_numpy(float), videos["crash"].to_numpy()),
        View.ANOMALY_FRAMES: (span_ids, span_scores, inside),
        View.ANOMALY_FRAMES_MINMAX: (span_ids, minmax_per_video(span_scores, span_ids), inside),
    }


def ci_statistics(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, Statistic]]:
    """For each CI metric of :data:`riskvision.metrics.catalog.METRICS` (``ci=True``), by name:
    ``(video_id per row, statistic(row weights))``, its function on its view (:func:`view_arrays`)."""
    views = view_arrays(table)
    out = {}
    for spec in catalog.ci_specs():
        ids, scores, labels = views[spec.view]
        out[spec.name] = (ids, weighted_statistic(spec.function, scores, labels))
    return out


def _add_computed(table: pd.DataFrame, specs: Sequence[MetricSpec], metrics: dict[str, Any]) -> None:
    """Write each spec with a function and no CI into ``metrics`` at its path: its function on its view, every row
    weighing 1 (new keys come after a section's own). A path a section already wrote is refused: a metric is
    declared once."""
    computed = [spec for spec in specs if spec.function is not None and not spec.ci]
    views = view_arrays(table) if computed else {}
    for spec in computed:
        *parents, key = spec.path.split(".")
        node: Any = metrics
        for parent in parents:
            node = node.setdefault(parent, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict) or key in node:
            raise ValueError(
                f"metric {spec.name!r}: metrics.json already holds {spec.path!r} (written by its section). "
                "Fix: give the MetricSpec a name of its own"
            )
        _, scores, labels = views[spec.view]
        node[key] = spec.function(scores, labels, None)


def probe_metrics(table: pd.DataFrame, run: RunInfo, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per shortcut probe present: window AUROC / AP / F1 of P(crash) and frame AUC under the probe,
    and ``drop_<metric>`` = value on the real input minus value under the probe (a model that uses
    motion loses accuracy when frame order or motion is destroyed: large drop = good).

    ``drop_window_auroc_ci``: the paired bootstrap of that drop over videos (the same draw of videos for the
    real and the probed windows, :func:`.bootstrap.paired_bootstrap_diff`), ``{"value", "low", "high",
    "p_above_zero"}``: an interval above 0 says the probe costs the model score beyond the choice of videos."""

    def headline(rows: pd.DataFrame) -> dict[str, float]:
        view = binary_metrics(rows["p_crash"].to_numpy(float), rows["crash"].to_numpy(), run.threshold)
        spanned = spanned_windows(rows)
        frame = auroc(spanned["p_crash"].to_numpy(float), in_anomaly(spanned))
        return {"window_auroc": view["auroc"], "window_ap": view["ap"], "window_f1": view["f1"], "frame_auc": frame}

    real = real_windows(table)
    reference = headline(real)
    out = {}
    for probe in sorted(set(table["probe"]) - {"none"}):
        probed = table[table["probe"] == probe]
        values: dict[str, Any] = headline(probed)
        values.update({f"drop_{k}": reference[k] - values[k] for k in reference})
        values["drop_window_auroc_ci"] = paired_bootstrap_diff(
            *_crash_statistic(real, auroc), *_crash_statistic(probed, auroc), n_boot=n_boot, seed=seed
        ).as_dict()
        out[probe] = values
    return out


def source_probe(table: pd.DataFrame) -> dict[str, float]:
    """How well P(crash) separates the SOURCES where nothing is happening: AUROC of ``p_crash`` for
    DoTA (positive) vs BDD (negative) over ``none``-probe windows labelled Normal (``risk == 0``) that
    end before any anomaly (BDD windows; DoTA windows before the warning horizon). 0.5 = the score
    carries no source cue; near 1 = the model flags DoTA footage before anything happens (a source
    shortcut, or genuine early cues, which the timelines can tell apart)."""
    rows = real_windows(table)
    rows = rows[rows["risk"] == 0]
    quiet = rows[(rows["anomaly_start"] < 0) | (rows["end_frame"] < rows["anomaly_start"])]
    is_dota = (quiet["source"] == "dota").to_numpy()
    return {
        "auroc": auroc(quiet["p_crash"].to_numpy(float), is_dota),
        "n_dota": int(is_dota.sum()),
        "n_bdd": int((~is_dota).sum()),
    }


def _group_metrics(group: pd.DataFrame, negatives: pd.DataFrame, threshold: float) -> dict[str, float]:
    videos = video_level(group)
    crash_videos = videos[videos["crash"] == 1]
    normal_videos = videos[videos["crash"] == 0]
    vs_normals = pd.concat([crash_videos, negatives])
    spanned = spanned_windows(group)
    return {
        "n_videos": len(videos),
        "n_crash_videos": len(crash_videos),
        "detection_rate": float(np.mean(crash_videos["p_crash"] >= threshold)) if len(crash_videos) else math.nan,
        "false_alarm_rate": float(np.mean(normal_videos["p_crash"] >= threshold)) if len(normal_videos) else math.nan,
        "video_auroc_vs_all_normals": auroc(vs_normals["p_crash"].to_numpy(float), vs_normals["crash"].to_numpy()),
        "frame_auc": auroc(spanned["p_crash"].to_numpy(float), in_anomaly(spanned)),
    }


def breakdown(
    table: pd.DataFrame, threshold: float, by: Sequence[str] = BREAKDOWN_COLUMNS
) -> dict[str, dict[str, dict]]:
    """Per value of each ``by`` column (``none`` probe): video counts; ``detection_rate`` = share of its
    crash videos whose highest P(crash) >= threshold; ``false_alarm_rate`` = the same for its normal
    videos; ``video_auroc_vs_all_normals`` = video-level AUROC of its crash videos against ALL normal
    videos of the table (categories hold crash videos only); ``frame_auc`` within its crash videos."""
    real = real_windows(table)
    videos = video_level(real)
    negatives = videos[videos["crash"] == 0]
    return {
        column: {
            str(value): _group_metrics(group, negatives, threshold) for value, group in real.groupby(column, sort=True)
        }
        for column in by
    }


def calibration(table: pd.DataFrame, n_bins: int = 15) -> dict[str, Any]:
    """Brier score, ECE and reliability-diagram bins of window P(crash) vs ``crash`` (``none`` probe)."""
    real = real_windows(table)
    p, y = real["p_crash"].to_numpy(float), real["crash"].to_numpy()
    return {
        "brier": brier_score(p, y),
        "ece": expected_calibration_error(p, y, n_bins),
        "reliability": reliability_table(p, y, n_bins).to_dict(orient="list"),
    }


def compute_metrics(
    table: pd.DataFrame, run: RunInfo, n_boot: int = 1000, seed: int = 0, false_alarm_cap_per_hour: float = 1.0
) -> dict[str, Any]:
    """Everything ``metrics.json`` holds, computed from one run's predictions table (see module doc).

    Besides our own definitions, named conventions reproduce published evaluation code: ``frame_auc_minmax``
    (DoTA's per-video min-max normalised frame AUC), ``anticipation_ustring`` (UString's / DSTA's AP, mTTA,
    TTA@R80 and DSTA's P@R80, :func:`.anticipation.anticipation_metrics`) and ``nexar`` (the Nexar challenge's mean
    AP at 0.5 / 1.0 / 1.5 s, :mod:`.nexar`); ``deployment`` replays the deployed alarm policy (``run.alarm``): false
    alarms per hour of normal driving, recall and mTTA at the operating point chosen on validation
    (``run.operating_point``), at the run's threshold and at ``false_alarm_cap_per_hour`` (:mod:`.deployment`).
    """
    real = real_windows(table)
    videos = video_level(real)
    per_video = video_scores(real)
    cis = {name: bootstrap_ci(ids, stat, n_boot, seed).as_dict() for name, (ids, stat) in ci_statistics(table).items()}
    metrics = {
        "run": {
            "name": run.name,
            "id": run.run_id,
            "task": run.task.name,
            "threshold": run.threshold,
            "class_names": list(run.task.class_names) if run.task.class_names else None,
            **run.extra,
        },
        "counts": {
            "windows": len(real),
            "videos": len(videos),
            "crash_videos": int(videos["crash"].sum()),
            "sources": real.groupby("source")["video_id"].nunique().to_dict(),
        },
        "own_task": run.task.own_metrics(real, run.threshold),
        "common": {
            "window": binary_metrics(real["p_crash"].to_numpy(float), real["crash"].to_numpy(), run.threshold),
            "video": binary_metrics(videos["p_crash"].to_numpy(float), videos["crash"].to_numpy(), run.threshold),
        },
        "frame_auc": cis["frame_auc"]["value"],
        "frame_auc_minmax": cis["frame_auc_minmax"]["value"],
        "anticipation": anticipation_metrics(per_video),
        "anticipation_ustring": anticipation_metrics(per_video, convention="ustring"),
        "nexar": nexar_metrics(real),
        "deployment": deployment_metrics(
            table, run.threshold, false_alarm_cap_per_hour, n_boot, seed, run.alarm, run.operating_point
        ),
        "calibration": calibration(table),
        "ci": cis,
        "breakdown": breakdown(table, run.threshold),
        "probes": probe_metrics(table, run, n_boot, seed),
        "source_probe": source_probe(table),
    }
    _add_computed(table, catalog.METRICS, metrics)
    return metrics


def headline(metrics: Mapping[str, Any]) -> str:
    """The line a run ends with, from its ``metrics.json`` contents: split, counts, the task's F1 (macro-F1 for
    3 classes) named with its unit (per scored window or clip) and, for a binary task, its precision, recall and
    threshold; window and video AUROC with their 95% CIs, frame AUC and mean time-to-accident."""

    def ci(name: str) -> str:
        entry = metrics["ci"].get(name) or {}
        value, low, high = entry.get("value"), entry.get("low"), entry.get("high")
        if value is None:
            return "n/a"
        return f"{value:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else "")

    run, counts, own = metrics["run"], metrics["counts"], metrics["own_task"]
    unit = scored_unit(run)
    if "f1_macro" in own:
        f1 = f"{unit} macro-F1 {own['f1_macro']:.3f}" if own["f1_macro"] is not None else f"{unit} macro-F1 n/a"
    elif own.get("f1") is not None:
        f1 = (
            f"{unit} F1 {own['f1']:.3f} (precision {own.get('precision', math.nan):.3f}, recall "
            f"{own.get('recall', math.nan):.3f} at threshold {run.get('threshold', math.nan):.2f})"
        )
    else:
        f1 = f"{unit} F1 n/a"
    mtta = metrics["anticipation"].get("mtta")
    parts = [
        f"{run.get('name')} on the {run.get('split')} split: {counts['windows']:,} {unit}s of "
        f"{counts['videos']} videos ({counts['crash_videos']} crash)",
        f1,
        f"window AUROC {ci('window_auroc')}",
        f"video AUROC {ci('video_auroc')}",
        f"frame AUC {ci('frame_auc')}",
        f"mTTA {mtta:.2f} s" if mtta is not None else "mTTA n/a",
    ]
    return " | ".join(parts)


def jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars unwrapped, ``nan``/``inf`` -> ``None``), recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
