"""riskvision.tasks: what each task computes, on hand-made logits and probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from riskvision.tasks import BinaryCrash, RiskLevels

CLASSES = ("Normal", "Warning", "Danger")


def test_crash_probability_common_view():
    assert BinaryCrash().crash_probability(np.array([[0.2], [0.7]])).tolist() == [0.2, 0.7]
    three = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert RiskLevels(CLASSES).crash_probability(three) == pytest.approx([0.5, 0.9])


def test_binary_probabilities_columns_and_decisions():
    task = BinaryCrash()
    probs = task.probabilities(torch.tensor([[0.0], [2.0]]))
    assert probs.shape == (2, 2) and probs.sum(dim=1).tolist() == pytest.approx([1.0, 1.0])
    values = task.column_values(probs.numpy())
    assert task.prob_columns == ["prob_crash"] and values == pytest.approx([0.5, 1 / (1 + np.exp(-2.0))])
    assert task.decide(probs, 0.6).tolist() == [0, 1]
    decisions = task.decisions(values, 0.6)
    assert decisions.tolist() == [False, True]


def test_risk_levels_decide_by_argmax_and_alarm_off_the_first_class():
    task = RiskLevels(CLASSES)
    probs = task.probabilities(torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0]]))
    values = task.column_values(probs.numpy())
    assert task.prob_columns == ["prob_normal", "prob_warning", "prob_danger"]
    assert task.decide(probs, 0.5).tolist() == [0, 2]
    decisions = task.decisions(values, 0.5)
    assert decisions.tolist() == ["Normal", "Danger"]


def test_losses_and_their_weights():
    logits, labels = torch.tensor([[0.0], [0.0]]), torch.tensor([1, 0])
    plain = BinaryCrash().loss(logits, labels)
    assert plain.item() == pytest.approx(np.log(2))
    assert BinaryCrash(pos_weight=3.0).loss(logits, labels).item() == pytest.approx(2 * np.log(2))
    three = torch.zeros(2, 3)
    weighted = RiskLevels(CLASSES, class_weights=[1.0, 1.0, 3.0]).loss(three, torch.tensor([0, 2]))
    assert weighted.item() == pytest.approx(np.log(3))  # weighted mean of equal losses


def test_bad_task_settings_are_clear_errors():
    with pytest.raises(ValueError, match="one weight per class"):
        RiskLevels(CLASSES, class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=">= 2 class_names"):
        RiskLevels(["Normal"])
    with pytest.raises(ValueError, match=r"\[start, stop, step\]"):
        BinaryCrash(thresholds=[0.9, 0.1, 0.05])


def test_threshold_grid_is_the_seed_grid():
    grid = BinaryCrash().threshold_grid()
    assert len(grid) == 17 and grid[0].item() == pytest.approx(0.10) and grid[-1].item() == pytest.approx(0.90)
    with pytest.raises(NotImplementedError, match="tunes no decision threshold"):
        RiskLevels(CLASSES).threshold_grid()
