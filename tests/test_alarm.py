"""The alarm policy (riskvision.alarm): one definition replayed by evaluation and run by the stream."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

from riskvision.alarm import (
    Alarm,
    AlarmPolicy,
    ExponentialSmoother,
    Hysteresis,
    MovingAverage,
    NoSmoothing,
    OperatingPoint,
    PolicyError,
    check_threshold,
)
from riskvision.evaluation.anticipation import VideoScores
from riskvision.evaluation.deployment import PolicySweep, choose_operating_point, video_alarm_events

TIMES = np.arange(12) * 0.1  # 10 results per second
VALUES = np.array([0.1, 0.6, 0.7, 0.8, 0.5, 0.45, 0.3, 0.9, 0.95, 0.2, 0.7, 0.7])


def test_replay_by_hand():
    # no smoothing; on at >= 0.6 held 0.2 s, off below 0.48: the run 0.6, 0.7, 0.8 from 0.1 s turns it on at 0.3 s,
    # 0.45 < 0.48 turns it off at 0.5 s; the runs 0.9, 0.95 (0.7-0.8 s) and 0.7, 0.7 (1.0-1.1 s) last 0.1 s only
    policy = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=0.8, min_on_s=0.2))
    episodes = policy.replay(TIMES, VALUES, threshold=0.6, frames=np.arange(12) * 2)
    assert len(episodes) == 1 and (episodes[0].on_frame, episodes[0].off_frame) == (6, 10)
    assert (episodes[0].on_s, episodes[0].off_s) == (pytest.approx(0.3), pytest.approx(0.5))
    # without the minimum on-time: three episodes, the last still on at the end
    quick = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=0.8, min_on_s=0.0))
    assert [(e.on_frame, e.off_frame) for e in quick.replay(TIMES, VALUES, 0.6)] == [(1, 5), (7, 9), (10, None)]


def test_a_vector_of_thresholds_is_each_scalar_alarm():
    rng = np.random.default_rng(0)
    values, thresholds = rng.random(200), np.r_[np.linspace(0.05, 1.0, 40), np.inf]
    times = np.cumsum(rng.uniform(0.05, 0.3, 200))
    policy = AlarmPolicy(ExponentialSmoother(0.3), Hysteresis(off_ratio=0.7, min_on_s=0.25))
    counts, first = policy.on_events(times, values, thresholds)
    for k, threshold in enumerate(thresholds):
        episodes = policy.replay(times, values, threshold)
        assert counts[k] == len(episodes)
        assert first[k] == (np.searchsorted(times, episodes[0].on_s) if episodes else -1)
    assert counts[-1] == 0 and counts[0] >= 1  # inf: the "no alarm" operating point


def test_the_policy_round_trips_as_plain_data():
    for smoothing in (NoSmoothing(), ExponentialSmoother(0.7), MovingAverage(4)):
        policy = AlarmPolicy(smoothing, Hysteresis(0.5, 1.0))
        assert AlarmPolicy.from_dict(policy.to_dict()) == policy
    point = OperatingPoint(0.42, 1.0, "val", AlarmPolicy(), 0.9, 0.75, 2)
    assert OperatingPoint.from_dict(point.to_dict()) == point
    silent = OperatingPoint(math.inf, 0.0, "val", AlarmPolicy(), 0.0, 0.0, 1)
    assert silent.to_dict()["threshold"] is None and OperatingPoint.from_dict(silent.to_dict()) == silent


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Alarm(on=0.4, off=0.6), r"alarm off-threshold=0.6 is not in \[0, on\] .* Fix: give an off-threshold"),
        (
            lambda: Hysteresis(min_on_s=-1),
            r"alarm min_on_s=-1 is not a number >= 0 \(seconds\). Fix: e.g. min_on_s=0.5",
        ),
        (lambda: Hysteresis(off_ratio=1.2), r"alarm off_ratio=1.2 is not a number in \[0, 1\]"),
        (lambda: Hysteresis(min_on_s="0.5"), r"alarm min_on_s='0.5' is not a number >= 0"),
        (lambda: Alarm(on=1.5), r"alarm on-threshold=1.5 is not a probability in \(0, 1\]"),
        (lambda: check_threshold(0.0, "alarm_threshold"), r"alarm_threshold=0.0 is not a probability in \(0, 1\). Fix"),
        (lambda: check_threshold("high", "alarm_threshold"), r"alarm_threshold='high' is not a probability"),
        (lambda: ExponentialSmoother(float("nan")), r"time_constant_s=nan is not a number >= 0"),
        (lambda: MovingAverage(0), r"MovingAverage n=0 is not an integer >= 1"),
    ],
)
def test_bad_policy_values_are_one_clear_line(build, message):
    with pytest.raises(PolicyError, match=message) as error:
        build()
    assert "\n" not in str(error.value) and "Fix:" in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("rule"), r"X: \(the policy\)=.* is not \{smoothing"),
        (lambda d: d["rule"].update(kind="custom"), r"X: rule.kind='custom' is not one of \['hysteresis'\]"),
        (
            lambda d: d["smoothing"].update(time_constant_s=None),
            r"X: smoothing.time_constant_s=None is not a finite number",
        ),
        (lambda d: d["rule"].update(extra=1), r"X: rule=\{.*\} is not \{kind: 'hysteresis', off_ratio, min_on_s\}"),
        (lambda d: d["rule"].update(off_ratio=2.0), r"X: rule: alarm off_ratio=2.0 is not a number in \[0, 1\]"),
    ],
)
def test_a_malformed_stored_policy_is_refused_naming_the_key(change, message):
    data = AlarmPolicy().to_dict()
    change(data)
    with pytest.raises(PolicyError, match=message):
        AlarmPolicy.from_dict(data, "X: ")


def _video(scores, crash, start=-1, fps=10.0, num_frames=36_000) -> VideoScores:
    scores = np.asarray(scores, dtype=float)
    return VideoScores(np.arange(len(scores)), scores, crash, start, start + 5 if crash else -1, fps, num_frames)


def _table(videos: dict[str, VideoScores]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "video_id": name,
                "end_frame": f,
                "p_crash": s,
                "crash": int(v.crash),
                "fps": v.fps,
                "anomaly_start": v.anomaly_start,
                "anomaly_end": v.anomaly_end,
                "num_frames": v.num_frames,
                "probe": "none",
            }
            for name, v in videos.items()
            for f, s in zip(v.frames, v.scores)
        ]
    )


RAW = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=1.0, min_on_s=0.0))


def test_the_operating_point_is_the_lowest_threshold_meeting_the_cap_under_the_policy():
    # one hour of normal driving in two half hours: n1 peaks 0.5 (three windows), 0.7 and 0.9 (one window each)
    # over 0.1; n2 0.1, 0.2. Raw alarms per hour: 0.1 -> 2 (each video one long episode), 0.2 -> 4, 0.5 -> 3,
    # 0.7 -> 2, 0.9 -> 1
    normal = _video([0.1, 0.5, 0.5, 0.5, 0.1, 0.7, 0.1, 0.9, 0.1], False, num_frames=18_000)
    other = _video([0.1, 0.2], False, num_frames=18_000)
    crash = _video([0.2, 0.6, 0.8, 0.95, 0.99], True, start=4)
    table = _table({"n1": normal, "n2": other, "c": crash})
    point = choose_operating_point(table, RAW, cap_per_hour=1.0, split="val", step=3)
    # every threshold in (0.7, 0.9] gives 1 per hour; the lowest candidate there is the crash video's 0.8
    assert (point.threshold, point.false_alarms_per_hour, point.recall) == (0.8, 1.0, 1.0)
    assert (point.chosen_on, point.step, point.policy) == ("val", 3, RAW)
    # the minimum on-time changes the alarm that deploys: held 0.2 s (3 windows), only n1's plateau (0.5) or all of
    # n1 (0.1) alarms: 1 per hour from the lowest threshold up
    held = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=1.0, min_on_s=0.2))
    sweep = PolicySweep([normal, other, crash], held)
    assert sweep.false_alarm_curve()[sweep.index(0.5)] == 1.0 and sweep.false_alarm_curve()[sweep.index(0.1)] == 1.0
    assert choose_operating_point(table, held, cap_per_hour=1.0).threshold == 0.1


def test_a_cap_no_threshold_meets_gives_no_alarm_and_says_so(caplog):
    table = _table({"n": _video([0.3, 0.9], False, num_frames=10), "c": _video([0.5, 0.9], True, start=2)})
    with caplog.at_level(logging.WARNING, logger="riskvision.evaluation.deployment"):
        point = choose_operating_point(table, RAW, cap_per_hour=0.0)
    assert math.isinf(point.threshold) and point.recall == 0.0 and point.false_alarms_per_hour == 0.0
    assert "the threshold is 'no alarm'" in caplog.text
    assert "Fix: raise settings.false_alarm_cap_per_hour" in caplog.text
    assert "no alarm" in point.describe() and "no alarm" in AlarmPolicy().describe(point.threshold)


def test_the_sweep_counts_the_events_each_whole_video_replay_raises():
    # video_alarm_events (one scalar replay per video, what a review page draws) against the sweep's vector replay
    rng = np.random.default_rng(1)
    videos = {f"v{k}": _video(rng.random(40), k % 2 == 0, start=30 if k % 2 == 0 else -1) for k in range(6)}
    table = _table(videos)
    policy = AlarmPolicy(ExponentialSmoother(0.2), Hysteresis(off_ratio=0.7, min_on_s=0.2))
    sweep = PolicySweep(list(videos.values()), policy, extra_thresholds=[0.45])
    k = sweep.index(0.45)
    assert sweep.events_per_video(list(videos), k) == video_alarm_events(table, policy, 0.45)
    assert sum(video_alarm_events(table, policy, 0.45).values()) > 0


def test_streams_stepped_together_raise_each_streams_own_events():
    """on_events_many (streams of unequal length stepped as one [streams, K] alarm, ended ones fed -inf) gives what
    each stream's own vector alarm gives, output by output."""
    rng = np.random.default_rng(3)
    thresholds = np.r_[np.linspace(0.05, 1.0, 30), np.inf]
    policy = AlarmPolicy(ExponentialSmoother(0.3), Hysteresis(off_ratio=0.7, min_on_s=0.25))
    streams = [(np.cumsum(rng.uniform(0.05, 0.3, n)), rng.random(n)) for n in (0, 1, 5, 40, 40, 17, 120, 3)]
    counts, first = policy.on_events_many(streams, thresholds, group=3)
    for k, (times, values) in enumerate(streams):
        alarm = policy.alarm(thresholds)
        own_counts, own_first = np.zeros(len(thresholds), int), np.full(len(thresholds), -1)
        for i, (value, time_s) in enumerate(zip(policy.smooth(times, values), times)):
            turned_on, _ = alarm.step(float(value), float(time_s))
            own_counts += turned_on
            own_first[turned_on & (own_first < 0)] = i
        assert np.array_equal(counts[k], own_counts) and np.array_equal(first[k], own_first)
    assert counts[0].sum() == 0 and counts[6].sum() > 0
