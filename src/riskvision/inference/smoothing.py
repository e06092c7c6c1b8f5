"""Causal post-processing of a stream's P(crash) series: the alarm policy's parts, and risk levels.

The smoothers and the alarm are the alarm policy's (:mod:`riskvision.alarm`, one definition shared with evaluation
and export), re-exported here for the streaming engine (:mod:`.stream`):

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

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from riskvision.alarm import Alarm, AlarmEvent, AlarmPolicy, ExponentialSmoother, MovingAverage, NoSmoothing, Smoother
from riskvision.tasks import Task

__all__ = [
    "Alarm",
    "AlarmEvent",
    "AlarmPolicy",
    "ClassLevels",
    "ExponentialSmoother",
    "Levels",
    "MovingAverage",
    "NoSmoothing",
    "ProbabilityBands",
    "Smoother",
    "default_levels",
]


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
