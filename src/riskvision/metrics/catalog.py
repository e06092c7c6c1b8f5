"""Every metric of metrics.json and comparison.md, declared once: :data:`METRICS`, one :class:`MetricSpec` each.

A spec says where metrics.json holds the metric (``name``, a dotted path; a CI metric's interval sits at
``ci.<name>``), how it is computed (``function`` on a ``view``, or ``None`` where a group function writes its whole
section: ``binary_metrics`` the ``common.window`` numbers, ``anticipation_metrics`` the ``anticipation`` ones),
whether it gets a per-video bootstrap CI (``ci``: an interval in metrics.json, a paired difference in the
comparison), its row of comparison.md (``label``) and how a value is written there (``fmt``). metrics.json
(:func:`riskvision.evaluation.summary.compute_metrics`), comparison.md's rows and CI rows
(:func:`riskvision.evaluation.report.comparison_table`) and the notebook iterate this one table, so adding a metric
is one entry::

    MetricSpec("window_brier", "window Brier score [95% CI]", with_ci, function=brier_score, view=View.WINDOWS, ci=True)

The table also holds the rows that are facts of the run rather than metrics (task, threshold, cost, counts), so
comparison.md's row order is this table's order. Pure Python and numpy (the floor below tasks and evaluation).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from riskvision.metrics.ranking import auroc, average_precision

__all__ = [
    "METRICS",
    "TRAINING_DATA",
    "MetricSpec",
    "ScoreFunction",
    "View",
    "ci_specs",
    "lookup",
    "number",
    "scored_unit",
    "with_ci",
]

#: ``f(scores [N] float, labels [N] bool or 0/1, weights [N] float | None) -> float`` (``None``: every row weighs 1;
#: a bootstrap resample passes its per-row draw counts).
ScoreFunction = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], float]


class View(enum.Enum):
    """The rows, scores and labels a metric's function sees (on the ``none`` probe: real input, replaced clips out);
    :func:`riskvision.evaluation.summary.view_arrays` gives each as ``(video_id [N], scores [N], labels [N])``."""

    WINDOWS = "window"
    """Every scored window: P(crash) against the ``crash`` label."""
    VIDEOS = "video"
    """One row per video: its highest window P(crash) against ``crash``."""
    ANOMALY_FRAMES = "anomaly_frames"
    """Every window of the crash videos with an anomaly span: P(crash) against "ends inside the span" (DoTA's frame
    AUC, pooled raw scores)."""
    ANOMALY_FRAMES_MINMAX = "anomaly_frames_minmax"
    """:attr:`ANOMALY_FRAMES` with each video's scores min-max normalised first (DoTA's evaluation code)."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric (or fact of a run) of metrics.json and its row of comparison.md.

    Args:
        name: the metric's dotted path in metrics.json (``"common.window.f1"``); a CI metric's name is its key
            under ``ci`` (``"window_auroc"`` -> ``ci.window_auroc``, see :attr:`path`).
        label: its row in comparison.md (unique).
        fmt: the cell of the value at :attr:`path` (``None`` where an older metrics.json lacks it).
        function: computes the metric on ``view`` (:data:`ScoreFunction`); ``None``: a section of
            :func:`~riskvision.evaluation.summary.compute_metrics` writes the value.
        view: the rows, scores and labels ``function`` sees.
        ci: a per-video bootstrap interval (``{"value", "low", "high", "p_above_zero"}`` at ``ci.<name>``) and a
            paired difference column in the comparison; needs ``function``.
    """

    name: str
    label: str
    fmt: Callable[[Any], str]
    function: ScoreFunction | None = None
    view: View | None = None
    ci: bool = False

    def __post_init__(self) -> None:
        if (self.function is None) != (self.view is None):
            raise ValueError(f"metric {self.name!r}: give both function= and view=, or neither")
        if self.ci and self.function is None:
            raise ValueError(f"metric {self.name!r}: ci=True needs function= and view= (what the bootstrap resamples)")

    @property
    def path(self) -> str:
        """Where metrics.json holds the value: ``ci.<name>`` for a CI metric, else ``name``."""
        return f"ci.{self.name}" if self.ci else self.name


def lookup(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` of a metrics.json dict, ``None`` where any key on the way is missing."""
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def ci_specs(specs: Sequence[MetricSpec] | None = None) -> tuple[MetricSpec, ...]:
    """The specs with a bootstrap CI, in table order (``specs``: :data:`METRICS` when ``None``, read at call time)."""
    return tuple(spec for spec in (METRICS if specs is None else specs) if spec.ci)


