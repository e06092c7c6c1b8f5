"""Per-video bootstrap: resampling unit, interval sanity, and the paired difference."""

from __future__ import annotations

import numpy as np
import pytest

from riskvision.evaluation.bootstrap import bootstrap_ci, paired_bootstrap_diff
from riskvision.metrics.ranking import auroc


def test_resamples_whole_videos():
    ids = np.array(["a"] * 5 + ["b"] * 2 + ["c"])
    seen = []

    def statistic(weights: np.ndarray) -> float:
        seen.append(weights.copy())
        return float(weights.sum())

    bootstrap_ci(ids, statistic, n_boot=50, seed=3)
    for weights in seen[1:]:  # seen[0] is the point estimate (all weights 1)
        per_video = [set(weights[ids == v]) for v in "abc"]
        assert all(len(s) == 1 for s in per_video)  # one draw count per video
        assert sum(s.pop() for s in per_video) == 3  # 3 videos drawn per resample
    assert np.all(seen[0] == 1)


def test_interval_brackets_point_and_is_seeded():
    rng = np.random.default_rng(0)
    ids = np.repeat([f"v{i}" for i in range(40)], 5)
    labels = np.repeat(np.arange(40) % 2, 5)
    scores = labels * 0.5 + rng.uniform(0, 1, 200)
    stat = lambda w: auroc(scores, labels, w)  # noqa: E731
    first, again = bootstrap_ci(ids, stat, 200, seed=1), bootstrap_ci(ids, stat, 200, seed=1)
    assert first == again
    assert first.low < first.value < first.high
    assert first.value == pytest.approx(auroc(scores, labels))


def test_paired_difference_of_identical_models_is_exactly_zero():
    ids = np.repeat(["a", "b", "c", "d"], 3)
    labels = np.tile([0, 1, 1], 4)
    scores = np.linspace(0, 1, 12)
    stat = lambda w: auroc(scores, labels, w)  # noqa: E731
    diff = paired_bootstrap_diff(ids, stat, ids, stat, n_boot=100)
    assert (diff.value, diff.low, diff.high) == (0.0, 0.0, 0.0)


def test_pairing_cancels_shared_video_difficulty():
    # both models see the same hard and easy videos; B is A plus a little noise: the paired interval of
    # A - B must be far narrower than either model's own interval
    rng = np.random.default_rng(2)
    ids = np.repeat([f"v{i}" for i in range(30)], 4)
    labels = np.repeat(np.arange(30) % 2, 4)
    difficulty = np.repeat(rng.normal(0, 1, 30), 4)
    a = labels + difficulty
    b = a + rng.normal(0, 0.05, len(a))
    stat_a, stat_b = (lambda w: auroc(a, labels, w)), (lambda w: auroc(b, labels, w))
    single = bootstrap_ci(ids, stat_a, 300)
    paired = paired_bootstrap_diff(ids, stat_a, ids, stat_b, 300)
    assert paired.high - paired.low < 0.25 * (single.high - single.low)


def test_clearly_better_model_wins_in_every_resample():
    ids = np.repeat([f"v{i}" for i in range(20)], 3)
    labels = np.repeat(np.arange(20) % 2, 3)
    rng = np.random.default_rng(4)
    good, bad = labels + rng.normal(0, 0.3, 60), rng.normal(0, 1, 60)
    diff = paired_bootstrap_diff(ids, lambda w: auroc(good, labels, w), ids, lambda w: auroc(bad, labels, w), 200)
    assert diff.low > 0 and diff.p_above_zero == 1.0


def test_paired_needs_shared_videos():
    with pytest.raises(ValueError, match="share no video_id"):
        paired_bootstrap_diff(["a"], lambda w: 0.0, ["b"], lambda w: 0.0, 10)
