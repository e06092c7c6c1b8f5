"""The alarm policy: ONE definition of the alarm riskvision raises, shared by streaming, evaluation and export.

A policy is a causal smoother of P(crash) and a rule on the smoothed series (:class:`Hysteresis`: on after the
smoothed P(crash) stays ``>= threshold`` for ``min_on_s`` seconds, off below ``off_ratio * threshold``); the
threshold itself is the operating point (:class:`OperatingPoint`, chosen on validation to meet a false-alarm cap).

- the streaming engine (``riskvision.inference.stream``) feeds each result to ``policy.smoother()`` and
  ``policy.alarm(threshold)``;
- evaluation (``riskvision.evaluation.deployment``) replays each video's per-window P(crash), in time order, at
  the step it was scored at, through the SAME objects (:meth:`AlarmPolicy.replay`; :meth:`AlarmPolicy.on_events`
  runs one :class:`Alarm` whose thresholds are a vector, to sweep many thresholds in one pass);
- exports and checkpoints carry :meth:`AlarmPolicy.to_dict` (plain data); :meth:`AlarmPolicy.from_dict` reads it
  back, refusing a malformed entry with the key named. A stored policy names its parts from a fixed list
  (:data:`SMOOTHERS`, :data:`RULES`): a file never decides which code runs.

Everything here is plain Python + numpy (no torch), O(1) state per stream (:class:`MovingAverage`: its ``n`` last
values), and sees one output at a time (``time_s`` in seconds, increasing). Changing the rule is one class with
``alarm(threshold)``, ``to_dict()``, ``describe()`` and a ``kind`` in :data:`RULES`, plus one ``conf/alarm/*.yaml``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

__all__ = [
    "RULES",
    "SMOOTHERS",
    "Alarm",
    "AlarmEpisode",
    "AlarmEvent",
    "AlarmPolicy",
    "ExponentialSmoother",
    "Hysteresis",
    "MovingAverage",
    "NoSmoothing",
    "OperatingPoint",
    "PolicyError",
    "Smoother",
    "check_threshold",
]

_EPS = 1e-9  # seconds: a duration this close to min_on_s counts as reaching it (float sums of 0.1 s steps)


class PolicyError(ValueError):
    """An alarm policy or operating point that cannot be used; the message names the key, the value and the fix."""


def _fail(where: str, key: str, value: Any, expected: str, fix: str) -> PolicyError:
    return PolicyError(f"{where}{key}={value!r} is not {expected}. Fix: {fix}")


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.floating, np.integer))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


# --------------------------------------------------------------------------------------------------- smoothers
class Smoother(Protocol):
    """A causal filter of a series sampled at (possibly irregular) times."""

    kind: str

    def update(self, value: float, time_s: float) -> float:
        """The smoothed value after ``value`` observed at ``time_s`` (seconds)."""
        ...

    def reset(self) -> None:
        """Forget the past (a new stream)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., <parameters>}``: plain data for exports and checkpoints."""
        ...


class NoSmoothing:
    """The identity: the smoothed value is the value."""

    kind = "none"

    def update(self, value: float, time_s: float) -> float:
        return float(value)

    def reset(self) -> None:
        pass

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def describe(self) -> str:
        return "P(crash)"


class ExponentialSmoother:
    """First-order low-pass with time constant ``time_constant_s`` (seconds), exact for irregular steps.

    The first value passes unchanged; then, ``dt`` seconds after the previous output,
    ``s <- s + alpha * (value - s)`` with ``alpha = 1 - exp(-dt / time_constant_s)``: the discretisation of
    ``ds/dt = (value - s) / tau`` with the value held over the step, so two steps of ``dt`` equal one of
    ``2 dt`` for a constant value whatever the output rate. ``time_constant_s = 0``: no smoothing.
    """

    kind = "exponential"

    def __init__(self, time_constant_s: float) -> None:
        if not (_number(time_constant_s) and time_constant_s >= 0):
            raise _fail(
                "",
                "ExponentialSmoother time_constant_s",
                time_constant_s,
                "a number >= 0 (seconds)",
                "e.g. time_constant_s=0.5, or 0 for no smoothing",
            )
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

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "time_constant_s": self.time_constant_s}

    def describe(self) -> str:
        return f"P(crash) smoothed exponentially ({self.time_constant_s:g} s)"


class MovingAverage:
    """Mean of the last ``n`` outputs (fewer at the start of a stream); ignores the times."""

    kind = "moving_average"

    def __init__(self, n: int) -> None:
        if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
            raise _fail("", "MovingAverage n", n, "an integer >= 1 (outputs averaged)", "e.g. n=5")
        self.n = int(n)
        self.reset()

    def reset(self) -> None:
        self.values: deque[float] = deque(maxlen=self.n)

    def update(self, value: float, time_s: float) -> float:
        self.values.append(float(value))
        return sum(self.values) / len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n}

    def describe(self) -> str:
        return f"P(crash) averaged over the last {self.n} results"


#: The smoothers a stored policy may name (``kind`` -> class and its parameters).
SMOOTHERS: dict[str, tuple[type, tuple[str, ...]]] = {
    NoSmoothing.kind: (NoSmoothing, ()),
    ExponentialSmoother.kind: (ExponentialSmoother, ("time_constant_s",)),
    MovingAverage.kind: (MovingAverage, ("n",)),
}


# --------------------------------------------------------------------------------------------------- the rule
@dataclass(frozen=True)
class AlarmEvent:
    """The alarm turned ``kind`` ("on" / "off") at the output of target frame ``frame``, ``time_s`` seconds."""

    kind: Literal["on", "off"]
    time_s: float
    frame: int


class Alarm:
    """An alarm on a smoothed P(crash) series with hysteresis; ``on`` may be a vector of thresholds (one
    independent alarm each, :meth:`step`), which is how evaluation sweeps thresholds with the stream's own code.

    Off -> on at the first output where the value has been ``>= on`` at every output since one at least
    ``min_on_s`` seconds earlier (``min_on_s = 0``: at the first output ``>= on``). On -> off at the first
    output ``< off``. ``off <= on``; values in ``[off, on)`` keep it as it is (and restart the ``min_on_s``
    count while it is off). ``on = inf``: never on (the "no alarm" operating point).

    Args:
        on: the level that turns it on (a probability in (0, 1], or ``inf``), or an array of them.
        off: the level below which it turns off (``None``: ``0.8 * on``), same shape as ``on``.
        min_on_s: how long (seconds) the value must stay ``>= on`` first.
    """

    def __init__(self, on: float | np.ndarray, off: float | np.ndarray | None = None, min_on_s: float = 0.5) -> None:
        on_values = np.asarray(on, dtype=float)
        off_values = 0.8 * np.where(np.isinf(on_values), 1.0, on_values) if off is None else np.asarray(off, float)
        in_range = (on_values > 0) & ((on_values <= 1) | np.isposinf(on_values))
        if not (np.all(in_range) and not np.isnan(on_values).any()):
            raise _fail("", "alarm on-threshold", on, "a probability in (0, 1]", "give a threshold such as 0.5")
        if (
            off_values.shape != on_values.shape
            or np.isnan(off_values).any()
            or not np.all((off_values >= 0) & (off_values <= on_values))
        ):
            raise _fail(
                "",
                "alarm off-threshold",
                off,
                f"in [0, on] (on={on!r}: hysteresis needs off <= on)",
                "give an off-threshold at or below the on-threshold, or leave it out (0.8 x on)",
            )
        if not (_number(min_on_s) and min_on_s >= 0):
            raise _fail("", "alarm min_on_s", min_on_s, "a number >= 0 (seconds)", "e.g. min_on_s=0.5")
        self.scalar = on_values.ndim == 0
        self.on_levels, self.off_levels, self.min_on_s = on_values, off_values, float(min_on_s)
        self.reset()

    @property
    def on(self) -> float | np.ndarray:
        return float(self.on_levels) if self.scalar else self.on_levels

    @property
    def off(self) -> float | np.ndarray:
        return float(self.off_levels) if self.scalar else self.off_levels

    def describe(self) -> str:
        """The rule in words, e.g. ``on when smoothed P(crash) >= 0.45 for 0.5 s, off below 0.36``."""
        if self.scalar and math.isinf(self.on):
            return "never on (no threshold meets the false-alarm cap)"
        return f"on when smoothed P(crash) >= {self.on:.2f} for {self.min_on_s:g} s, off below {self.off:.2f}"

    def reset(self) -> None:
        self.state = np.zeros(self.on_levels.shape, dtype=bool)  # on / off per threshold
        self.above_since = np.full(self.on_levels.shape, np.nan)  # first output of the current run >= on

    @property
    def active(self) -> bool | np.ndarray:
        return bool(self.state) if self.scalar else self.state

    def step(self, value: float | np.ndarray, time_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one output to every threshold; returns (turned on, turned off) boolean arrays of ``on``'s shape.
        ``value`` and ``time_s`` may be arrays that broadcast against ``on`` (e.g. ``[V, 1]`` against ``[V, K]``:
        V streams stepped together, :meth:`AlarmPolicy.on_events_many`)."""
        if np.ndim(value) == 0 and np.ndim(time_s) == 0:
            value, time_s = float(value), float(time_s)
        else:
            value, time_s = np.asarray(value, dtype=float), np.asarray(time_s, dtype=float)
        turned_off = self.state & (value < self.off_levels)
        above = ~self.state & (value >= self.on_levels)
        self.above_since = np.where(above, np.fmin(self.above_since, time_s), np.nan)  # nan: the run starts now
        turned_on = above & (time_s - self.above_since >= self.min_on_s - _EPS)
        self.state = (self.state & ~turned_off) | turned_on
        self.above_since = np.where(turned_on, np.nan, self.above_since)
        return turned_on, turned_off

    def update(self, value: float, time_s: float, frame: int) -> list[AlarmEvent]:
        """Feed one output (a scalar alarm); returns the event it causes (none or one)."""
        turned_on, turned_off = self.step(value, time_s)
        if turned_on.any():
            return [AlarmEvent("on", float(time_s), int(frame))]
        if turned_off.any():
            return [AlarmEvent("off", float(time_s), int(frame))]
        return []


