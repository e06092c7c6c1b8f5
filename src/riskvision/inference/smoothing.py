"""Causal post-processing of a stream's P(crash) series: smoothers, risk levels, and an alarm with hysteresis.

Every object here sees one output at a time, in time order (``time_s`` in seconds, strictly increasing),
and keeps O(1) state (:class:`MovingAverage`: its ``n`` last values), so a stream of any length runs in
constant memory. They are plain Python (no torch) and know nothing of models: the streaming engine
(:mod:`.stream`) feeds them.

- Smoothers (``update(value, time_s) -> smoothed``, ``reset()``): :class:`NoSmoothing`,
  :class:`ExponentialSmoother` (time constant in seconds, exact for irregular output times),
  :class:`MovingAverage` (the last ``n`` outputs).
- Risk levels (``level(values, smoothed) -> name``): :class:`ClassLevels` (the most likely class: Normal /
  Warning / Danger), :class:`ProbabilityBands` (``low`` / ``medium`` / ``high`` bands of the smoothed
  P(crash)); :func:`default_levels` picks the one for a task.
- :class:`Alarm`: on after the smoothed P(crash) stays ``>= on`` for ``min_on_s`` seconds, off when it falls
  ``< off``; each change is an :class:`AlarmEvent`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from riskvision.tasks import Task

__all__ = ["Alarm", "AlarmEvent", "ClassLevels", "ExponentialSmoother", "Levels", "MovingAverage", "NoSmoothing",
           "ProbabilityBands", "Smoother", "default_levels"]

_EPS = 1e-9  # seconds: a duration this close to min_on_s counts as reaching it (float sums of 0.1 s steps)


class Smoother(Protocol):
    """A causal filter of a series sampled at (possibly irregular) times."""

    def update(self, value: float, time_s: float) -> float:
        """The smoothed value after ``value`` observed at ``time_s`` (seconds)."""
        ...

    def reset(self) -> None:
        """Forget the past (a new stream)."""
        ...


class NoSmoothing:
    """The identity: the smoothed value is the value."""

    def update(self, value: float, time_s: float) -> float:
        return float(value)

    def reset(self) -> None:
        pass


class ExponentialSmoother:
    """First-order low-pass with time constant ``time_constant_s`` (seconds), exact for irregular steps.

    The first value passes unchanged; then, ``dt`` seconds after the previous output,
    ``s <- s + alpha * (value - s)`` with ``alpha = 1 - exp(-dt / time_constant_s)``: the discretisation of
    ``ds/dt = (value - s) / tau`` with the value held over the step, so two steps of ``dt`` equal one of
    ``2 dt`` for a constant value whatever the output rate. ``time_constant_s = 0``: no smoothing.
    """

    def __init__(self, time_constant_s: float) -> None:
        if not time_constant_s >= 0:
            raise ValueError(f"ExponentialSmoother time_constant_s={time_constant_s} must be >= 0 (seconds)")
        self.time_constant_s = float(time_constant_s)
        self.reset()

    def reset(self) -> None:
        self.value: float | None = None
        self.time_s: float | None = None

    def update(self, value: float, time_s: float) -> float:
        value, time_s = float(value), float(time_s)
        if self.value is None or self.time_constant_s == 0:
            self.value = value
        else:
            dt = time_s - self.time_s
            if dt < 0:
                raise ValueError(f"ExponentialSmoother: time_s={time_s} is before the previous {self.time_s}")
            alpha = 1.0 - math.exp(-dt / self.time_constant_s)
            self.value += alpha * (value - self.value)
        self.time_s = time_s
        return self.value


class MovingAverage:
    """Mean of the last ``n`` outputs (fewer at the start of a stream); ignores the times."""

    def __init__(self, n: int) -> None:
        if int(n) < 1:
            raise ValueError(f"MovingAverage n={n} must be >= 1 (outputs averaged)")
        self.n = int(n)
        self.reset()

    def reset(self) -> None:
        self.values: deque[float] = deque(maxlen=self.n)

    def update(self, value: float, time_s: float) -> float:
        self.values.append(float(value))
        return sum(self.values) / len(self.values)


class Levels(Protocol):
    """The risk level shown for one output."""

    def level(self, values: np.ndarray, smoothed: float) -> str:
        """``values``: the output's probability columns ``[C]`` (``Task.prob_columns``); ``smoothed``: its
        smoothed P(crash). Returns the level's name."""
        ...


