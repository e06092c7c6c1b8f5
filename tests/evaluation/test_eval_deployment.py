"""The deployment view worked by hand: false alarms per hour of normal driving, recall and mTTA at a capped rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import synthetic_table

from riskvision.alarm import AlarmPolicy, Hysteresis, NoSmoothing
from riskvision.evaluation.anticipation import VideoScores
from riskvision.evaluation.deployment import (
    AlarmSweep,
    deployment_metrics,
    raw_threshold_metrics,
    raw_threshold_statistics,
)

HALF_HOUR = 18_000  # frames at 10 fps


def video(scores, crash, start=-1, num_frames=HALF_HOUR) -> VideoScores:
    scores = np.asarray(scores, dtype=float)
    return VideoScores(np.arange(len(scores)), scores, crash, start, start + 3 if crash else -1, 10.0, num_frames)


# Two half-hour normal videos (one hour of normal driving) and two crash videos (anomaly at frame 5).
N1 = video([0.2, 0.7, 0.3, 0.8, 0.9, 0.1], False)
N2 = video([0.6, 0.6, 0.2], False)
P1 = video([0.1, 0.75, 0.2, 0.85, 0.3, 0.99], True, start=5)  # the .99 is inside the anomaly: not counted
P2 = video([0.1, 0.2, 0.3, 0.4, 0.7, 0.99], True, start=5)
VIDEOS = [N1, N2, P1, P2]


def test_false_alarms_are_episodes_per_hour_of_normal_driving():
    sweep = AlarmSweep(VIDEOS)
    assert sweep.negative_hours() == pytest.approx(1.0)
    # threshold .5: N1 alarms on .7, re-arms on .3, alarms again on .8 .9 -> 2 episodes; N2 .6 .6 -> 1
    assert sweep.false_alarms(0.5) == 3 and sweep.false_alarms_per_hour(0.5) == pytest.approx(3.0)
    # .25: N1's .7 .3 .8 .9 is one episode, N2's .6 .6 another: raising the threshold to .5 SPLIT an episode
    assert sweep.false_alarms_per_hour(0.25) == pytest.approx(2.0)
    assert sweep.false_alarms_per_hour(0.85) == pytest.approx(1.0) and sweep.false_alarms_per_hour(0.95) == 0


def test_false_alarm_curve_matches_counting_at_each_threshold():
    sweep = AlarmSweep(VIDEOS)
    direct = [sweep.false_alarms_per_hour(t) for t in sweep.thresholds]
    assert sweep.false_alarm_curve() == pytest.approx(direct)
    weights = np.array([2.0, 0.0, 1.0, 3.0])  # a bootstrap draw: N1 twice, N2 never
    assert sweep.false_alarm_curve(weights) == pytest.approx(
        [sweep.false_alarms_per_hour(t, weights) for t in sweep.thresholds]
    )


def test_recall_and_mtta_at_the_operating_threshold():
    sweep = AlarmSweep(VIDEOS)
    # .5: P1 first alarms at frame 1 (.75): (5 - 1) / 10 = .4 s; P2 at frame 4 (.7): .1 s
    assert sweep.recall(0.5) == 1.0 and sweep.mtta(0.5) == pytest.approx(0.25)
    # .8: P1 at frame 3 (.85): .2 s; P2 never (its .99 comes after the anomaly start)
    assert sweep.recall(0.8) == 0.5 and sweep.mtta(0.8) == pytest.approx(0.2)


def test_capped_threshold_is_the_lowest_meeting_the_cap():
    sweep = AlarmSweep(VIDEOS)
    # per hour at the candidates: .1 .2 .3 -> 2, .4 .6 -> 3, .7 -> 2, .75 .8 .85 .9 -> 1, inf -> 0
    assert sweep.capped_threshold(1.0) == pytest.approx(0.75)  # a positive's score: the lowest with <= 1 / h
    assert sweep.recall(0.75) == 0.5 and sweep.mtta(0.75) == pytest.approx(0.4)  # P1 at frame 1
    # <= 2 / h: the lowest is .1 although .4 and .6 exceed it (the rate is not monotone)
    assert sweep.capped_threshold(2.0) == pytest.approx(0.1)
    assert sweep.recall(0.1) == 1.0 and sweep.mtta(0.1) == pytest.approx(0.5)
    # no false alarm at all: only silence, nothing detected
    assert sweep.capped_threshold(0.0) == np.inf and sweep.recall(np.inf) == 0 and np.isnan(sweep.mtta(np.inf))


def test_weights_count_a_video_as_often_as_it_was_drawn():
    weights = np.array([2.0, 1.0, 0.0, 1.0])
    weighted = AlarmSweep(VIDEOS)
    copies = AlarmSweep([N1, N1, N2, P2])
    for threshold in (0.1, 0.5, 0.8):
        expected = copies.false_alarms_per_hour(threshold)
        assert weighted.false_alarms_per_hour(threshold, weights) == pytest.approx(expected)
        assert weighted.recall(threshold, weights) == pytest.approx(copies.recall(threshold))
    assert weighted.capped_threshold(1.0, weights) == pytest.approx(copies.capped_threshold(1.0))


def test_no_normal_video_gives_nan():
    sweep = AlarmSweep([P1, P2])
    assert np.isnan(sweep.false_alarms_per_hour(0.5)) and np.isnan(sweep.capped_threshold(1.0))
    assert np.isnan(sweep.recall(sweep.capped_threshold(1.0)))


RAW = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=1.0, min_on_s=0.0))


def _table(videos: dict[str, VideoScores]) -> pd.DataFrame:
    rows = [
        {
            "video_id": name,
            "end_frame": f,
            "p_crash": s,
            "crash": int(v.crash),
            "anomaly_start": v.anomaly_start,
            "anomaly_end": v.anomaly_end,
            "fps": v.fps,
            "num_frames": v.num_frames,
            "probe": "none",
        }
        for name, v in videos.items()
        for f, s in zip(v.frames, v.scores)
    ]
    return pd.DataFrame(rows)


def test_deployment_metrics_of_a_table():
    table = _table({"n1": N1, "n2": N2, "p1": P1, "p2": P2})
    policy_view = deployment_metrics(table, threshold=0.5, cap_per_hour=1.0, n_boot=50, policy=RAW)
    assert policy_view["negative_hours"] == pytest.approx(1.0)
    assert (policy_view["n_negative_videos"], policy_view["n_positive_videos"]) == (2, 2)
    out = policy_view["raw_threshold"]
    # the raw policy (no smoothing, off below the threshold, no minimum on-time) replays the raw-threshold view
    for view in ("at_threshold", "at_cap"):
        for key in ("threshold", "false_alarms_per_hour", "recall", "mtta"):
            assert policy_view[view][key] == out[view][key], (view, key)
    assert out["at_threshold"]["false_alarms"] == 3
    assert out["at_threshold"]["false_alarms_per_hour"]["value"] == pytest.approx(3.0)
    assert out["at_threshold"]["mtta"]["value"] == pytest.approx(0.25)
    assert out["at_cap"]["threshold"] == pytest.approx(0.75) and out["at_cap"]["false_alarms_per_hour"] == 1.0
    assert out["at_cap"]["recall"]["value"] == 0.5 and out["at_cap"]["mtta"]["value"] == pytest.approx(0.4)
    ids, _ = raw_threshold_statistics(table, 0.5)["capped_recall"]
    assert ids.tolist() == ["n1", "n2", "p1", "p2"]


def test_bootstrap_intervals_hold_the_estimate():
    out = raw_threshold_metrics(synthetic_table("binary", 6, 6, skill=2.0), threshold=0.5, n_boot=100)
    for entry in (out["at_threshold"]["false_alarms_per_hour"], out["at_cap"]["recall"], out["at_cap"]["mtta"]):
        assert entry["low"] <= entry["value"] <= entry["high"]


def test_bad_cap_is_named():
    with pytest.raises(ValueError, match=r"false-alarm cap -1 per hour; give a finite rate >= 0"):
        raw_threshold_metrics(_table({"n1": N1}), threshold=0.5, cap_per_hour=-1)
