"""The comparison figures explain themselves (issue 16): metric values in legends, chance baselines, per-bin
counts, row-normalised confusion matrices with a colour bar, a legend for shaded spans and threshold lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from riskvision.evaluation.report import (
    confusion_figure,
    curve_bands,
    load_runs,
    pick_videos,
    reliability_figure,
    roc_pr_figure,
    timelines_figure,
)
from riskvision.evaluation.table import real_windows, spanned_windows
from riskvision.metrics.ranking import auroc, average_precision


@pytest.fixture
def runs(fake_runs):
    return load_runs(fake_runs())


def legend_texts(legend) -> list[str]:
    return [text.get_text() for text in legend.get_texts()]


def test_roc_and_pr_legends_give_each_runs_auroc_ap_and_the_chance_precision(runs):
    fig = roc_pr_figure(runs)
    roc, pr = (legend_texts(ax.get_legend()) for ax in fig.axes[:2])
    real = real_windows(runs[0].table)
    scores, labels = real["p_crash"].to_numpy(float), real["crash"].to_numpy(int)
    assert f"{runs[0].name} (AUROC {auroc(scores, labels):.3f})" in roc and "chance" in roc
    assert f"{runs[0].name} (AP {average_precision(scores, labels):.3f})" in pr
    assert f"chance: crash fraction {labels.mean():.2f}" in pr
    plt.close(fig)


def test_reliability_diagram_shows_the_windows_per_bin(runs):
    fig = reliability_figure(runs, n_bins=10)
    curve_ax, counts_ax = fig.axes
    heights = [patch.get_height() for patch in counts_ax.patches]
    assert len(heights) == 10 * len(runs) and sum(heights) == sum(len(real_windows(r.table)) for r in runs)
    assert counts_ax.get_yscale() == "log" and any("ECE" in t for t in legend_texts(curve_ax.get_legend()))
    plt.close(fig)


def test_confusion_matrices_are_row_normalised_with_counts_and_a_colour_bar(runs):
    fig = confusion_figure(runs)
    ax = fig.axes[1]  # the 3-class run
    image = ax.get_images()[0].get_array()
    assert np.allclose(np.asarray(image).sum(axis=1), 1.0)
    cells = [text.get_text() for text in ax.texts]
    assert len(cells) == 9 and all("\n" in cell and cell.endswith("%") for cell in cells)
    assert any(axis.get_ylabel() == "fraction of the true class" for axis in fig.axes)  # the colour bar
    plt.close(fig)


def test_timelines_legend_names_the_runs_the_shaded_spans_and_the_threshold(runs):
    fig = timelines_figure(runs)
    texts = legend_texts(fig.legends[0])
    assert {run.name for run in runs} <= set(texts)
    assert "annotated anomaly" in texts and "warning horizon (Warning frames)" in texts
    assert any(text.startswith("threshold ") for text in texts)
    assert len(texts) == len(set(texts))  # one entry each, not one per subplot
    plt.close(fig)


def test_confusion_titles_state_the_decision_rule_and_the_axis_labels_clear_the_ticks(runs):
    fig = confusion_figure(runs)
    fig.canvas.draw()
    binary, multiclass = fig.axes[0], fig.axes[1]
    assert binary.get_title().endswith("(tuned on validation)") and "P(crash) >= 0.50" in binary.get_title()
    assert multiclass.get_title().endswith("argmax class")
    renderer = fig.canvas.get_renderer()
    for ax in (binary, multiclass):  # the "true" label lies left of every tick label ("Warning" included)
        label = ax.yaxis.label.get_window_extent(renderer)
        assert all(label.x1 <= tick.get_window_extent(renderer).x0 for tick in ax.get_yticklabels())
    plt.close(fig)


def test_roc_and_pr_curves_carry_bootstrap_bands_around_them(runs):
    fig = roc_pr_figure(runs, n_boot=30)
    roc_ax, pr_ax = fig.axes
    assert len(roc_ax.collections) == len(runs) and len(pr_ax.collections) == len(runs)  # one band per run
    assert any("95% band" in text for text in legend_texts(roc_ax.get_legend()))
    real = real_windows(runs[0].table)
    bands = curve_bands(real["crash"].to_numpy(int), real["p_crash"].to_numpy(float), real["video_id"].to_numpy(), 30)
    assert (bands["tpr_low"] <= bands["tpr_high"]).all() and (bands["tpr_high"] - bands["tpr_low"]).max() > 0
    plt.close(fig)


def test_timelines_show_the_worst_misses_and_false_alarms_and_a_typical_hit_and_say_so(runs):
    table = runs[0].table.copy()
    real = real_windows(table)
    crash_videos = sorted(spanned_windows(real)["video_id"].unique())
    normal_videos = sorted(real.loc[real["anomaly_start"] < 0, "video_id"].unique())
    table.loc[table["video_id"] == crash_videos[-1], "p_crash"] = 0.05  # the last crash video by name: missed
    table.loc[table["video_id"] == normal_videos[-1], "p_crash"] = 0.97  # the last normal video: a false alarm
    picked = pick_videos(table, threshold=0.5, per_kind=2)
    assert picked[0][0] == crash_videos[-1] and picked[0][1].startswith("worst miss: peak P(crash) 0.05")
    assert picked[2][0] == normal_videos[-1] and picked[2][1].startswith("worst false alarm: peak P(crash) 0.97")
    assert picked[-1][1].startswith("typical hit") and len(picked) == 5
    fig = timelines_figure(runs)
    assert "most informative" in fig._suptitle.get_text()
    plt.close(fig)
