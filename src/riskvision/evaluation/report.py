"""The comparison report: load run folders, build the side-by-side table (with per-video CIs and
paired differences) and draw the figures. Figures use matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
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
from riskvision.evaluation.calibration import reliability_table  # noqa: E402
from riskvision.evaluation.ranking import auroc, average_precision  # noqa: E402
from riskvision.evaluation.summary import CI_METRICS, ci_statistics  # noqa: E402
from riskvision.evaluation.table import find_predictions, read_predictions, real_windows, spanned_windows  # noqa: E402
from riskvision.figure_style import ANOMALY_SPAN, GRID, THRESHOLD_LINE, WARNING_SPAN  # noqa: E402
from riskvision.files import atomic_write  # noqa: E402
from riskvision.progress import ProgressLine  # noqa: E402
from riskvision.runs import RunMismatchError, claim_run_folder  # noqa: E402

__all__ = [
    "Run", "breakdown_table", "comparison_table", "confusion_figure", "find_runs", "load_runs", "log_to_wandb",
    "plot_confusion_matrices", "plot_reliability", "plot_roc_pr", "plot_timelines", "reliability_figure",
    "roc_pr_figure", "timelines_figure", "to_markdown", "write_report",
]  # fmt: skip

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
        raise FileNotFoundError(f"no run folder (metrics.json + predictions.parquet or .csv) under "
                                f"{[str(p) for p in paths]}; "
                                "run scripts/eval.py first")
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
            raise RunMismatchError(f"{first} and {run.folder} hold the same evaluation (run id "
                                   f"{run.metrics['run']['id']}): "
                             "a copy compared with itself differs by 0 on every metric. Fix: compare different runs")
    names = [r.name for r in runs]
    for run in runs:
        if names.count(run.name) > 1:
            run.name = f"{run.name} ({run.folder.parent.name}/{run.folder.name})"
    return runs


# ------------------------------------------------------------------------------------------ table
def _check_run_id(folder: Path, metrics: dict[str, Any], table: pd.DataFrame, predictions: Path) -> None:
    """metrics.json and the predictions table of ``folder`` come from one evaluation (one run id)."""
    metrics_id = metrics.get("run", {}).get("id")
    table_ids = sorted(set(table["run_id"].astype(str))) if "run_id" in table.columns else []
    if metrics_id is None or not table_ids:
        raise RunMismatchError(f"{folder}: metrics.json and {predictions.name} carry no run id (written before "
                               "riskvision recorded one), so nothing says they belong together. Fix: evaluate the checkpoint again "
                         "with scripts/eval.py into a new folder")
    if table_ids != [metrics_id]:
        raise RunMismatchError(f"{folder}: {predictions.name} comes from run {', '.join(table_ids)} but metrics.json "
                               f"from run {metrics_id}: an evaluation was interrupted or two wrote into this folder, and the "
                         "files do not belong together. Fix: evaluate the checkpoint again into a new folder")


def _get(metrics: dict[str, Any], path: str) -> Any:
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _with_ci(interval: dict[str, Any] | None) -> str:
    if not interval or interval.get("value") is None:
        return "—"
    return f"{_number(interval['value'])} [{_number(interval['low'])}, {_number(interval['high'])}]"


def _nexar(metrics: dict[str, Any]) -> str:
    values = _get(metrics, "nexar")
    if not values:
        return "—"
    per_horizon = " / ".join(_number(values.get(f"ap_{ms}ms")) for ms in (500, 1000, 1500))
    return f"{_number(values.get('map'))} ({per_horizon})"


def _capped_threshold(metrics: dict[str, Any]) -> str:
    """The capped threshold (metrics.json writes ``inf``, only silence meets the cap, as ``null``)."""
    cap, hours = _get(metrics, "deployment.at_cap.cap_per_hour"), _get(metrics, "deployment.negative_hours")
    if cap is None or not hours:
        return "—"
    threshold = _get(metrics, "deployment.at_cap.threshold")
    value = "∞ (only silence meets it)" if threshold is None else _number(threshold)
    return f"{value} (cap {cap:g} / h; {_number(hours, 2)} h of normal driving)"


def _probe(metrics: dict[str, Any], probe: str) -> str:
    values = _get(metrics, f"probes.{probe}")
    if not values:
        return "—"
    ci = values.get("drop_window_auroc_ci")  # metrics.json files written before it existed lack it
    interval = f" [{_number(ci['low'])}, {_number(ci['high'])}]" if ci else ""
    return f"{_number(values['window_auroc'])} (drop {_number(values['drop_window_auroc'])}{interval})"


MINMAX_ROW = "DoTA frame AUC, per-video min-max (DoTA convention) [95% CI]"
#: (row label, formatter of one run's metrics.json) in table order.
ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("task", lambda m: str(_get(m, "run.task"))),
    ("own task: F1 at tuned threshold (binary)", lambda m: _number(_get(m, "own_task.f1"))),
    ("own task: macro-F1 (3-class)", lambda m: _number(_get(m, "own_task.f1_macro"))),
    ("own task: accuracy", lambda m: _number(_get(m, "own_task.accuracy"))),
    ("P(crash) threshold", lambda m: _number(_get(m, "run.threshold"), 2)),
    ("window AUROC [95% CI]", lambda m: _with_ci(_get(m, "ci.window_auroc"))),
    ("window AP [95% CI]", lambda m: _with_ci(_get(m, "ci.window_ap"))),
    ("window F1", lambda m: _number(_get(m, "common.window.f1"))),
    ("video AUROC [95% CI]", lambda m: _with_ci(_get(m, "ci.video_auroc"))),
    ("video AP [95% CI]", lambda m: _with_ci(_get(m, "ci.video_ap"))),
    ("video F1", lambda m: _number(_get(m, "common.video.f1"))),
    ("DoTA frame AUC [95% CI]", lambda m: _with_ci(_get(m, "ci.frame_auc"))),
    (MINMAX_ROW, lambda m: _with_ci(_get(m, "ci.frame_auc_minmax"))),
    ("anticipation AP, riskvision convention", lambda m: _number(_get(m, "anticipation.ap"))),
    ("mTTA (s), riskvision convention", lambda m: _number(_get(m, "anticipation.mtta"), 2)),
    ("TTA@R80 (s), riskvision convention", lambda m: _number(_get(m, "anticipation.tta_r80"), 2)),
    ("anticipation AP, UString convention", lambda m: _number(_get(m, "anticipation_ustring.ap"))),
    ("mTTA (s), UString convention", lambda m: _number(_get(m, "anticipation_ustring.mtta"), 2)),
    ("TTA@R80 (s), UString convention", lambda m: _number(_get(m, "anticipation_ustring.tta_r80"), 2)),
    ("P@R80, DSTA convention", lambda m: _number(_get(m, "anticipation_ustring.precision_r80"))),
    ("Nexar mAP (AP at 0.5 / 1.0 / 1.5 s before the event)", _nexar),
    ("false alarms / h of normal driving at threshold [95% CI]",
     lambda m: _with_ci(_get(m, "deployment.at_threshold.false_alarms_per_hour"))),
    ("threshold at the false-alarm cap", _capped_threshold),
    ("recall at the false-alarm cap [95% CI]", lambda m: _with_ci(_get(m, "deployment.at_cap.recall"))),
    ("mTTA (s) at the false-alarm cap [95% CI]", lambda m: _with_ci(_get(m, "deployment.at_cap.mtta"))),
    ("Brier score", lambda m: _number(_get(m, "calibration.brier"))),
    ("ECE (15 bins)", lambda m: _number(_get(m, "calibration.ece"))),
    ("probe shuffled: window AUROC", lambda m: _probe(m, "shuffled")),
    ("probe repeated: window AUROC", lambda m: _probe(m, "repeated")),
    ("source probe: DoTA-vs-BDD AUROC, quiet windows", lambda m: _number(_get(m, "source_probe.auroc"))),
    ("parameters (M)", lambda m: _number((_get(m, "run.cost.parameters") or np.nan) / 1e6, 2)),
    ("GFLOPs / window", lambda m: _number(_get(m, "run.cost.gflops_per_window"), 2)),
    ("CPU latency (ms / window)", lambda m: _number(_get(m, "run.cost.cpu_latency_ms_per_window"), 1)),
    ("windows / videos scored", lambda m: f"{_get(m, 'counts.windows')} / {_get(m, 'counts.videos')}"),
    ("evaluated on", lambda m: str(_get(m, "run.data") or "—")),
]
CI_ROW = {"window_auroc": "window AUROC [95% CI]", "window_ap": "window AP [95% CI]",
          "video_auroc": "video AUROC [95% CI]", "video_ap": "video AP [95% CI]", "frame_auc": "DoTA frame AUC [95% CI]",
          "frame_auc_minmax": MINMAX_ROW}


def paired_differences(a: Run, b: Run, n_boot: int = 1000, seed: int = 0,
                       stats_a: dict | None = None) -> dict[str, dict[str, float]]:
    """For each of :data:`.summary.CI_METRICS`: ``a - b`` with its paired per-video bootstrap CI
    (``stats_a``: ``ci_statistics(a.table)`` when the caller already has it)."""
    stats_a = ci_statistics(a.table) if stats_a is None else stats_a
    stats_b = ci_statistics(b.table)
    return {name: paired_bootstrap_diff(*stats_a[name], *stats_b[name], n_boot=n_boot, seed=seed).as_dict()
            for name in CI_METRICS}


def shares_videos(a: Run, b: Run) -> bool:
    """Whether two runs scored at least one video in common (same ``video_id``): only then are they paired."""
    return shared_videos(a.table["video_id"].unique(), b.table["video_id"].unique()).size > 0


def _difference_cell(diff: dict[str, float]) -> str:
    if diff["value"] is None or np.isnan(diff["value"]):
        return "—"
    return f"{diff['value']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}] P(>0)={diff['p_above_zero']:.2f}"


def comparison_table(runs: Sequence[Run], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Rows = metrics (:data:`ROWS`), columns = runs, then one ``<first> − <other>`` column per other run
    holding the paired difference with its 95% CI and the share of resamples where it is > 0."""
    table = pd.DataFrame({run.name: [fmt(run.metrics) for _, fmt in ROWS] for run in runs},
                         index=[label for label, _ in ROWS])
    stats_first = ci_statistics(runs[0].table) if len(runs) > 1 else None
    for other in runs[1:]:
        column = pd.Series("", index=table.index)
        if shares_videos(runs[0], other):
            for name, diff in paired_differences(runs[0], other, n_boot, seed, stats_first).items():
                column[CI_ROW[name]] = _difference_cell(diff)
        else:  # e.g. in-domain next to cross-domain: no video to pair, each column keeps its own CIs
            column[list(CI_ROW.values())] = "no shared videos (other data): not paired"
        table[f"{runs[0].name} − {other.name}"] = column
    table.index.name = "metric"
    return table