# ------------------------------------------------------------------------------------------ cells
def number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``—`` for ``None`` / ``nan``."""
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def with_ci(interval: Mapping[str, Any] | None) -> str:
    """A CI metric's cell: ``value [low, high]``; ``—`` where metrics.json has no value."""
    if not interval or interval.get("value") is None:
        return "—"
    return f"{number(interval['value'])} [{number(interval['low'])}, {number(interval['high'])}]"


def _nexar(values: Mapping[str, Any] | None) -> str:
    if not values:
        return "—"
    per_horizon = " / ".join(number(values.get(f"ap_{ms}ms")) for ms in (500, 1000, 1500))
    return f"{number(values.get('map'))} ({per_horizon})"


def _capped_threshold(deployment: Mapping[str, Any] | None) -> str:
    """The capped threshold (metrics.json writes ``inf``, only silence meets the cap, as ``null``)."""
    deployment = deployment or {}
    cap, hours = lookup(deployment, "at_cap.cap_per_hour"), lookup(deployment, "negative_hours")
    if cap is None or not hours:
        return "—"
    threshold = lookup(deployment, "at_cap.threshold")
    value = "∞ (only silence meets it)" if threshold is None else number(threshold)
    return f"{value} (cap {cap:g} / h; {number(hours, 2)} h of normal driving)"


def _policy(policy: Mapping[str, Any] | None) -> str:
    """The deployed alarm policy in words (metrics.json files written before it existed: —)."""
    if not policy:
        return "—"
    smoothing = ", ".join(f"{k} {v:g}" for k, v in policy["smoothing"].items() if k != "kind")
    rule = policy["rule"]
    return (
        f"{policy['smoothing']['kind']}{f' ({smoothing})' if smoothing else ''}; on for {rule['min_on_s']:g} s, "
        f"off below {rule['off_ratio']:g} x threshold"
    )


def _operating_point(point: Mapping[str, Any] | None) -> str:
    """The operating point's threshold and where it came from (``null`` threshold: no alarm)."""
    if not point:
        return "—"
    value = "no alarm (no threshold meets the cap)" if point["threshold"] is None else number(point["threshold"])
    return f"{value} (<= {point['cap_per_hour']:g} false alarms / h on {point['chosen_on']}, step {point['step']})"


def _probe(values: Mapping[str, Any] | None) -> str:
    if not values:
        return "—"
    ci = values.get("drop_window_auroc_ci")  # metrics.json files written before it existed lack it
    interval = f" [{number(ci['low'])}, {number(ci['high'])}]" if ci else ""
    return f"{number(values['window_auroc'])} (drop {number(values['drop_window_auroc'])}{interval})"


#: metrics.json's ``run.data`` of an evaluation on the data the checkpoint was trained on (``data=<group>`` otherwise).
TRAINING_DATA = "the training data"


def scored_unit(run: Mapping[str, Any]) -> str:
    """What one row of a run's predictions table is, for labels: ``window`` (sliding scoring: a window ending at
    every ``step``-th frame) or ``clip`` (``scoring=clips``: the model's own validation / test clips)."""
    return "clip" if run.get("scoring") == "clips" else "window"


def _scored_unit(run: Mapping[str, Any] | None) -> str:
    """What one scored row is: a sliding window (with its step) or one of the model's own test clips."""
    run = run or {}
    if scored_unit(run) == "clip":
        return "clip (the model's own clips)"
    step = run.get("step") or 1
    return "window (one ending at every frame)" if step == 1 else f"window (one ending at every {step}th frame)"


def _evaluated_on(run: Mapping[str, Any] | None) -> str:
    """The split and the data set the numbers come from: ``test split of the training data set`` or
    ``test split of data=ccd``."""
    run = run or {}
    data = run.get("data")
    data = "the training data set" if data in (None, TRAINING_DATA) else data
    return f"{run.get('split') or '?'} split of {data}"


def _scored(counts: Mapping[str, Any] | None) -> str:
    counts = counts or {}
    return f"{counts.get('windows')} / {counts.get('videos')}"


def _millions(value: Any) -> str:
    return number((value or np.nan) / 1e6, 2)


_two = partial(number, digits=2)
_one = partial(number, digits=1)