class ClassLevels:
    """The most likely class of the output (unsmoothed: ``Task.decisions`` of a class task), e.g. Normal /
    Warning / Danger."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.names = tuple(str(name) for name in class_names)

    def level(self, values: np.ndarray, smoothed: float) -> str:
        return self.names[int(np.argmax(values))]


class ProbabilityBands:
    """Bands of the SMOOTHED P(crash): ``names[2]`` when ``>= high``, ``names[1]`` when ``>= medium``,
    else ``names[0]``."""

    def __init__(self, medium: float, high: float, names: Sequence[str] = ("low", "medium", "high")) -> None:
        if not 0 <= medium <= high <= 1:
            raise ValueError(f"ProbabilityBands needs 0 <= medium <= high <= 1, got medium={medium} high={high}")
        if len(names) != 3:
            raise ValueError(f"ProbabilityBands names={list(names)} needs 3 names (lowest first)")
        self.medium, self.high, self.names = float(medium), float(high), tuple(names)

    def level(self, values: np.ndarray, smoothed: float) -> str:
        return self.names[2 if smoothed >= self.high else 1 if smoothed >= self.medium else 0]


def default_levels(task: Task, threshold: float) -> Levels:
    """The levels of ``task``: a task with class names shows its most likely class (:class:`ClassLevels`); a
    task without (binary P(crash)) shows :class:`ProbabilityBands` with ``high`` at the decision threshold
    (the tuned one: at and above it the model says crash) and ``medium`` at half of it."""
    if task.class_names:
        return ClassLevels(task.class_names)
    return ProbabilityBands(medium=0.5 * threshold, high=threshold)


@dataclass(frozen=True)
class AlarmEvent:
    """The alarm turned ``kind`` ("on" / "off") at the output of target frame ``frame``, ``time_s`` seconds."""

    kind: Literal["on", "off"]
    time_s: float
    frame: int


class Alarm:
    """An alarm on a smoothed P(crash) series with hysteresis.

    Off -> on at the first output where the value has been ``>= on`` at every output since one at least
    ``min_on_s`` seconds earlier (``min_on_s = 0``: at the first output ``>= on``). On -> off at the first
    output ``< off``. ``off <= on``; values in ``[off, on)`` keep it as it is (and restart the ``min_on_s``
    count while it is off).

    Args:
        on: the level that turns it on (a probability).
        off: the level below which it turns off (``None``: ``0.8 * on``).
        min_on_s: how long (seconds) the value must stay ``>= on`` first.
    """

    def __init__(self, on: float, off: float | None = None, min_on_s: float = 0.5) -> None:
        off = 0.8 * on if off is None else off
        if not 0 <= off <= on <= 1:
            raise ValueError(f"Alarm needs 0 <= off <= on <= 1 (hysteresis), got on={on} off={off}")
        if not min_on_s >= 0:
            raise ValueError(f"Alarm min_on_s={min_on_s} must be >= 0 (seconds)")
        self.on, self.off, self.min_on_s = float(on), float(off), float(min_on_s)
        self.reset()

    def describe(self) -> str:
        """The rule in words, e.g. ``on when smoothed P(crash) >= 0.45 for 0.5 s, off below 0.36``."""
        return f"on when smoothed P(crash) >= {self.on:.2f} for {self.min_on_s:g} s, off below {self.off:.2f}"

    def reset(self) -> None:
        self.active = False
        self.above_since: float | None = None  # time of the first output of the current run >= on

    def update(self, value: float, time_s: float, frame: int) -> list[AlarmEvent]:
        """Feed one output; returns the event it causes (none or one)."""
        if self.active:
            if value < self.off:
                self.active, self.above_since = False, None
                return [AlarmEvent("off", float(time_s), int(frame))]
            return []
        if value < self.on:
            self.above_since = None
            return []
        if self.above_since is None:
            self.above_since = float(time_s)
        if time_s - self.above_since >= self.min_on_s - _EPS:
            self.active = True
            return [AlarmEvent("on", float(time_s), int(frame))]
        return []