def _group_cell(values: dict[str, Any]) -> str:
    return (f"det {_number(values.get('detection_rate'), 2)} / FA {_number(values.get('false_alarm_rate'), 2)} / "
            f"AUROC {_number(values.get('video_auroc_vs_all_normals'), 2)} / fAUC {_number(values.get('frame_auc'), 2)}")


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


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (index as the first column)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([str(index), *map(str, row)]) + " |" for index, row in zip(table.index, table.to_numpy())]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ figures
# spans, thresholds and grids in the style predict_video's timelines share (riskvision.figure_style)


def roc_pr_figure(runs: Sequence[Run]) -> plt.Figure:
    """ROC and precision-recall curves of window P(crash) vs ``crash``, one colour per run, its AUROC / AP in the
    legend (the definitions metrics.json uses), the chance diagonal and each run's chance precision (its fraction
    of crash windows)."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.8))
    for k, run in enumerate(runs):
        real = real_windows(run.table)
        if real["crash"].nunique() < 2:
            continue
        labels, scores = real["crash"].to_numpy(int), real["p_crash"].to_numpy(float)
        fpr, tpr, _ = roc_curve(labels, scores)
        precision, recall, _ = precision_recall_curve(labels, scores)
        roc_ax.plot(fpr, tpr, color=f"C{k}", label=f"{run.name} (AUROC {auroc(scores, labels):.3f})")
        pr_ax.plot(recall, precision, color=f"C{k}", label=f"{run.name} (AP {average_precision(scores, labels):.3f})")
        pr_ax.axhline(labels.mean(), color=f"C{k}", ls=":", lw=1, label=f"chance: crash fraction {labels.mean():.2f}")
    roc_ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, window P(crash)",
               xlim=(0, 1), ylim=(0, 1.01))
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, window P(crash)", xlim=(0, 1),
              ylim=(0, 1.01))
    for ax in (roc_ax, pr_ax):
        ax.grid(**GRID)
        ax.legend(fontsize=8, loc="lower right" if ax is roc_ax else "lower left")
    return fig


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
        ax.plot(used["confidence"], used["frequency"], "o-", color=f"C{k}", label=label)
        lefts = np.arange(n_bins) / n_bins + k * width
        counts_ax.bar(lefts, bins["count"], width=width, align="edge", color=f"C{k}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfectly calibrated")
    ax.set(ylabel="fraction of crash windows", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability ({n_bins} equal-width bins of P(crash))")
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


def confusion_figure(runs: Sequence[Run]) -> plt.Figure:
    """Each run's confusion matrix of its own task (rows true, columns predicted): colour = the fraction of the
    true class (rows sum to 1, with a colour bar), each cell's count and row percentage written in it."""
    fig, axes = plt.subplots(1, len(runs), figsize=(4.8 * len(runs), 4.2), squeeze=False)
    image = None
    for ax, run in zip(axes[0], runs):
        matrix, names = _confusion(run)
        fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value}\n{fractions[i, j]:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if fractions[i, j] > 0.5 else "black")
        ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
               xlabel="predicted", ylabel="true", title=run.name)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), fraction=0.046, pad=0.04, label="fraction of the true class")
    return fig


