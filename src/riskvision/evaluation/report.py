"""The comparison report: load run folders, build the side-by-side table (with per-video CIs and
paired differences) and draw the figures. Figures use matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from riskvision.evaluation.bootstrap import paired_bootstrap_diff, shared_videos  # noqa: E402
from riskvision.evaluation.summary import ci_statistics  # noqa: E402
from riskvision.evaluation.table import find_predictions, read_predictions, real_windows, spanned_windows  # noqa: E402
from riskvision.figure_style import ANOMALY_SPAN, GRID, THRESHOLD_LINE, WARNING_SPAN  # noqa: E402
from riskvision.files import atomic_write  # noqa: E402
from riskvision.metrics import catalog  # noqa: E402
from riskvision.metrics.calibration import reliability_table  # noqa: E402
from riskvision.metrics.catalog import lookup, number  # noqa: E402
from riskvision.metrics.ranking import auroc, average_precision  # noqa: E402
from riskvision.progress import ProgressLine  # noqa: E402
from riskvision.runs import RunMismatchError, claim_run_folder  # noqa: E402

__all__ = [
    "Run",
    "breakdown_table",
    "comparison_table",
    "confusion_figure",
    "deployment_curve_figure",
    "find_runs",
    "load_runs",
    "log_to_wandb",
    "metric_values",
    "plot_deployment_curve",
    "plot_confusion_matrices",
    "plot_reliability",
    "plot_roc_pr",
    "plot_timelines",
    "reference_first",
    "reliability_figure",
    "review_line",
    "roc_pr_figure",
    "run_colour",
    "timelines_figure",
    "to_markdown",
    "write_report",
]


@dataclass
class Run:
    """One evaluated run: its column ``name``, ``folder``, predictions ``table`` and ``metrics`` (metrics.json)."""

    name: str
    folder: Path
    table: pd.DataFrame
    metrics: dict[str, Any]


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders (holding metrics.json and a predictions file) at or anywhere below ``paths``
    (a multirun folder works), sorted, each once."""
    found: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"runs: {path} does not exist")
        candidates = [path, *(p.parent for p in path.rglob("metrics.json"))]
        found.update(c for c in candidates if (c / "metrics.json").is_file() and find_predictions(c))
    if not found:
        raise FileNotFoundError(
            f"no run folder (metrics.json + predictions.parquet or .csv) under "
            f"{[str(p) for p in paths]}; "
            "run scripts/eval.py first"
        )
    return sorted(found)


def load_runs(folders: Sequence[str | Path]) -> list[Run]:
    """Load each folder; column names are the runs' names, made unique with the folder name if needed.

    A folder's metrics.json and predictions table must carry one run id (``riskvision.evaluation.predict.
    write_evaluation``), and no run may be given twice: otherwise :class:`~riskvision.runs.RunMismatchError` names
    the folders and ids.
    """
    runs = []
    progress = ProgressLine("loading evaluated runs", len(folders), "runs")
    for folder in map(Path, folders):
        progress.advance(note=str(folder))
        metrics = json.loads((folder / "metrics.json").read_text())
        predictions = find_predictions(folder)
        table = read_predictions(predictions)
        _check_run_id(folder, metrics, table, predictions)
        runs.append(Run(metrics["run"]["name"], folder, table, metrics))
    progress.close(min_elapsed_s=2.0)
    seen: dict[str, Path] = {}
    for run in runs:
        first = seen.setdefault(run.metrics["run"]["id"], run.folder)
        if first != run.folder:
            raise RunMismatchError(
                f"{first} and {run.folder} hold the same evaluation (run id "
                f"{run.metrics['run']['id']}): "
                "a copy compared with itself differs by 0 on every metric. Fix: compare different runs"
            )
    names = [r.name for r in runs]
    for run in runs:
        if names.count(run.name) > 1:
            run.name = f"{run.name} ({run.folder.parent.name}/{run.folder.name})"
    return runs


