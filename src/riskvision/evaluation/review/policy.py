"""The deployed alarm policy of a run, replayed over one video's P(crash) series: what the review page draws as
"smoothed P" and "alarm episodes", and counts its outcomes with.

:func:`run_policy` reads the policy and the threshold from the run's ``metrics.json`` (``deployment.policy``, built
by :meth:`riskvision.alarm.AlarmPolicy.from_dict`, which refuses a malformed one naming the key; the threshold of
``deployment.operating_point`` when the run has one, else ``run.threshold``): the policy and threshold the run's
deployment numbers were replayed with. :func:`policy_trace` replays it over one video with the policy's own
objects (:meth:`~riskvision.alarm.AlarmPolicy.smooth`, :meth:`~riskvision.alarm.AlarmPolicy.replay`), at the same
times (``end_frame / fps``) as :class:`riskvision.evaluation.deployment.PolicySweep`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskvision.alarm import AlarmPolicy, PolicyError

__all__ = ["PolicyTrace", "RunPolicy", "policy_trace", "run_policy"]

FIX = "re-run scripts/eval.py on the run (it writes the replayed policy into metrics.json)"


@dataclass(frozen=True)
class RunPolicy:
    """The alarm a run's page replays: ``policy`` at ``threshold`` (on the smoothed P(crash); ``inf``: no alarm),
    ``basis`` (``"operating point"``: chosen on validation, or ``"run threshold"``: the run's F1 threshold, when
    metrics.json has no operating point) and ``describe`` (both in words, for the page)."""

    policy: AlarmPolicy
    threshold: float
    basis: str
    describe: str


def _threshold(value: Any, where: str, key: str) -> float:
    """A stored threshold: a probability in (0, 1], or ``None`` (no alarm, ``inf``; ``inf`` itself in memory)."""
    if value is None or value == math.inf:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise PolicyError(f"{where}: {key}={value!r} is not a probability in (0, 1] or null. Fix: {FIX}")
    return float(value)


def run_policy(metrics: Mapping[str, Any], where: str) -> RunPolicy:
    """The policy and threshold of a run's ``metrics`` (its metrics.json, named ``where`` in errors); a
    :class:`~riskvision.alarm.PolicyError` naming the key when the policy is missing or malformed."""
    deployment = metrics.get("deployment")
    if not isinstance(deployment, Mapping) or "policy" not in deployment:
        raise PolicyError(
            f"{where}: deployment.policy is missing (the run was evaluated before riskvision replayed "
            f"the deployed alarm policy). Fix: {FIX}"
        )
    policy = AlarmPolicy.from_dict(deployment["policy"], f"{where}: deployment.policy.")
    point = deployment.get("operating_point")
    if point is not None:
        if not isinstance(point, Mapping):
            raise PolicyError(f"{where}: deployment.operating_point={point!r} is not a mapping. Fix: {FIX}")
        threshold = _threshold(point.get("threshold"), where, "deployment.operating_point.threshold")
        value = "no alarm" if math.isinf(threshold) else f"{threshold:.3f}"
        cap = point.get("cap_per_hour")
        cap = f"{cap:g}" if isinstance(cap, (int, float)) else cap
        origin = f"operating point {value}, chosen on {point.get('chosen_on')} for <= {cap} false alarms/h"
        return RunPolicy(policy, threshold, "operating point", f"{origin}: {policy.describe(threshold)}")
    threshold = _threshold((metrics.get("run") or {}).get("threshold"), where, "run.threshold")
    return RunPolicy(
        policy,
        threshold,
        "run threshold",
        f"run threshold {threshold:.3f} (metrics.json has no operating point): {policy.describe(threshold)}",
    )


@dataclass(frozen=True)
class PolicyTrace:
    """``smoothed`` P(crash) ``[N]`` (one per scored window) and the alarm ``episodes`` as ``(on_s, off_s)``
    seconds, ``off_s`` = the video's end for an alarm still on."""

    smoothed: np.ndarray
    episodes: list[tuple[float, float]]


def policy_trace(frames: np.ndarray, p_crash: np.ndarray, fps: float, end_s: float, alarm: RunPolicy) -> PolicyTrace:
    """Replay ``alarm`` over one video: ``frames`` ``[N]`` (ascending target-rate end frames of its windows),
    ``p_crash`` ``[N]``, frame rate ``fps``, video length ``end_s`` seconds."""
    frames = np.asarray(frames)
    times = frames / fps  # PolicySweep's times: one replay, one clock
    episodes = alarm.policy.replay(times, p_crash, alarm.threshold, frames)
    return PolicyTrace(
        alarm.policy.smooth(times, p_crash), [(e.on_s, float(end_s) if e.off_s is None else e.off_s) for e in episodes]
    )
