"""riskvision.inference.smoothing: causal smoothing of a P(crash) series, risk levels, the alarm with hysteresis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskvision.inference.smoothing import (
    Alarm, AlarmEvent, ClassLevels, ExponentialSmoother, MovingAverage, NoSmoothing, ProbabilityBands,
    default_levels,
)  # fmt: skip
from riskvision.tasks import BinaryCrash, RiskLevels


def test_exponential_smoother_is_exact_for_irregular_steps():
    smoother = ExponentialSmoother(time_constant_s=0.5)
    assert smoother.update(0.2, 0.0) == 0.2
    expected = 0.2 + (1 - math.exp(-0.3 / 0.5)) * (1.0 - 0.2)
    assert smoother.update(1.0, 0.3) == pytest.approx(expected)
    one, two = ExponentialSmoother(0.5), ExponentialSmoother(0.5)
    one.update(0.0, 0.0), two.update(0.0, 0.0)
    two.update(1.0, 0.1)
    assert one.update(1.0, 0.2) == pytest.approx(two.update(1.0, 0.2))  # one step of 0.2 s == two of 0.1 s
    assert ExponentialSmoother(0).update(0.7, 0.0) == 0.7
    with pytest.raises(ValueError, match="time_constant_s"):
        ExponentialSmoother(-1)


def test_moving_average_and_no_smoothing():
    average = MovingAverage(3)
    values = [average.update(v, i / 10) for i, v in enumerate([0.3, 0.6, 0.9, 0.0])]
    assert values == pytest.approx([0.3, 0.45, 0.6, 0.5])
    average.reset()
    assert average.update(1.0, 5.0) == 1.0
    assert NoSmoothing().update(0.42, 1.0) == 0.42


def test_levels():
    bands = default_levels(BinaryCrash(), 0.6)
    assert isinstance(bands, ProbabilityBands) and (bands.medium, bands.high) == (0.3, 0.6)
    assert [bands.level(np.array([0.0]), p) for p in (0.29, 0.3, 0.59, 0.6)] == ["low", "medium", "medium", "high"]
    classes = default_levels(RiskLevels(("Normal", "Warning", "Danger")), 0.5)
    assert isinstance(classes, ClassLevels)
    assert classes.level(np.array([0.2, 0.3, 0.5]), 0.0) == "Danger"
    assert classes.level(np.array([0.4, 0.35, 0.25]), 0.9) == "Normal"


def test_alarm_hysteresis_on_a_hand_made_series():
    """on 0.6, off 0.4, min_on_s 0.3, outputs every 0.1 s: on once 0.3 s of >= 0.6 are seen, not off in
    [0.4, 0.6), off below 0.4; a dip below on restarts the count."""
    alarm = Alarm(on=0.6, off=0.4, min_on_s=0.3)
    series = [0.7, 0.7, 0.5, 0.7, 0.7, 0.7, 0.7, 0.5, 0.3, 0.7, 0.7, 0.7]
    events, states = [], []
    for i, value in enumerate(series):
        events += alarm.update(value, i / 10, i)
        states.append(alarm.active)
    assert events == [AlarmEvent("on", 0.6, 6), AlarmEvent("off", 0.8, 8)]
    assert states == [False] * 6 + [True, True] + [False] * 4
    immediate = Alarm(on=0.5, min_on_s=0)
    assert immediate.off == 0.4 and immediate.update(0.5, 0.0, 0) == [AlarmEvent("on", 0.0, 0)]
    with pytest.raises(ValueError, match="off <= on"):
        Alarm(on=0.5, off=0.6)
