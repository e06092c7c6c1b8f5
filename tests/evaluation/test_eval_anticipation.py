"""Frame-level AUC and UString/DSTA anticipation metrics on hand-made videos."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from riskvision.evaluation.anticipation import VideoScores, anticipation_curve, anticipation_metrics, frame_auc


def video(scores, crash, start=-1, end=-1, fps=10.0, frames=None) -> VideoScores:
    scores = np.asarray(scores, dtype=float)
    frames = np.arange(len(scores)) if frames is None else np.asarray(frames)
    return VideoScores(frames, scores, crash, start, end, fps)


# Two crash videos (anomaly from frame 5 and 4) and one normal video, 10 fps.
V1 = video([0.1, 0.2, 0.6, 0.7, 0.9, 0.95, 0.99], True, start=5, end=7)  # scored on frames 0..4
V2 = video([0.3, 0.4, 0.5, 0.8, 0.99, 0.99], True, start=4, end=6)  # scored on frames 0..3
QUIET_NEGATIVE = video([0.2, 0.65, 0.3], False)
LOUD_NEGATIVE = video([0.2, 0.9, 0.3], False)
THRESHOLDS = np.array([0.5, 0.7, 0.85])


def test_curve_by_hand():
    # t=.5: V1 alarms at frame 2 (TTA .3 s), V2 at 2 (.2 s), negative alarms: P 2/3, R 1, TTA .25
    # t=.7: V1 at 3 (.2 s), V2 at 3 (.1 s), negative silent: P 1, R 1, TTA .15
    # t=.85: V1 at 4 (.1 s), V2 never (its .99 frames are after the anomaly start): P 1, R .5, TTA .1
    curve = anticipation_curve([V1, V2, QUIET_NEGATIVE], THRESHOLDS)
    assert curve.precision == pytest.approx([2 / 3, 1, 1])
    assert curve.recall == pytest.approx([1, 1, 0.5])
    assert curve.tta == pytest.approx([0.25, 0.15, 0.1])


def test_metrics_by_hand():
    # per recall: R .5 -> (P 1, TTA .1); R 1 -> (max P 1, max TTA .25); AP = 1 * .5 + (1 + 1) / 2 * .5
    out = anticipation_metrics([V1, V2, QUIET_NEGATIVE], THRESHOLDS)
    assert out["ap"] == pytest.approx(1.0)
    assert out["mtta"] == pytest.approx((0.1 + 0.25) / 2)
    assert out["tta_r80"] == pytest.approx(0.25)  # recall 1.0 is nearest 0.8
    assert out["precision_r80"] == pytest.approx(1.0)


def test_false_alarms_lower_ap_by_hand():
    # the loud negative alarms at every threshold: R .5 -> P 1/2; R 1 -> P 2/3
    out = anticipation_metrics([V1, V2, LOUD_NEGATIVE], THRESHOLDS)
    assert out["ap"] == pytest.approx(0.5 * 0.5 + (0.5 + 2 / 3) / 2 * 0.5)
    assert out["mtta"] == pytest.approx((0.1 + 0.25) / 2)


def test_tta_uses_frame_indices_and_fps():
    # scored every 2nd frame at 5 fps: first alarm at frame 2, anomaly at 8 -> 6 frames = 1.2 s
    sparse = video([0.1, 0.9, 0.9, 0.9], True, start=8, end=10, fps=5.0, frames=[0, 2, 4, 6])
    out = anticipation_metrics([sparse, QUIET_NEGATIVE], np.array([0.8]))
    assert out["mtta"] == pytest.approx(1.2)


def test_default_grid_is_ustrings():
    out = anticipation_metrics([V1, V2, QUIET_NEGATIVE])
    # grid .100, .101, ... (from the lowest scored value .1): at t = .1 both crash videos alarm at frame 0
    # (.5 s and .4 s): the largest TTA at recall 1; t in (.65, .7] reaches recall 1 at precision 1 -> AP 1
    assert out["ap"] == pytest.approx(1.0)
    assert out["tta_r80"] == pytest.approx((0.5 + 0.4) / 2)
    # recall .5 only for t in (.8, .9]: V1 alarms at frame 4 (.1 s)
    assert out["mtta"] == pytest.approx((0.45 + 0.1) / 2)


def test_no_true_positive_gives_nan():
    out = anticipation_metrics([video([0.1, 0.1], True, start=1, end=2), QUIET_NEGATIVE], np.array([0.5]))
    assert np.isnan(out["ap"]) and np.isnan(out["mtta"])


def test_frame_auc_pools_frames_of_crash_videos_only():
    a = video([0.1, 0.2, 0.8, 0.9], True, start=2, end=4)
    b = video([0.3, 0.7, 0.6, 0.2], True, start=1, end=3)
    normal = video([0.99, 0.99], False)  # ignored: would otherwise lower the AUC
    labels = [0, 0, 1, 1, 0, 1, 1, 0]
    scores = [0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.6, 0.2]
    assert frame_auc([a, b, normal]) == pytest.approx(roc_auc_score(labels, scores))
    # by hand: positives .8 .9 .7 .6 beat every negative .1 .2 .3 .2 -> 1.0
    assert frame_auc([a, b, normal]) == pytest.approx(1.0)