def plot_confusion_matrices(runs: Sequence[Run], path: Path) -> Path:
    """:func:`confusion_figure` as a PNG."""
    return _save(confusion_figure(runs), path, tight=False)


def pick_videos(table: pd.DataFrame, per_class: int = 3) -> list[str]:
    """The first ``per_class`` crash videos with an anomaly span and ``per_class`` normal videos (sorted ids)."""
    real = real_windows(table)
    crash = sorted(spanned_windows(real)["video_id"].unique())
    normal = sorted(real.loc[real["anomaly_start"] < 0, "video_id"].unique())
    return crash[:per_class] + normal[:per_class]


def timelines_figure(runs: Sequence[Run], per_class: int = 3) -> plt.Figure:
    """Per-video risk timelines: each run's P(crash) of the window ending at each frame against time (s), each
    run's decision threshold (dashed; one line per distinct value), the annotated anomaly span (grey) and the
    warning horizon (Warning-labelled frames, orange), all named in one legend above the plots."""
    videos = pick_videos(runs[0].table, per_class)
    fig, axes = plt.subplots(len(videos), 1, figsize=(10, 1.9 * max(len(videos), 1) + 0.6), squeeze=False,
                             sharey=True)
    reals = [real_windows(run.table) for run in runs]
    thresholds = sorted({float(run.metrics["run"].get("threshold", 0.5)) for run in runs})
    for ax, video_id in zip(axes[:, 0], videos):
        for k, (run, real) in enumerate(zip(runs, reals)):
            rows = real[real["video_id"] == video_id].sort_values("end_frame")
            ax.plot(rows["end_frame"] / rows["fps"], rows["p_crash"], color=f"C{k}", label=run.name)
        for threshold in thresholds:
            ax.axhline(threshold, **THRESHOLD_LINE, label=f"threshold {threshold:.2f}")
        reference = reals[0][reals[0]["video_id"] == video_id]
        first = reference.iloc[0]
        _shade(ax, reference, first)
        ax.set(ylim=(0, 1), ylabel="P(crash)", title=f"{video_id} ({first['source']}, {first['category']})")
        ax.title.set_fontsize(9)
        ax.grid(**GRID)
    axes[-1, 0].set_xlabel("time (s)")
    handles = {}
    for ax in axes[:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=min(len(handles), 6), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    return fig


def plot_timelines(runs: Sequence[Run], path: Path, per_class: int = 3) -> Path:
    """:func:`timelines_figure` as a PNG."""
    return _save(timelines_figure(runs, per_class), path, tight=False)


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
def write_report(runs: Sequence[Run], out_dir: str | Path, n_boot: int = 1000, seed: int = 0) -> dict[str, Path]:
    """Write ``comparison.md`` (+ ``comparison.csv``) and the PNG figures into ``out_dir`` (claimed for this process,
    ``riskvision.runs``); returns the paths."""
    out = claim_run_folder(out_dir, "compare").path
    plots = {"roc_pr": plot_roc_pr, "reliability": plot_reliability, "confusion_matrices": plot_confusion_matrices,
             "timelines": plot_timelines}
    progress = ProgressLine(f"writing the comparison of {len(runs)} runs", 2 + len(plots), "steps")
    progress.update(0, f"comparison table ({n_boot} bootstrap resamples)")
    table = comparison_table(runs, n_boot, seed)
    atomic_write(out / "comparison.csv", lambda tmp: table.to_csv(tmp))
    figures = {}
    for name, plot in plots.items():
        progress.advance(note=f"{name}.png")
        figures[name] = plot(runs, out / f"{name}.png")
    progress.advance(note="comparison.md")
    markdown = _markdown_report(runs, table, breakdown_table(runs), figures, n_boot)
    atomic_write(out / "comparison.md", lambda tmp: tmp.write_text(markdown))
    progress.advance(note="")
    progress.close()
    return {"comparison": out / "comparison.md", **figures}


def _markdown_report(runs: Sequence[Run], table: pd.DataFrame, groups: pd.DataFrame, figures: dict[str, Path],
                     n_boot: int) -> str:
    synthetic = any(r.metrics["run"].get("synthetic") for r in runs)
    lines = ["# Model comparison", ""]
    if synthetic:
        lines += ["**SYNTHETIC DATA** (procedural scenes, not DoTA/BDD100K): these numbers test the pipeline only.", ""]
    lines += ["Runs: " + ", ".join(f"`{r.name}` ({r.folder})" for r in runs), "",
              to_markdown(table), "",
              "- P(crash): sigmoid output (binary) or P(Warning) + P(Danger) (3-class); `crash` label as in the "
              "predictions table. Window = every scored window; video = the highest window score per video.",
              f"- [95% CI]: percentile bootstrap over videos ({n_boot} resamples). Difference columns: paired "
              "bootstrap on the shared videos; P(>0) = share of resamples where the first run is ahead.",
              "- Probes: AUROC with frames shuffled / one frame repeated; drop = real − probe, with its paired "
              "bootstrap 95% CI over videos (small drop: no use of motion). Source probe: 0.5 = P(crash) carries "
              "no DoTA-vs-BDD cue before anything happens.",
              "- Conventions: 'riskvision' = ours; 'UString' / 'DSTA' / 'DoTA' = those papers' evaluation code "
              "(README, Metric conventions). Nexar: the challenge's mean AP on the last window 0.5 / 1.0 / 1.5 s "
              "before the anomaly (normal videos: before their end). False alarms: alarm episodes in normal videos "
              "per hour.",
              "- Definitions: docstrings of riskvision.evaluation (summary, anticipation, nexar, deployment, "
              "calibration).", "",
              "## Breakdown (video level, P(crash) at each run's threshold)", "",
              "det = crash videos flagged, FA = normal videos flagged, AUROC = the group's crash videos against all "
              "normal videos, fAUC = DoTA frame AUC within the group.", "", to_markdown(groups), ""]
    lines += [f"![{name}]({path.name})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


def log_to_wandb(runs: Sequence[Run], outputs: dict[str, Path], out_dir: str | Path, project: str, name: str,
                 mode: str = "offline") -> None:
    """One wandb run holding the comparison table (``out_dir/comparison.csv``) and every PNG of ``outputs``
    (``mode``: ``offline`` never touches the network; ``online`` after ``wandb login``)."""
    import wandb

    table = pd.read_csv(Path(out_dir) / "comparison.csv")
    run = wandb.init(project=project, name=name, mode=mode, dir=str(out_dir), job_type="compare",
                     config={"runs": [str(r.folder) for r in runs]})
    try:
        run.log({"comparison": wandb.Table(dataframe=table.astype(str)),
                 **{key: wandb.Image(str(path)) for key, path in outputs.items() if path.suffix == ".png"}})
    finally:
        run.finish()