class Hysteresis:
    """The rule: on after the smoothed P(crash) stays ``>= threshold`` for ``min_on_s`` seconds, off when it falls
    below ``off_ratio * threshold`` (:class:`Alarm`).

    Args:
        off_ratio: the off-level as a share of the threshold, in [0, 1] (1: no hysteresis).
        min_on_s: seconds the smoothed value must stay at or above the threshold before the alarm turns on.
    """

    kind = "hysteresis"

    def __init__(self, off_ratio: float = 0.8, min_on_s: float = 0.5) -> None:
        if not (_number(off_ratio) and 0 <= off_ratio <= 1):
            raise _fail(
                "",
                "alarm off_ratio",
                off_ratio,
                "a number in [0, 1] (off-level = off_ratio x threshold; "
                "above 1 the alarm would turn off above the level that turns it on)",
                "e.g. off_ratio=0.8",
            )
        if not (_number(min_on_s) and min_on_s >= 0):
            raise _fail("", "alarm min_on_s", min_on_s, "a number >= 0 (seconds)", "e.g. min_on_s=0.5")
        self.off_ratio, self.min_on_s = float(off_ratio), float(min_on_s)

    def alarm(self, threshold: float | np.ndarray) -> Alarm:
        """A fresh :class:`Alarm` at ``threshold`` (a scalar, or an array: one alarm per threshold)."""
        on = np.asarray(threshold, dtype=float)
        off = self.off_ratio * np.where(np.isinf(on), 1.0, on)
        return Alarm(on=threshold, off=float(off) if on.ndim == 0 else off, min_on_s=self.min_on_s)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "off_ratio": self.off_ratio, "min_on_s": self.min_on_s}

    def breakpoints(self, values: np.ndarray) -> np.ndarray:
        """The thresholds at which the alarms of ``values`` can change: each value (the on-test) and each value /
        off_ratio (the off-test); between two consecutive ones every threshold raises the same alarms."""
        values = np.asarray(values, dtype=float)
        return np.r_[values, values / self.off_ratio] if self.off_ratio > 0 else values


