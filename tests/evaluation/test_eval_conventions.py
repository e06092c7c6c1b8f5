"""Published metric conventions worked by hand: UString's / DSTA's anticipation code, DoTA's min-max frame AUC."""

from __future__ import annotations

import numpy as np
import pytest

from riskvision.evaluation.anticipation import (
    VideoScores,
    anticipation_curve,
    anticipation_metrics,
    frame_auc,
    frame_auc_minmax,
    minmax_per_video,
)


def video(scores, crash, start=-1, end=-1, fps=10.0, num_frames=10) -> VideoScores:
    scores = np.asarray(scores, dtype=float)
    return VideoScores(np.arange(len(scores)), scores, crash, start, end, fps, num_frames)


# Three videos of T = 10 frames at 10 fps; the positives' accident (toa) at frame 5, so only frames 0..4 count.
A = video([0.1, 0.3, 0.6, 0.8, 0.9, 0.99], True, start=5, end=8)
B = video([0.2, 0.7, 0.4, 0.5, 0.6, 0.99], True, start=5, end=8)
C = video([0.1, 0.2, 0.6, 0.3, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1], False)
THRESHOLDS = np.array([0.5, 0.65, 0.75, 0.85])
# threshold: first alarms (A, B), C alarms?, precision, recall
#   .50: A at 2, B at 1, C yes -> P 2/3, R 1
#   .65: A at 3, B at 1, C no  -> P 1,   R 1
#   .75: A at 3, B never       -> P 1,   R 1/2
#   .85: A at 4, B never       -> P 1,   R 1/2


def test_ustring_tta_is_relative_times_clip_duration():
    # TTA of a video = (1 - first / toa) * T / fps, averaged over the detected ones
    #   .50: A (1 - 2/5) * 10/10 = .6, B (1 - 1/5) = .8 -> .7      (ours: (5-2)/10 = .3, (5-1)/10 = .4 -> .35)
    #   .65: A .4, B .8 -> .6;  .75: A .4;  .85: A .2
    ours = anticipation_curve([A, B, C], THRESHOLDS)
    ustring = anticipation_curve([A, B, C], THRESHOLDS, convention="ustring")
    assert ustring.tta == pytest.approx([0.7, 0.6, 0.4, 0.2])
    assert ours.tta == pytest.approx([0.35, 0.3, 0.2, 0.1])
    assert ustring.precision == pytest.approx(ours.precision) and ustring.recall == pytest.approx(ours.recall)


def test_ustring_tta_on_dad_shapes():
    # DAD: T = 100 frames at 20 fps, accident at frame 90. An alarm at frame 0 left 4.5 s; UString counts 5.0 s.
    # At frame 45: ours 45 / 20 = 2.25 s, UString (1 - 45/90) * 100 / 20 = 2.5 s.
    for first, ours, ustring in [(0, 4.5, 5.0), (45, 2.25, 2.5)]:
        scores = np.where(np.arange(100) >= first, 0.9, 0.1)
        positive = VideoScores(np.arange(100), scores, True, 90, 100, 20.0, 100)
        negative = VideoScores(np.arange(100), np.full(100, 0.1), False, -1, -1, 20.0, 100)
        assert anticipation_metrics([positive, negative], np.array([0.5]))["mtta"] == pytest.approx(ours)
        assert anticipation_metrics([positive, negative], np.array([0.5]), convention="ustring")[
            "mtta"
        ] == pytest.approx(ustring)


def test_ustring_takes_the_first_threshold_of_the_highest_recall_group():
    # recall 1/2: thresholds .75, .85 -> max P 1, max TTA (ours .2, UString .4) in both conventions
    # recall 1: thresholds .50, .65 -> ours: max P 1, max TTA .35;
    #           UString: the first (lowest) threshold's, P 2/3, TTA .7
    ours = anticipation_metrics([A, B, C], THRESHOLDS)
    ustring = anticipation_metrics([A, B, C], THRESHOLDS, convention="ustring")
    assert ours["ap"] == pytest.approx(1 * 0.5 + (1 + 1) / 2 * 0.5)
    assert ustring["ap"] == pytest.approx(1 * 0.5 + (1 + 2 / 3) / 2 * 0.5)
    assert ours["mtta"] == pytest.approx((0.2 + 0.35) / 2)
    assert ustring["mtta"] == pytest.approx((0.4 + 0.7) / 2)
    assert ours["tta_r80"] == pytest.approx(0.35) and ustring["tta_r80"] == pytest.approx(0.7)  # recall 1 nearest .8
    assert ours["precision_r80"] == pytest.approx(1.0) and ustring["precision_r80"] == pytest.approx(2 / 3)