def reference_first(runs: Sequence[Run], reference: str | None) -> list[Run]:
    """``runs`` with the reference run first (the "A" every other run is paired against): the run whose name or
    folder is ``reference``, else the only one whose name contains it; ``None`` keeps the order.

    Raises:
        RunMismatchError: no run, or several, match ``reference`` (the message lists the runs' names).
    """
    runs = list(runs)
    if reference is None:
        return runs
    matches = [run for run in runs if reference in (run.name, str(run.folder), run.folder.name)]
    matches = matches or [run for run in runs if reference in run.name]
    if len(matches) != 1:
        raise RunMismatchError(
            f"reference={reference!r} matches {len(matches)} of the runs "
            f"({'; '.join(run.name for run in runs)}). Fix: reference=<one run's name or folder>"
        )
    return [matches[0], *(run for run in runs if run is not matches[0])]


# ------------------------------------------------------------------------------------------ table
def _check_run_id(folder: Path, metrics: dict[str, Any], table: pd.DataFrame, predictions: Path) -> None:
    """metrics.json and the predictions table of ``folder`` come from one evaluation (one run id)."""
    metrics_id = metrics.get("run", {}).get("id")
    table_ids = sorted(set(table["run_id"].astype(str))) if "run_id" in table.columns else []
    if metrics_id is None or not table_ids:
        raise RunMismatchError(
            f"{folder}: metrics.json and {predictions.name} carry no run id (written before "
            "riskvision recorded one), so nothing says they belong together. Fix: evaluate the checkpoint again "
            "with scripts/eval.py into a new folder"
        )
    if table_ids != [metrics_id]:
        raise RunMismatchError(
            f"{folder}: {predictions.name} comes from run {', '.join(table_ids)} but metrics.json "
            f"from run {metrics_id}: an evaluation was interrupted or two wrote into this folder, and the "
            "files do not belong together. Fix: evaluate the checkpoint again into a new folder"
        )


def paired_differences(
    a: Run, b: Run, n_boot: int = 1000, seed: int = 0, stats_a: dict | None = None
) -> dict[str, dict[str, float]]:
    """For each CI metric (:func:`riskvision.metrics.catalog.ci_specs`), by name: ``a - b`` with its paired
    per-video bootstrap CI (``stats_a``: ``ci_statistics(a.table)`` when the caller already has it)."""
    stats_a = ci_statistics(a.table) if stats_a is None else stats_a
    stats_b = ci_statistics(b.table)
    return {
        name: paired_bootstrap_diff(*stats_a[name], *stats_b[name], n_boot=n_boot, seed=seed).as_dict()
        for name in (spec.name for spec in catalog.ci_specs())
    }


def shares_videos(a: Run, b: Run) -> bool:
    """Whether two runs scored at least one video in common (same ``video_id``): only then are they paired."""
    return shared_videos(a.table["video_id"].unique(), b.table["video_id"].unique()).size > 0


def _difference_cell(diff: dict[str, float]) -> str:
    if diff["value"] is None or np.isnan(diff["value"]):
        return "—"
    return f"{diff['value']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}] P(>0)={diff['p_above_zero']:.2f}"