#: The rules a stored policy may name (``kind`` -> class and its parameters).
RULES: dict[str, tuple[type, tuple[str, ...]]] = {Hysteresis.kind: (Hysteresis, ("off_ratio", "min_on_s"))}


# --------------------------------------------------------------------------------------------------- the policy
@dataclass(frozen=True)
class AlarmEpisode:
    """One alarm: on at ``on_frame`` (``on_s`` seconds), off at ``off_frame`` / ``off_s`` (``None``: still on
    when the series ended)."""

    on_s: float
    on_frame: int
    off_s: float | None
    off_frame: int | None


class AlarmPolicy:
    """Smoother + rule (see the module docstring).

    Args:
        smoothing: the smoother of P(crash) (``None``: :class:`ExponentialSmoother` with 0.5 s).
        rule: the alarm rule on the smoothed series (``None``: :class:`Hysteresis` with its defaults).
    """

    def __init__(self, smoothing: Smoother | None = None, rule: Hysteresis | None = None) -> None:
        self.smoothing = ExponentialSmoother(0.5) if smoothing is None else smoothing
        self.rule = Hysteresis() if rule is None else rule
        for part, known in (("smoothing", SMOOTHERS), ("rule", RULES)):
            kind = getattr(getattr(self, part), "kind", None)
            if kind not in known:
                registry = "SMOOTHERS" if part == "smoothing" else "RULES"
                raise PolicyError(
                    f"alarm {part}={getattr(self, part)!r} is not one of the known kinds {list(known)}. "
                    f"Fix: add its class to riskvision.alarm.{registry}"
                )

    def smoother(self) -> Smoother:
        """A fresh copy of the smoother (its own state: one per stream)."""
        return _build(SMOOTHERS, self.smoothing.to_dict(), "", "smoothing")

    def alarm(self, threshold: float | np.ndarray) -> Alarm:
        """A fresh alarm of the rule at ``threshold`` (the operating point)."""
        return self.rule.alarm(threshold)

    def smooth(self, times_s: np.ndarray, p_crash: np.ndarray) -> np.ndarray:
        """The smoothed series ``[N]`` of one stream's P(crash) ``[N]`` at ``times_s`` ``[N]`` (seconds, increasing)."""
        smoother = self.smoother()
        return np.array([smoother.update(p, t) for p, t in zip(np.asarray(p_crash, float), np.asarray(times_s, float))])

    def replay(
        self, times_s: np.ndarray, p_crash: np.ndarray, threshold: float, frames: np.ndarray | None = None
    ) -> list[AlarmEpisode]:
        """The alarm episodes of one stream (a video's per-window P(crash) in time order, at the step it was scored
        at) at ``threshold``: exactly the alarm-on / off events the streaming engine raises on the same values.
        ``frames``: the target frame of each value (``None``: ``0, 1, ...``)."""
        times = np.asarray(times_s, dtype=float)
        frames = np.arange(len(times)) if frames is None else np.asarray(frames)
        alarm = self.alarm(threshold)
        episodes: list[AlarmEpisode] = []
        start: tuple[float, int] | None = None
        for value, time_s, frame in zip(self.smooth(times, p_crash), times, frames):
            for event in alarm.update(value, time_s, int(frame)):
                if event.kind == "on":
                    start = (event.time_s, event.frame)
                else:
                    episodes.append(AlarmEpisode(start[0], start[1], event.time_s, event.frame))
                    start = None
        if start is not None:
            episodes.append(AlarmEpisode(start[0], start[1], None, None))
        return episodes

    def on_events(
        self,
        times_s: np.ndarray,
        p_crash: np.ndarray,
        thresholds: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One stream replayed at every threshold at once (one :class:`Alarm` with a vector of thresholds):
        (alarm-on events ``[K]``, index of the first on-event ``[K]``, -1 where none)."""
        counts, first = self.on_events_many([(times_s, p_crash)], thresholds)
        return counts[0], first[0]

    def on_events_many(
        self, streams: Sequence[tuple[np.ndarray, np.ndarray]], thresholds: np.ndarray, group: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`on_events` of many streams (``(times_s, p_crash)`` each): ``([V, K] counts, [V, K] first)``.

        Streams of similar length are stepped together, ``group`` at a time (one :class:`Alarm` of ``[group, K]``
        thresholds, a step per output index instead of a step per output): the same comparisons on the same values,
        so the same events. A stream that has ended is fed ``-inf`` (it turns off, never on) until its group ends.
        """
        thresholds = np.asarray(thresholds, dtype=float)
        counts = np.zeros((len(streams), len(thresholds)), dtype=int)
        first = np.full((len(streams), len(thresholds)), -1)
        smoothed = [self.smooth(times, values) for times, values in streams]
        times = [np.asarray(times, dtype=float) for times, _ in streams]
        by_length = np.argsort([len(values) for values in smoothed], kind="stable")
        for start in range(0, len(streams), group):
            members = by_length[start : start + group]
            length = max(len(smoothed[k]) for k in members)
            values = np.full((len(members), length), -np.inf)
            when = np.zeros((len(members), length))
            for row, k in enumerate(members):
                values[row, : len(smoothed[k])] = smoothed[k]
                when[row, : len(times[k])] = times[k]
                when[row, len(times[k]) :] = times[k][-1] if len(times[k]) else 0.0
            alarm = self.alarm(np.broadcast_to(thresholds, (len(members), len(thresholds))).copy())
            part_counts, part_first = counts[members], first[members]
            for i in range(length):
                turned_on, _ = alarm.step(values[:, i : i + 1], when[:, i : i + 1])
                part_counts += turned_on
                part_first[turned_on & (part_first < 0)] = i
            counts[members], first[members] = part_counts, part_first
        return counts, first

    def describe(self, threshold: float | None = None) -> str:
        """The policy in words, at ``threshold`` when given."""
        smoothing = getattr(self.smoothing, "describe", lambda: self.smoothing.kind)()
        rule = self.rule
        level = "the threshold" if threshold is None else f"{threshold:.3f}"
        if threshold is not None and math.isinf(threshold):
            return f"no alarm ({smoothing}; no threshold met the false-alarm cap)"
        return (
            f"on when {smoothing} >= {level} for {rule.min_on_s:g} s, off below {rule.off_ratio:g} x "
            f"{'it' if threshold is None else f'{threshold:.3f}'}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"smoothing": {"kind", ...}, "rule": {"kind", ...}}``."""
        return {"smoothing": self.smoothing.to_dict(), "rule": self.rule.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> AlarmPolicy:
        """The policy stored by :meth:`to_dict`; a :class:`PolicyError` naming the key (prefixed by ``where``,
        e.g. ``"EXPORT/preprocessing.json: output.alarm."``) when it is malformed."""
        if not isinstance(data, Mapping) or set(data) != {"smoothing", "rule"}:
            raise _fail(
                where,
                "(the policy)",
                data,
                "{smoothing: {kind, ...}, rule: {kind, ...}}",
                "write it with riskvision's export / train.py, or re-export",
            )
        return cls(_build(SMOOTHERS, data["smoothing"], where, "smoothing"), _build(RULES, data["rule"], where, "rule"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AlarmPolicy) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"AlarmPolicy({self.to_dict()})"


def _build(known: Mapping[str, tuple[type, tuple[str, ...]]], data: Any, where: str, key: str) -> Any:
    """The object of ``known[data["kind"]]`` with ``data``'s parameters, checked: exactly its parameters, each valid."""
    if not isinstance(data, Mapping) or data.get("kind") not in known:
        raise _fail(
            where,
            f"{key}.kind",
            data.get("kind") if isinstance(data, Mapping) else data,
            f"one of {list(known)}",
            "re-export, or write the policy with riskvision",
        )
    cls, params = known[data["kind"]]
    if set(data) != {"kind", *params}:
        raise _fail(
            where,
            key,
            dict(data),
            f"{{kind: {data['kind']!r}, {', '.join(params)}}}",
            "re-export, or write the policy with riskvision",
        )
    for param in params:
        if not _number(data[param]):
            raise _fail(where, f"{key}.{param}", data[param], "a finite number", "re-export")
    try:
        return cls(**{param: data[param] for param in params})
    except PolicyError as error:
        raise PolicyError(f"{where}{key}: {error}") from None


# --------------------------------------------------------------------------------------------------- operating point
@dataclass(frozen=True)
class OperatingPoint:
    """The alarm threshold a model deploys with, and where it came from.

    Attributes:
        threshold: the policy's threshold on the smoothed P(crash); ``inf``: no threshold met the cap (no alarm).
        cap_per_hour: the false-alarm cap it was chosen to meet (alarms per hour of normal driving).
        chosen_on: the split it was chosen on (``val``).
        policy: the alarm policy it was chosen under.
        false_alarms_per_hour: the rate it gave on ``chosen_on``.
        recall: the share of ``chosen_on``'s crash videos alarmed before the anomaly start at it.
        step: the frame step the split was scored at (the rate a stream must produce results at to match).
    """

    threshold: float
    cap_per_hour: float
    chosen_on: str
    policy: AlarmPolicy
    false_alarms_per_hour: float
    recall: float
    step: int

    def describe(self) -> str:
        """Where the threshold came from, in words."""
        value = "no alarm" if math.isinf(self.threshold) else f"{self.threshold:.3f}"
        return (
            f"operating point {value} chosen on {self.chosen_on} for <= {self.cap_per_hour:g} false alarms/h "
            f"(there: {self.false_alarms_per_hour:.3g}/h, recall {self.recall:.3g}, step {self.step})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON: ``threshold`` ``None`` stands for no alarm)."""
        return {
            "threshold": None if math.isinf(self.threshold) else float(self.threshold),
            "cap_per_hour": self.cap_per_hour,
            "chosen_on": self.chosen_on,
            "policy": self.policy.to_dict(),
            "false_alarms_per_hour": _json_number(self.false_alarms_per_hour),
            "recall": _json_number(self.recall),
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> OperatingPoint:
        """The record of :meth:`to_dict`; a :class:`PolicyError` naming the key when it is malformed."""
        keys = ("threshold", "cap_per_hour", "chosen_on", "policy", "false_alarms_per_hour", "recall", "step")
        fix = "re-run train.py test=true / scripts/eval.py store_operating_point=true, or re-export"
        if not isinstance(data, Mapping) or set(data) != set(keys):
            raise _fail(where, "(the operating point)", data, f"a mapping of {list(keys)}", fix)
        threshold = data["threshold"]
        if threshold is not None and not (_number(threshold) and 0 < threshold <= 1):
            raise _fail(where, "threshold", threshold, "a probability in (0, 1] or null (no alarm)", fix)
        if not (_number(data["cap_per_hour"]) and data["cap_per_hour"] >= 0):
            raise _fail(where, "cap_per_hour", data["cap_per_hour"], "a number >= 0", fix)
        if not isinstance(data["chosen_on"], str):
            raise _fail(where, "chosen_on", data["chosen_on"], "a split name", fix)
        for key in ("false_alarms_per_hour", "recall"):
            if data[key] is not None and not _number(data[key]):
                raise _fail(where, key, data[key], "a number or null", fix)
        if not (isinstance(data["step"], int) and not isinstance(data["step"], bool) and data["step"] >= 1):
            raise _fail(where, "step", data["step"], "an integer >= 1", fix)
        policy = AlarmPolicy.from_dict(data["policy"], f"{where}policy.")
        return cls(
            math.inf if threshold is None else float(threshold),
            float(data["cap_per_hour"]),
            data["chosen_on"],
            policy,
            _from_json(data["false_alarms_per_hour"]),
            _from_json(data["recall"]),
            int(data["step"]),
        )


def _json_number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _from_json(value: float | None) -> float:
    return math.nan if value is None else float(value)


def check_threshold(value: Any, key: str) -> float:
    """A user's alarm threshold: a probability in (0, 1); a :class:`PolicyError` naming ``key`` otherwise."""
    if not (_number(value) and 0 < value < 1):
        raise _fail(
            "",
            key,
            value,
            "a probability in (0, 1)",
            f"set {key} to e.g. 0.5, or null for the checkpoint's operating point",
        )
    return float(value)
