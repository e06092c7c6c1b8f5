"""The deployed alarm policy replayed over one video's P(crash) series: what the review page draws as "smoothed P"
and "alarm episodes".

:func:`policy_trace` is the ONE place the review page asks for it: today the streaming classes of
:mod:`riskvision.inference.smoothing` (a :class:`~riskvision.inference.smoothing.Smoother` and an
:class:`~riskvision.inference.smoothing.Alarm` with hysteresis and a minimum on-time), fed one output at a time as
``predict_video`` feeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskvision.inference.smoothing import Alarm, Smoother

__all__ = ["AlarmSettings", "PolicyTrace", "policy_trace"]


@dataclass
class AlarmSettings:
    """The alarm's hysteresis (``predict_video.yaml``'s ``alarm``): ``on_threshold`` (``None``: the run's
    threshold), ``off_threshold`` (``None``: 0.8 x on) and ``min_on_s`` (seconds the smoothed P(crash) stays at or
    above ``on`` first)."""

    on_threshold: float | None = None
    off_threshold: float | None = None
    min_on_s: float = 0.5


@dataclass(frozen=True)
class PolicyTrace:
    """``smoothed`` P(crash) ``[N]`` (one per scored window) and the alarm ``episodes`` as ``(on_s, off_s)``
    seconds, ``off_s`` = the video's end for an alarm still on; ``rule``: the policy in words."""

    smoothed: np.ndarray
    episodes: list[tuple[float, float]]
    rule: str


def policy_trace(frames: np.ndarray, p_crash: np.ndarray, fps: float, end_s: float, threshold: float,
                 smoother: Smoother, alarm: AlarmSettings) -> PolicyTrace:
    """Replay the policy over one video: ``frames`` ``[N]`` (ascending target-rate end frames of its windows),
    ``p_crash`` ``[N]``, frame rate ``fps``, video length ``end_s`` seconds, the run's decision ``threshold``.
    ``smoother`` is reset first (a new stream)."""
    rule = Alarm(threshold if alarm.on_threshold is None else alarm.on_threshold, alarm.off_threshold, alarm.min_on_s)
    smoother.reset()
    smoothed = np.empty(len(frames))
    episodes: list[tuple[float, float]] = []
    on_s: float | None = None
    for k, (frame, value) in enumerate(zip(frames, p_crash)):
        time_s = float(frame) / fps
        smoothed[k] = smoother.update(float(value), time_s)
        for event in rule.update(smoothed[k], time_s, int(frame)):
            if event.kind == "on":
                on_s = event.time_s
            else:
                episodes.append((on_s, event.time_s))
                on_s = None
    if on_s is not None:
        episodes.append((on_s, float(end_s)))
    return PolicyTrace(smoothed, episodes, rule.describe())