def test_dsta_precision_at_the_first_recall_reaching_80_percent():
    # three positives (toa 5) and a negative peaking at .6; thresholds .5 / .7 / .9 reach recall 1 / 2/3 / 1/3
    d = video([0.1, 0.95, 0.95, 0.95, 0.95], True, start=5, end=8)  # alarms at frame 1 at every threshold
    e = video([0.1, 0.1, 0.1, 0.8, 0.1], True, start=5, end=8)  # at frame 3 for .5 and .7
    f = video([0.55, 0.1, 0.1, 0.1, 0.1], True, start=5, end=8)  # at frame 0 for .5 only
    n = video(np.full(10, 0.6), False)  # a false alarm at .5 only
    out = anticipation_metrics([d, e, f, n], np.array([0.5, 0.7, 0.9]), convention="ustring")
    # recalls 1/3, 2/3, 1 with precision 1, 1, 3/4; UString TTAs: d .8, e .4, f 1.0 ->
    #   R 1/3: .8;  R 2/3: (.8 + .4) / 2 = .6;  R 1: (.8 + .4 + 1.0) / 3
    assert out["precision_r80"] == pytest.approx(3 / 4)  # DSTA: the first recall >= .8 is 1
    assert anticipation_metrics([d, e, f, n], np.array([0.5, 0.7, 0.9]))["precision_r80"] == pytest.approx(1.0)
    assert out["tta_r80"] == pytest.approx(0.6)  # UString: the recall NEAREST .8 is 2/3
    assert out["mtta"] == pytest.approx((0.8 + 0.6 + 2.2 / 3) / 3)
    assert out["ap"] == pytest.approx(1 / 3 + (1 + 1) / 2 / 3 + (1 + 0.75) / 2 / 3)


def test_dsta_precision_is_nan_when_no_recall_reaches_80_percent():
    g = video([0.1, 0.1, 0.1, 0.1, 0.1], True, start=5, end=8)  # never caught: recall at most 1/2
    assert np.isnan(anticipation_metrics([A, g, C], THRESHOLDS, convention="ustring")["precision_r80"])


def test_unknown_convention_is_named():
    with pytest.raises(ValueError, match=r"convention='dsta'.*'riskvision', 'ustring'"):
        anticipation_metrics([A, B, C], THRESHOLDS, convention="dsta")


def test_length_defaults_to_one_past_the_last_frame():
    assert VideoScores(np.array([3, 4, 7]), np.zeros(3), True, 5, 6, 10.0).length == 8
    assert A.length == 10


def test_frame_auc_minmax_reproduces_dota_test_py_exactly():
    # issue 27: DoTA's ConvAE/test.py get_score_label normalises (s - min) / (max - min + 1e-7), so the maxima of
    # videos of different ranges do not tie: A's positive 0.99999986 beats B's negative 0.99999967
    a = VideoScores(np.arange(2), np.array([0.2, 0.9]), True, 1, 2, 10.0, 2)  # labels 0, 1
    b = VideoScores(np.arange(2), np.array([0.1, 0.4]), True, 0, 1, 10.0, 2)  # labels 1, 0
    assert frame_auc_minmax([a, b]) == 0.625
    s_a, s_b = np.array([0.2, 0.9]), np.array([0.1, 0.4])
    expected = np.r_[
        (s_a - s_a.min()) / (s_a.max() - s_a.min() + 1e-7), (s_b - s_b.min()) / (s_b.max() - s_b.min() + 1e-7)
    ]
    np.testing.assert_array_equal(minmax_per_video(np.array([0.2, 0.9, 0.1, 0.4]), np.array(list("aabb"))), expected)


def test_minmax_per_video_by_hand():
    out = minmax_per_video(np.array([0.2, 0.8, 0.4, 0.5, 0.5, 0.6]), np.array(["a", "b", "a", "c", "c", "a"]))
    # a: .2 .4 .6 -> 0 .5 1;  b: one value -> 0;  c: all equal -> 0
    assert out == pytest.approx([0, 0, 0.5, 0, 0, 1])


def test_dota_frame_auc_normalises_each_video_by_hand():
    a = video([0.2, 0.4, 0.6], True, start=2, end=3)  # -> 0, .5, 1 - 2.5e-7    labels 0 0 1
    b = video([0.8, 0.9, 0.7, 0.9], True, start=1, end=2)  # -> .5, 1 - 5e-7, 0, 1 - 5e-7  labels 0 1 0 0
    c = video([0.5, 0.5], True, start=0, end=1)  # -> 0, 0         labels 1 0
    normal = video([0.99, 0.0], False)  # takes no part
    # DoTA's eps: a's maximum (range .4) lands above b's (range .2), so a's positive beats all 6 negatives (6),
    # b's ties b's other maximum and beats 5 (5.5), c's 0 ties 3 (1.5): 13 / 18 (without the eps: 12.5 / 18)
    assert frame_auc_minmax([a, b, c, normal]) == pytest.approx(13 / 18)
    # raw scores: positives .6, .9, .5 vs .2, .4, .8, .7, .9, .5 -> 3 + 5.5 + 2.5 = 11 of 18
    assert frame_auc([a, b, c, normal]) == pytest.approx(11 / 18)