def comparison_table(runs: Sequence[Run], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Rows = metrics (:data:`riskvision.metrics.catalog.METRICS`, each its label and its ``fmt`` of the value at its
    path), columns = runs, then one ``<first> − <other>`` column per other run holding the paired difference of each
    CI metric with its 95% CI and the share of resamples where it is > 0."""
    specs = catalog.METRICS
    table = pd.DataFrame(
        {run.name: [spec.fmt(lookup(run.metrics, spec.path)) for spec in specs] for run in runs},
        index=[spec.label for spec in specs],
    )
    ci_rows = {spec.name: spec.label for spec in catalog.ci_specs(specs)}
    stats_first = ci_statistics(runs[0].table) if len(runs) > 1 else None
    for other in runs[1:]:
        column = pd.Series("", index=table.index)
        if shares_videos(runs[0], other):
            for name, diff in paired_differences(runs[0], other, n_boot, seed, stats_first).items():
                column[ci_rows[name]] = _difference_cell(diff)
        else:  # e.g. in-domain next to cross-domain: no video to pair, each column keeps its own CIs
            column[list(ci_rows.values())] = "no shared videos (other data): not paired"
        table[f"{runs[0].name} − {other.name}"] = column
    table.index.name = "metric"
    return table


def _group_cell(values: dict[str, Any]) -> str:
    return (
        f"det {number(values.get('detection_rate'), 2)} / FA {number(values.get('false_alarm_rate'), 2)} / "
        f"AUROC {number(values.get('video_auroc_vs_all_normals'), 2)} / fAUC {number(values.get('frame_auc'), 2)}"
    )


def breakdown_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Rows = ``column=value`` groups (category, ego, night), columns = runs; each cell: detection rate,
    false-alarm rate, video AUROC against all normal videos and frame AUC (:func:`.summary.breakdown`)."""
    cells: dict[str, dict[str, str]] = {}
    for run in runs:
        for column, groups in (run.metrics.get("breakdown") or {}).items():
            for value, values in groups.items():
                cells.setdefault(f"{column}={value}", {})[run.name] = _group_cell(values)
    table = pd.DataFrame.from_dict(cells, orient="index").reindex(columns=[r.name for r in runs]).fillna("—")
    table.index.name = "group"
    return table


def metric_values(runs: Sequence[Run]) -> pd.DataFrame:
    """Every metric of :data:`riskvision.metrics.catalog.METRICS` that holds a number, as numbers: one row per run
    and metric, columns ``run``, ``metric`` (its name), ``label`` (its comparison row), ``value`` and ``low`` /
    ``high`` (the bounds of its 95% CI where metrics.json holds an interval, else ``nan``); for your own queries and
    plots (``values.pivot(index="metric", columns="run", values="value")``). Absent metrics are ``nan``."""
    rows = []
    for run in runs:
        for spec in catalog.METRICS:
            value = lookup(run.metrics, spec.path)
            interval = value if isinstance(value, dict) and "value" in value else {"value": value}
            if not all(_numeric(interval.get(key)) for key in ("value", "low", "high")):
                continue
            bounds = {key: np.nan if interval.get(key) is None else float(interval[key]) for key in ("low", "high")}
            value = np.nan if interval["value"] is None else float(interval["value"])
            rows.append({"run": run.name, "metric": spec.name, "label": spec.label, "value": value, **bounds})
    return pd.DataFrame(rows, columns=["run", "metric", "label", "value", "low", "high"])


def _numeric(value: Any) -> bool:
    """A number of metrics.json (``None``: a ``nan`` / absent value), not a bool, a string or a dict."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (index as the first column)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join([str(index), *map(str, row)]) + " |" for index, row in zip(table.index, table.to_numpy())
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ figures
# spans, thresholds and grids in the style predict_video's timelines share (riskvision.figure_style)


def run_colour(k: int, n: int) -> str | tuple:
    """The colour of run ``k`` of ``n`` in every figure: matplotlib's cycle (C0-C9) up to 10 runs, then tab20's 20
    distinct colours, so a zoo of 11 models repeats none."""
    return f"C{k}" if n <= 10 else plt.get_cmap("tab20")(k % 20)


#: Points of the grids the ROC / PR bands are drawn on (false positive rate, recall).
CURVE_GRID = np.linspace(0, 1, 101)


def curve_bands(
    labels: np.ndarray, scores: np.ndarray, videos: np.ndarray, n_boot: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Percentile bootstrap 95% bands over videos (the unit the CIs of metrics.json resample) of the ROC curve
    (true positive rate at each false positive rate of :data:`CURVE_GRID`) and the precision-recall curve
    (interpolated precision, the highest precision at a recall at least as high, at each recall of the grid).
    Resamples with one class only are skipped. Returns ``tpr_low/high`` and ``precision_low/high``, each [101]."""
    rng = np.random.default_rng(seed)
    ids, index = np.unique(videos, return_inverse=True)
    rows_of = [np.flatnonzero(index == k) for k in range(len(ids))]
    tprs, precisions = [], []
    for _ in range(n_boot):
        rows = np.concatenate([rows_of[k] for k in rng.integers(0, len(ids), len(ids))])
        y, p = labels[rows], scores[rows]
        if y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, p)
        tprs.append(np.interp(CURVE_GRID, fpr, tpr))
        precision, recall, _ = precision_recall_curve(y, p)
        envelope = np.maximum.accumulate(precision)  # recall falls along the arrays: best precision at >= recall
        precisions.append(np.interp(CURVE_GRID, recall[::-1], envelope[::-1]))
    if not tprs:
        nan = np.full(len(CURVE_GRID), np.nan)
        return {"tpr_low": nan, "tpr_high": nan, "precision_low": nan, "precision_high": nan}
    tpr_low, tpr_high = np.percentile(tprs, [2.5, 97.5], axis=0)
    precision_low, precision_high = np.percentile(precisions, [2.5, 97.5], axis=0)
    return {"tpr_low": tpr_low, "tpr_high": tpr_high, "precision_low": precision_low, "precision_high": precision_high}