#: Every row of comparison.md in order, each metric declared once (see the module doc).
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("run.task", "task", str),
    MetricSpec("own_task.f1", "own task: F1 per scored unit at the validation-tuned threshold (binary)", number),
    MetricSpec("own_task.f1_macro", "own task: macro-F1 per scored unit (3-class)", number),
    MetricSpec("own_task.accuracy", "own task: accuracy per scored unit", number),
    MetricSpec("run.threshold", "P(crash) threshold (tuned on the validation split)", _two),
    MetricSpec("window_auroc", "window AUROC [95% CI]", with_ci, auroc, View.WINDOWS, ci=True),
    MetricSpec("window_ap", "window AP [95% CI]", with_ci, average_precision, View.WINDOWS, ci=True),
    MetricSpec("common.window.f1", "window F1 (P(crash) >= threshold)", number),
    MetricSpec("video_auroc", "video AUROC [95% CI]", with_ci, auroc, View.VIDEOS, ci=True),
    MetricSpec("video_ap", "video AP [95% CI]", with_ci, average_precision, View.VIDEOS, ci=True),
    MetricSpec("common.video.f1", "video F1 (a video's highest P(crash) >= threshold)", number),
    MetricSpec("frame_auc", "DoTA frame AUC [95% CI]", with_ci, auroc, View.ANOMALY_FRAMES, ci=True),
    MetricSpec(
        "frame_auc_minmax",
        "DoTA frame AUC, per-video min-max (DoTA convention) [95% CI]",
        with_ci,
        auroc,
        View.ANOMALY_FRAMES_MINMAX,
        ci=True,
    ),
    MetricSpec("anticipation.ap", "anticipation AP, riskvision convention", number),
    MetricSpec("anticipation.mtta", "mTTA (s), riskvision convention", _two),
    MetricSpec("anticipation.tta_r80", "TTA@R80 (s), riskvision convention", _two),
    MetricSpec("anticipation_ustring.ap", "anticipation AP, UString convention", number),
    MetricSpec("anticipation_ustring.mtta", "mTTA (s), UString convention", _two),
    MetricSpec("anticipation_ustring.tta_r80", "TTA@R80 (s), UString convention", _two),
    MetricSpec("anticipation_ustring.precision_r80", "P@R80, DSTA convention", number),
    MetricSpec("nexar", "Nexar mAP (AP at 0.5 / 1.0 / 1.5 s before the event)", _nexar),
    MetricSpec("deployment.policy", "alarm policy (deployed: replayed per video)", _policy),
    MetricSpec("deployment.operating_point", "alarm operating point (chosen on validation)", _operating_point),
    MetricSpec(
        "deployment.operating_point.false_alarms_per_hour", "false alarms / h at the operating point [95% CI]", with_ci
    ),
    MetricSpec("deployment.operating_point.recall", "recall at the operating point [95% CI]", with_ci),
    MetricSpec("deployment.operating_point.mtta", "mTTA (s) at the operating point [95% CI]", with_ci),
    MetricSpec(
        "deployment.at_threshold.false_alarms_per_hour",
        "false alarms / h of normal driving at threshold [95% CI]",
        with_ci,
    ),
    MetricSpec("deployment", "threshold at the false-alarm cap on test", _capped_threshold),
    MetricSpec("deployment.at_cap.recall", "recall at the false-alarm cap [95% CI]", with_ci),
    MetricSpec("deployment.at_cap.mtta", "mTTA (s) at the false-alarm cap [95% CI]", with_ci),
    MetricSpec("calibration.brier", "Brier score (windows)", number),
    MetricSpec("calibration.ece", "ECE (windows, 15 bins)", number),
    MetricSpec("probes.shuffled", "probe shuffled: window AUROC", _probe),
    MetricSpec("probes.repeated", "probe repeated: window AUROC", _probe),
    MetricSpec("source_probe.auroc", "source probe: DoTA-vs-BDD AUROC, quiet windows", number),
    MetricSpec("run.cost.parameters", "parameters (M)", _millions),
    MetricSpec("run.cost.gflops_per_window", "GFLOPs / window", _two),
    MetricSpec("run.cost.cpu_latency_ms_per_window", "CPU latency (ms / window)", _one),
    MetricSpec("run", "scored unit", _scored_unit),
    MetricSpec("counts", "windows / videos scored", _scored),
    MetricSpec("run", "evaluated on", _evaluated_on),
)
