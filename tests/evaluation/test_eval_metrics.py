"""Metric functions against hand-computed cases and sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from riskvision.metrics.calibration import brier_score, expected_calibration_error, reliability_table
from riskvision.metrics.classification import binary_metrics, multiclass_metrics
from riskvision.metrics.ranking import auroc, average_precision


def test_binary_metrics_by_hand():
    # p >= 0.5 -> [1, 1, 0, 1, 0]; labels [1, 0, 1, 1, 0]: TP 2, FP 1, FN 1, TN 1
    out = binary_metrics(np.array([0.9, 0.6, 0.4, 0.5, 0.1]), np.array([1, 0, 1, 1, 0]), 0.5)
    assert (out["tp"], out["fp"], out["fn"], out["tn"]) == (2, 1, 1, 1)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    assert out["accuracy"] == pytest.approx(3 / 5)
    # positive-negative pairs won: 0.9 beats 0.6 and 0.1, 0.4 and 0.5 beat 0.1 -> 4 of 6
    assert out["auroc"] == pytest.approx(4 / 6)


def test_binary_metrics_threshold_moves_decisions():
    out = binary_metrics(np.array([0.9, 0.6, 0.4, 0.5, 0.1]), np.array([1, 0, 1, 1, 0]), 0.65)
    assert (out["tp"], out["fp"]) == (1, 0)
    assert out["precision"] == 1.0 and out["recall"] == pytest.approx(1 / 3)


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1), 2)  # rounded: many ties
    out = binary_metrics(p, y, 0.45)
    hard = (p >= 0.45).astype(int)
    assert out["precision"] == pytest.approx(skm.precision_score(y, hard))
    assert out["recall"] == pytest.approx(skm.recall_score(y, hard))
    assert out["f1"] == pytest.approx(skm.f1_score(y, hard))
    assert out["auroc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert out["ap"] == pytest.approx(skm.average_precision_score(y, p))


def test_weighted_ranking_matches_sklearn_sample_weight():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    p = np.round(rng.uniform(0, 1, 100) + 0.2 * y, 1)
    w = rng.integers(0, 4, 100).astype(float)
    assert auroc(p, y, w) == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w))
    assert average_precision(p, y, w) == pytest.approx(skm.average_precision_score(y, p, sample_weight=w))


def test_average_precision_by_hand():
    # scores 0.9(+) 0.8(-) 0.7(+): thresholds give (P, R) = (1, .5), (.5, .5), (2/3, 1) -> AP = .5 + .5 * 2/3
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx(0.5 + 1 / 3)


def test_ranking_is_nan_with_one_class():
    assert np.isnan(auroc(np.array([0.1, 0.2]), np.array([1, 1])))
    assert np.isnan(average_precision(np.array([0.1, 0.2]), np.array([0, 0])))


def test_multiclass_metrics_by_hand_and_sklearn():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0, 2])
    probs = np.eye(3)[predicted] * 0.8 + 0.2 / 3
    out = multiclass_metrics(probs, labels, ["Normal", "Warning", "Danger"])
    assert out["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    # Normal: TP 1, FP 1, FN 1 -> P = R = F1 = 1/2; Warning: TP 2, FP 1 -> P 2/3, R 1, F1 0.8;
    # Danger: P 1, R 2/3, F1 0.8
    assert out["precision_Normal"] == pytest.approx(0.5)
    assert out["f1_Warning"] == pytest.approx(0.8)
    assert out["recall_Danger"] == pytest.approx(2 / 3)
    assert out["f1_macro"] == pytest.approx((0.5 + 0.8 + 0.8) / 3)
    assert out["f1_macro"] == pytest.approx(skm.f1_score(labels, predicted, average="macro"))
    assert out["accuracy"] == pytest.approx(5 / 7)
    assert out["confusion_matrix"] == skm.confusion_matrix(labels, predicted, labels=[0, 1, 2]).tolist()


def test_brier_by_hand():
    # (0.9-1)^2 + (0.2-0)^2 + (0.6-0)^2 + (0.5-1)^2 = 0.01 + 0.04 + 0.36 + 0.25 = 0.66 -> / 4
    assert brier_score(np.array([0.9, 0.2, 0.6, 0.5]), np.array([1, 0, 0, 1])) == pytest.approx(0.165)


def test_ece_by_hand_with_two_bins():
    # bins [0, .5) and [.5, 1]: {0.1, 0.3} labels {0, 1}: conf .2, freq .5, gap .3;
    # {0.6, 0.8, 1.0} labels {1, 1, 0}: conf .8, freq 2/3, gap 2/15. ECE = 2/5 * .3 + 3/5 * 2/15
    p, y = np.array([0.1, 0.3, 0.6, 0.8, 1.0]), np.array([0, 1, 1, 1, 0])
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.4 * 0.3 + 0.6 * 2 / 15)
    table = reliability_table(p, y, n_bins=2)
    assert table["count"].tolist() == [2, 3]
    assert table["confidence"].tolist() == pytest.approx([0.2, 0.8])


def test_ece_is_zero_when_calibrated_and_uses_15_bins():
    p = np.repeat([0.2, 0.8], 10)
    y = np.r_[np.array([1, 1] + [0] * 8), np.array([1] * 8 + [0, 0])]
    assert expected_calibration_error(p, y) == pytest.approx(0.0)
    assert len(reliability_table(p, y)) == 15