def roc_pr_figure(runs: Sequence[Run], n_boot: int = 200, seed: int = 0) -> plt.Figure:
    """ROC and precision-recall curves of window P(crash) vs ``crash``, one colour per run, its AUROC / AP in the
    legend (the definitions metrics.json uses), each curve's 95% band (:func:`curve_bands`: ``n_boot`` bootstrap
    resamples of the videos), the chance diagonal and each run's chance precision (its fraction of crash windows)."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.8))
    chance: dict[str, str | tuple] = {}  # crash fraction (as printed) -> its colour: one line per distinct value
    for k, run in enumerate(runs):
        real = real_windows(run.table)
        if real["crash"].nunique() < 2:
            continue
        labels, scores = real["crash"].to_numpy(int), real["p_crash"].to_numpy(float)
        fpr, tpr, _ = roc_curve(labels, scores)
        precision, recall, _ = precision_recall_curve(labels, scores)
        bands = curve_bands(labels, scores, real["video_id"].to_numpy(), n_boot, seed)
        colour = run_colour(k, len(runs))
        roc_ax.plot(fpr, tpr, color=colour, label=f"{run.name} (AUROC {auroc(scores, labels):.3f})")
        band = f"95% bands ({n_boot} video resamples)" if k == 0 else "_nolegend_"  # one legend entry, any runs
        roc_ax.fill_between(CURVE_GRID, bands["tpr_low"], bands["tpr_high"], color=colour, alpha=0.18, lw=0, label=band)
        pr_ax.plot(recall, precision, color=colour, label=f"{run.name} (AP {average_precision(scores, labels):.3f})")
        pr_ax.fill_between(
            CURVE_GRID, bands["precision_low"], bands["precision_high"], color=colour, alpha=0.18, lw=0, label=band
        )
        chance.setdefault(f"{labels.mean():.3f}", colour)
    for fraction, colour in chance.items():  # runs on the same data share one chance line (grey)
        pr_ax.axhline(
            float(fraction),
            color="0.4" if len(chance) == 1 else colour,
            ls=":",
            lw=1,
            label=f"chance: crash fraction {float(fraction):.2f}",
        )
    roc_ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="chance")
    roc_ax.set(
        xlabel="false positive rate (windows)",
        ylabel="true positive rate (windows)",
        title="ROC, window P(crash)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    pr_ax.set(
        xlabel="recall (windows)",
        ylabel="precision (windows)",
        title="Precision-recall, window P(crash)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    for ax in (roc_ax, pr_ax):
        ax.grid(**GRID)
        ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
    return fig


def _curve_marker(metrics: dict[str, Any], name: str) -> tuple[str, float | None, float | None]:
    """(marker, false alarms per hour, ``name``'s value) of the point marked on the deployment curve: the operating
    point chosen on validation (a star), else the cap on test (a cross)."""
    point = lookup(metrics, "deployment.operating_point")
    if point:
        return "*", lookup(point, "false_alarms_per_hour.value"), lookup(point, f"{name}.value")
    capped = lookup(metrics, "deployment.at_cap") or {}
    return "x", capped.get("false_alarms_per_hour"), lookup(capped, f"{name}.value")


def deployment_curve_figure(runs: Sequence[Run]) -> plt.Figure:
    """The deployment curve of each run (metrics.json's ``deployment.curve``: the deployed alarm policy replayed at
    a range of thresholds): recall and mTTA against false alarms per hour of normal driving (log x; a rate of 0 is
    drawn at the left edge), each with its per-video bootstrap 95% band, and the operating point chosen on
    validation marked (a star; runs without one: the cap on test, a cross)."""
    fig, (recall_ax, mtta_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    curves = [(k, run, lookup(run.metrics, "deployment.curve")) for k, run in enumerate(runs)]
    curves = [(k, run, curve) for k, run, curve in curves if curve and curve["thresholds"]]
    rates = [r for _, _, curve in curves for r in curve["false_alarms_per_hour"] if r]
    floor = min(rates) / 2 if rates else 0.1
    for k, run, curve in curves:
        x = np.array([r if r else floor for r in curve["false_alarms_per_hour"]], dtype=float)
        order = np.argsort(x, kind="stable")
        for ax, name in ((recall_ax, "recall"), (mtta_ax, "mtta")):
            y, low, high = (
                np.array([np.nan if v is None else v for v in curve[key]], dtype=float)[order]
                for key in (name, f"{name}_low", f"{name}_high")
            )
            ax.plot(x[order], y, color=f"C{k}", label=run.name, drawstyle="steps-post")
            ax.fill_between(x[order], low, high, color=f"C{k}", alpha=0.15, step="post")
            marker, rate, value = _curve_marker(run.metrics, name)
            if value is not None:
                label = "operating point (val)" if marker == "*" else "cap on test"
                ax.plot(
                    [rate or floor], [value], marker=marker, ms=12, color=f"C{k}", ls="", label=f"{run.name}: {label}"
                )
    recall_ax.set(ylabel="recall (alarm before the anomaly)", ylim=(0, 1.02))
    mtta_ax.set(ylabel="mTTA (s) of the detected crash videos")
    for ax in (recall_ax, mtta_ax):
        ax.set_xscale("log")
        ax.set(xlabel="false alarms per hour of normal driving (log)")
        ax.grid(**GRID)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Deployment curve: the deployed alarm policy, 95% bands over videos", fontsize=10)
    return fig


def plot_deployment_curve(runs: Sequence[Run], path: Path) -> Path:
    """:func:`deployment_curve_figure` as a PNG."""
    return _save(deployment_curve_figure(runs), path)


def plot_roc_pr(runs: Sequence[Run], path: Path) -> Path:
    """:func:`roc_pr_figure` as a PNG."""
    return _save(roc_pr_figure(runs), path)


def reliability_figure(runs: Sequence[Run], n_bins: int = 15) -> plt.Figure:
    """Reliability diagram of window P(crash): observed crash frequency against mean P(crash) per bin, with the
    windows per bin below (log scale), so that a sparse bin's zig-zag reads as the few windows it holds."""
    fig, (ax, counts_ax) = plt.subplots(2, 1, figsize=(5.5, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = 1.0 / n_bins / max(len(runs), 1)
    for k, run in enumerate(runs):
        real = real_windows(run.table)
        bins = reliability_table(real["p_crash"].to_numpy(float), real["crash"].to_numpy(), n_bins)
        used = bins[bins["count"] > 0]
        ece = run.metrics.get("calibration", {}).get("ece")
        label = run.name + (f" (ECE {ece:.3f})" if isinstance(ece, (int, float)) else "")
        ax.plot(used["confidence"], used["frequency"], "o-", color=run_colour(k, len(runs)), label=label)
        lefts = np.arange(n_bins) / n_bins + k * width
        counts_ax.bar(lefts, bins["count"], width=width, align="edge", color=run_colour(k, len(runs)))
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfectly calibrated")
    ax.set(
        ylabel="fraction of crash windows",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Reliability ({n_bins} equal-width bins of P(crash))",
    )
    ax.grid(**GRID)
    ax.legend(fontsize=8, loc="upper left")
    counts_ax.set(xlabel="mean P(crash) in bin", ylabel="windows", yscale="log")
    counts_ax.yaxis.set_major_formatter(ScalarFormatter())
    counts_ax.yaxis.set_minor_formatter(NullFormatter())
    counts_ax.grid(**GRID)
    return fig


def plot_reliability(runs: Sequence[Run], path: Path, n_bins: int = 15) -> Path:
    """:func:`reliability_figure` as a PNG."""
    return _save(reliability_figure(runs, n_bins), path)


def _confusion(run: Run) -> tuple[np.ndarray, list[str]]:
    own = run.metrics["own_task"]
    if "confusion_matrix" in own:
        return np.array(own["confusion_matrix"]), list(run.metrics["run"]["class_names"])
    return np.array([[own["tn"], own["fp"]], [own["fn"], own["tp"]]]), ["no crash", "crash"]


def _decision_rule(run: Run) -> str:
    """How a run's own task decides, for the confusion matrix's title."""
    threshold = run.metrics["run"].get("threshold")
    if "confusion_matrix" in run.metrics["own_task"] or threshold is None:
        return "argmax class"
    return f"P(crash) >= {float(threshold):.2f} (tuned on validation)"


def confusion_figure(runs: Sequence[Run]) -> plt.Figure:
    """Each run's confusion matrix of its own task (rows true, columns predicted, one count per scored window):
    colour = the fraction of the true class (rows sum to 1, with a colour bar), each cell's count and row
    percentage written in it, the decision rule (the threshold) in the title. Constrained layout keeps each axis
    label clear of the tick labels."""
    fig, axes = plt.subplots(1, len(runs), figsize=(5.0 * len(runs) + 1.0, 4.6), squeeze=False, layout="constrained")
    image = None
    for ax, run in zip(axes[0], runs):
        matrix, names = _confusion(run)
        fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                f"{value}\n{fractions[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if fractions[i, j] > 0.5 else "black",
            )
        ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true", labelpad=8)
        ax.set_title(f"{run.name}\n{_decision_rule(run)}", fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.suptitle("Own task, one count per scored window", fontsize=10)
    return fig


def plot_confusion_matrices(runs: Sequence[Run], path: Path) -> Path:
    """:func:`confusion_figure` as a PNG."""
    return _save(confusion_figure(runs), path, tight=False)  # constrained layout already


def pick_videos(table: pd.DataFrame, threshold: float, per_kind: int = 2) -> list[tuple[str, str]]:
    """The most informative videos of a run, as ``(video_id, why)``: its ``per_kind`` worst misses (crash videos with
    an anomaly span whose highest window P(crash) is lowest; "still detected" when it reaches ``threshold``), its
    ``per_kind`` worst false alarms (normal videos with the highest; "no alarm" below ``threshold``), and one typical
    hit (the detected crash video with the median highest P(crash)); ties
    broken by id, so the choice is reproducible."""
    real = real_windows(table)
    peak = real.groupby("video_id")["p_crash"].max()
    crash = peak[peak.index.isin(spanned_windows(real)["video_id"].unique())]
    normal = peak[peak.index.isin(real.loc[real["anomaly_start"] < 0, "video_id"].unique())]

    def order(values: pd.Series, ascending: bool) -> list[str]:
        frame = values.rename("peak").reset_index().sort_values(["peak", "video_id"], ascending=[ascending, True])
        return list(frame["video_id"])

    misses = [
        (
            v,
            f"{'worst miss' if crash[v] < threshold else 'lowest-scored crash video (still detected)'}: "
            f"peak P(crash) {crash[v]:.2f}",
        )
        for v in order(crash, True)[:per_kind]
    ]
    alarms = [
        (
            v,
            f"{'worst false alarm' if normal[v] >= threshold else 'highest-scored normal video (no alarm)'}: "
            f"peak P(crash) {normal[v]:.2f}",
        )
        for v in order(normal, False)[:per_kind]
    ]
    hits = order(crash[crash >= threshold], True)
    chosen = {v for v, _ in misses + alarms}
    typical = [
        (v, f"typical hit: median peak P(crash) {crash[v]:.2f}") for v in hits[len(hits) // 2 :][:1] if v not in chosen
    ]
    return misses + alarms + typical


def timelines_figure(runs: Sequence[Run], per_kind: int = 2) -> plt.Figure:
    """Per-video risk timelines of the most informative videos of the first run (:func:`pick_videos`: its worst
    misses, worst false alarms and a typical hit, named in each title): each run's P(crash) of the window ending at
    each frame against time (s), each run's decision threshold (dashed; one line per distinct value), the annotated
    anomaly span (grey) and the warning horizon (Warning-labelled frames, orange), all in one legend above."""
    thresholds = sorted({float(run.metrics["run"].get("threshold", 0.5)) for run in runs})
    videos = pick_videos(runs[0].table, float(runs[0].metrics["run"].get("threshold", 0.5)), per_kind)
    fig, axes = plt.subplots(len(videos), 1, figsize=(10, 1.9 * max(len(videos), 1) + 0.9), squeeze=False, sharey=True)
    reals = [real_windows(run.table) for run in runs]
    for ax, (video_id, why) in zip(axes[:, 0], videos):
        for k, (run, real) in enumerate(zip(runs, reals)):
            rows = real[real["video_id"] == video_id].sort_values("end_frame")
            ax.plot(rows["end_frame"] / rows["fps"], rows["p_crash"], color=run_colour(k, len(runs)), label=run.name)
        for threshold in thresholds:
            ax.axhline(threshold, **THRESHOLD_LINE, label=f"threshold {threshold:.2f}")
        reference = reals[0][reals[0]["video_id"] == video_id]
        first = reference.iloc[0]
        _shade(ax, reference, first)
        ax.set(
            ylim=(0, 1),
            ylabel="P(crash)",
            title=f"{why} ({runs[0].name}) - {video_id} ({first['source']}, {first['category']})",
        )
        ax.title.set_fontsize(9)
        ax.grid(**GRID)
    axes[-1, 0].set_xlabel("time (s)")
    handles = {}
    for ax in axes[:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.suptitle(
        f"The most informative test videos for {runs[0].name}: worst misses, worst false alarms, a typical hit",
        fontsize=10,
        y=1 - 0.08 / fig.get_figheight(),
    )
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="upper center",
        ncol=min(len(handles), 6),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.35 / fig.get_figheight()),
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    return fig


def plot_timelines(runs: Sequence[Run], path: Path, per_kind: int = 2) -> Path:
    """:func:`timelines_figure` as a PNG."""
    return _save(timelines_figure(runs, per_kind), path, tight=False)


def _shade(ax: plt.Axes, rows: pd.DataFrame, first: pd.Series) -> None:
    fps, start = float(first["fps"]), int(first["anomaly_start"])
    warning = rows.loc[(rows["risk"] == 1) & (rows["end_frame"] < start), "end_frame"]
    if len(warning):
        ax.axvspan(warning.min() / fps, start / fps, **WARNING_SPAN, label="warning horizon (Warning frames)")
    if start >= 0:
        ax.axvspan(first["anomaly_start"] / fps, first["anomaly_end"] / fps, **ANOMALY_SPAN, label="annotated anomaly")


def _save(fig: plt.Figure, path: Path, tight: bool = True) -> Path:
    if tight:
        fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------ report
def write_report(
    runs: Sequence[Run], out_dir: str | Path, n_boot: int = 1000, seed: int = 0, review: Path | None = None
) -> dict[str, Path]:
    """Write ``comparison.md`` (+ ``comparison.csv``) and the PNG figures into ``out_dir`` (claimed for this process,
    ``riskvision.runs``); returns the paths. ``review``: the review page of these runs (``out_dir/review/index.html``,
    :mod:`riskvision.evaluation.review`) the report links to; ``None``: it tells the command that writes one."""
    out = claim_run_folder(out_dir, "compare").path
    plots = {
        "roc_pr": plot_roc_pr,
        "deployment_curve": plot_deployment_curve,
        "reliability": plot_reliability,
        "confusion_matrices": plot_confusion_matrices,
        "timelines": plot_timelines,
    }
    progress = ProgressLine(f"writing the comparison of {len(runs)} runs", 2 + len(plots), "steps")
    progress.update(0, f"comparison table ({n_boot} bootstrap resamples)")
    table = comparison_table(runs, n_boot, seed)
    atomic_write(out / "comparison.csv", lambda tmp: table.to_csv(tmp))
    figures = {}
    for name, plot in plots.items():
        progress.advance(note=f"{name}.png")
        figures[name] = plot(runs, out / f"{name}.png")
    progress.advance(note="comparison.md")
    markdown = _markdown_report(runs, table, breakdown_table(runs), figures, n_boot, review_line(runs, out, review))
    atomic_write(out / "comparison.md", lambda tmp: tmp.write_text(markdown))
    progress.advance(note="")
    progress.close()
    return {"comparison": out / "comparison.md", **figures}


def review_line(runs: Sequence[Run], out_dir: Path, review: Path | None = None) -> str:
    """comparison.md's line on the review page: a link to ``review`` (relative to ``out_dir``), else the command."""
    if review is not None:
        return (
            f"**Every video, run by run** (clips, timelines, outcomes): [review page]"
            f"({Path(os.path.relpath(review, out_dir)).as_posix()}), opens from disk in a browser."
        )
    folders = ",".join(str(r.folder) for r in runs)
    return (
        "**Every video, run by run** (clips, timelines, outcomes): `python scripts/review.py "
        f"runs=[{folders}] videos=[DATA_ROOT]` (or compare.py `review.enabled=true`)."
    )


def _markdown_report(
    runs: Sequence[Run],
    table: pd.DataFrame,
    groups: pd.DataFrame,
    figures: dict[str, Path],
    n_boot: int,
    review: str = "",
) -> str:
    synthetic = any(r.metrics["run"].get("synthetic") for r in runs)
    lines = ["# Model comparison", ""]
    if synthetic:
        lines += ["**SYNTHETIC DATA** (procedural scenes, not DoTA/BDD100K): these numbers test the pipeline only.", ""]
    lines += [
        "Runs: " + ", ".join(f"`{r.name}` ({r.folder})" for r in runs),
        "",
        review,
        "",
        to_markdown(table),
        "",
        "- P(crash): sigmoid output (binary) or P(Warning) + P(Danger) (3-class); `crash` label as in the "
        "predictions table. Window = every scored window; video = the highest window score per video.",
        f"- [95% CI]: percentile bootstrap over videos ({n_boot} resamples). Difference columns: paired "
        "bootstrap on the shared videos; P(>0) = share of resamples where the first run is ahead.",
        "- Probes: AUROC with frames shuffled / one frame repeated; drop = real − probe, with its paired "
        "bootstrap 95% CI over videos (small drop: no use of motion). Source probe: 0.5 = P(crash) carries "
        "no DoTA-vs-BDD cue before anything happens.",
        "- Conventions: 'riskvision' = ours; 'UString' / 'DSTA' / 'DoTA' = those papers' evaluation code "
        "(README, Metric conventions). Nexar: the challenge's mean AP on the last window 0.5 / 1.0 / 1.5 s "
        "before the anomaly (normal videos: before their end). False alarms: alarm-on events of the deployed "
        "alarm policy (smoothing, hysteresis, minimum on-time), replayed per video, in normal videos per hour; "
        "the operating point is the threshold meeting the cap on validation.",
        "- Definitions: docstrings of riskvision.evaluation (summary, anticipation, nexar, deployment, calibration).",
        "",
        "## Breakdown (video level, P(crash) at each run's threshold)",
        "",
        "det = crash videos flagged, FA = normal videos flagged, AUROC = the group's crash videos against all "
        "normal videos, fAUC = DoTA frame AUC within the group.",
        "",
        to_markdown(groups),
        "",
    ]
    lines += [
        "## Figures",
        "",
        "ROC / PR: window P(crash), 95% bands from 200 bootstrap resamples of the videos. Confusion matrices: "
        "each model's own task, one count per scored window, at its decision rule. Timelines: the most "
        f"informative videos for `{runs[0].name}` (its worst misses, worst false alarms and a typical hit, "
        "named in each title), not the first ones by name.",
        "",
    ]
    lines += [f"![{name}]({path.name})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


def log_to_wandb(
    runs: Sequence[Run], outputs: dict[str, Path], out_dir: str | Path, project: str, name: str, mode: str = "offline"
) -> Path:
    """One wandb run holding the comparison table (``out_dir/comparison.csv``) and every PNG of ``outputs``
    (``mode``: ``offline`` never touches the network; ``online`` after ``wandb login``); returns the run's folder.
    wandb's own console lines are silenced (the caller logs one line naming the folder)."""
    import wandb

    table = pd.read_csv(Path(out_dir) / "comparison.csv")
    run = wandb.init(
        project=project,
        name=name,
        mode=mode,
        dir=str(out_dir),
        job_type="compare",
        config={"runs": [str(r.folder) for r in runs]},
        settings=wandb.Settings(silent=True),
    )
    try:
        run.log(
            {
                "comparison": wandb.Table(dataframe=table.astype(str)),
                **{key: wandb.Image(str(path)) for key, path in outputs.items() if path.suffix == ".png"},
            }
        )
    finally:
        run.finish()
    return Path(run.dir).parent
