"""riskvision.metrics.catalog: every metric declared once; one entry adds a metric to metrics.json, comparison.md and
the CI set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import synthetic_table, write_fake_run

from riskvision.evaluation.report import comparison_table, load_runs, metric_values, write_report
from riskvision.evaluation.summary import ci_statistics
from riskvision.evaluation.table import real_windows
from riskvision.metrics import catalog
from riskvision.metrics.calibration import brier_score
from riskvision.metrics.catalog import METRICS, MetricSpec, View, lookup, number, with_ci
from riskvision.metrics.ranking import RankingStatistic, auroc, weighted_statistic

#: The entries a researcher would add: a bootstrapped window Brier score, and a plain one next to common.window's F1.
WINDOW_BRIER_CI = MetricSpec(
    "window_brier", "window Brier score [95% CI]", with_ci, function=brier_score, view=View.WINDOWS, ci=True
)
WINDOW_BRIER = MetricSpec("common.window.brier", "window Brier score", number, function=brier_score, view=View.WINDOWS)


def test_one_entry_adds_a_metric_to_metrics_json_comparison_md_and_the_ci_set(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "METRICS", (*METRICS, WINDOW_BRIER_CI, WINDOW_BRIER))
    folders = [
        write_fake_run(tmp_path / "runs" / "bilstm", "binary", 2.0, 0),
        write_fake_run(tmp_path / "runs" / "resnet3d101", "multiclass", 1.0, 1),
    ]
    metrics = json.loads((folders[0] / "metrics.json").read_text())
    real = real_windows(pd.read_parquet(folders[0] / "predictions.parquet"))
    expected = brier_score(real["p_crash"].to_numpy(float), real["crash"].to_numpy())
    assert metrics["ci"]["window_brier"]["value"] == pytest.approx(expected, abs=1e-12)
    assert metrics["ci"]["window_brier"]["low"] <= expected <= metrics["ci"]["window_brier"]["high"]
    assert metrics["common"]["window"]["brier"] == pytest.approx(expected, abs=1e-12)
    assert list(metrics["common"]["window"])[-1] == "brier"  # after binary_metrics' own keys

    assert "window_brier" in ci_statistics(real)
    assert [spec.name for spec in catalog.ci_specs()][-1] == "window_brier"

    runs = load_runs(folders)
    report = write_report(runs, tmp_path / "compare", n_boot=30)["comparison"].read_text()
    row = next(line for line in report.splitlines() if line.startswith("| window Brier score [95% CI] |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == with_ci(metrics["ci"]["window_brier"])
    assert "P(>0)=" in cells[3]  # the paired difference of the two runs
    assert f"| window Brier score | {expected:.3f} |" in report
    values = metric_values(runs).set_index(["run", "metric"])
    assert values.loc[("bilstm", "window_brier"), "value"] == pytest.approx(expected, abs=1e-12)


def test_without_the_entry_the_metric_is_nowhere(fake_runs):
    runs = load_runs(fake_runs())
    assert "window_brier" not in runs[0].metrics["ci"] and "brier" not in runs[0].metrics["common"]["window"]
    assert "window Brier score [95% CI]" not in comparison_table(runs, n_boot=10).index


def test_every_row_is_declared_once_and_reads_a_path_metrics_json_holds(fake_runs):
    labels = [spec.label for spec in METRICS]
    assert len(labels) == len(set(labels))
    runs = load_runs(fake_runs())
    for spec in METRICS:  # a typo in a path would show "—" forever
        assert any(lookup(run.metrics, spec.path) is not None for run in runs), spec.path
    assert list(runs[0].metrics["ci"]) == [spec.name for spec in catalog.ci_specs()]
    table = comparison_table(runs, n_boot=10)
    assert list(table.index) == labels
    difference = table["bilstm − resnet3d101"]
    assert {label for label in labels if difference[label]} == {spec.label for spec in catalog.ci_specs()}


def test_a_computed_metric_may_not_overwrite_a_section(tmp_path, monkeypatch):
    twin = MetricSpec("calibration.brier", "Brier again", number, function=brier_score, view=View.WINDOWS)
    monkeypatch.setattr(catalog, "METRICS", (*METRICS, twin))
    with pytest.raises(ValueError, match="already holds 'calibration.brier'.*Fix:"):
        write_fake_run(tmp_path / "run", "binary", 1.0)


def test_a_spec_states_function_and_view_together_and_ci_needs_them():
    with pytest.raises(ValueError, match="both function= and view="):
        MetricSpec("x", "x", number, function=auroc)
    with pytest.raises(ValueError, match="ci=True needs function="):
        MetricSpec("x", "x", with_ci, ci=True)
    assert WINDOW_BRIER_CI.path == "ci.window_brier" and WINDOW_BRIER.path == "common.window.brier"


def test_weighted_statistic_sorts_ranking_metrics_once_and_calls_any_other():
    table = synthetic_table("binary")
    scores, labels = table["p_crash"].to_numpy(float), table["crash"].to_numpy()
    weights = np.random.default_rng(0).integers(0, 3, len(scores)).astype(float)
    ranked = weighted_statistic(auroc, scores, labels)
    assert isinstance(ranked, RankingStatistic) and ranked(weights) == auroc(scores, labels, weights)
    brier = weighted_statistic(brier_score, scores, labels)
    assert brier(weights) == brier_score(scores, labels, weights)
    assert brier(None) == brier_score(scores, labels)
    assert brier_score(scores, labels, np.ones(len(scores))) == pytest.approx(brier_score(scores, labels), abs=1e-15)
