"""What a checkpoint needs as input and what its outputs mean: :class:`ModelSpec`, frozen, read once from the
checkpoint's stored run config (:meth:`ModelSpec.from_run`).

The bottom of inference: the backends, the ONNX export, the streaming engine and the outputs read a model's clip
length, frame size, normalisation, frame rate, task, threshold and alarm from here, and from nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from riskvision.alarm import Alarm, AlarmPolicy, OperatingPoint, PolicyError, Smoother
from riskvision.checkpoints.loading import CLIP_SPAN_KEY, OPERATING_POINT_KEY
from riskvision.checkpoints.reading import CheckpointError
from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.tasks import Task

__all__ = ["ModelSpec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """How a checkpoint must be fed and how its outputs read.

    Attributes:
        name: what to call it in logs (the checkpoint's path).
        task, threshold: what it predicts and its decision threshold.
        num_frames: frames per window (``T``).
        frame_size: ``(H, W)`` frames are resized to.
        normalization: the input preset (``riskvision.data.transforms.NORMALIZATION_PRESETS``).
        target_fps: the frame rate windows are sampled at, frames per second.
        train_clip_span_s: ``{"min", "median", "max"}`` seconds of video the training clips spanned (the
            checkpoint's ``riskvision_train_clip_span_s``), ``None`` when the checkpoint does not say. A window
            here spans :attr:`window_span_s`; the bilstm's uniform training clips spread their frames over whole
            videos, so the two can differ (:meth:`span_mismatch`).
        operating_point: the alarm threshold and policy chosen on validation (the checkpoint's
            ``riskvision_operating_point``, ``riskvision.alarm.OperatingPoint``); ``None`` when it has none: the
            alarm then uses the default policy at the decision :attr:`threshold`.
    """

    name: str
    task: Task
    threshold: float
    num_frames: int
    frame_size: tuple[int, int]
    normalization: str
    target_fps: float
    train_clip_span_s: Mapping[str, float] | None = None
    operating_point: OperatingPoint | None = None

    @classmethod
    def from_run(
        cls, checkpoint: Mapping[str, Any], run: DictConfig, name: str, task: Task, threshold: float
    ) -> ModelSpec:
        """The spec of a checkpoint rebuilt from ``run`` (its stored run config, possibly with command-line changes
        merged over it): ``task`` and ``threshold`` are the rebuilt module's; the inputs are ``run``'s, checked.

        Raises:
            CheckpointError: a stored value is absent or malformed (the message names the key and the fix).
        """
        num_frames = _stored(run, "model.inputs.num_frames", name, _positive_int)
        size = _stored(run, "data.frames.size", name, _frame_size)
        normalization = _stored(run, "data.frames.normalization", name, _preset)
        target_fps = float(_stored(run, "data.frames.target_fps", name, _positive_number))
        model_size = OmegaConf.select(run, "model.inputs.frame_size")
        if model_size is not None and model_size != size:
            log.warning(
                f"{name}: data.frames.size={size} differs from model.inputs.frame_size={model_size}; using "
                "data.frames.size, what the model was fed in training and in eval.py"
            )
        return cls(
            name=name,
            task=task,
            threshold=float(threshold),
            num_frames=int(num_frames),
            frame_size=(int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1])),
            normalization=str(normalization),
            target_fps=target_fps,
            train_clip_span_s=_clip_span(checkpoint.get(CLIP_SPAN_KEY), name),
            operating_point=_operating_point(checkpoint.get(OPERATING_POINT_KEY), name),
        )

    @property
    def columns(self) -> list[str]:
        """The probability columns of the predictions table (``prob_crash`` or ``prob_<class>``)."""
        return self.task.prob_columns

    @property
    def window_span_s(self) -> float:
        """Seconds of video a streamed window spans: ``num_frames / target_fps``."""
        return self.num_frames / self.target_fps

    @property
    def alarm_policy(self) -> AlarmPolicy:
        """The deployed alarm policy: the operating point's, else :class:`~riskvision.alarm.AlarmPolicy`'s defaults."""
        return self.operating_point.policy if self.operating_point is not None else AlarmPolicy()

    @property
    def alarm_threshold(self) -> float:
        """The alarm's threshold: the operating point's (``inf``: no alarm), else the decision :attr:`threshold`."""
        return self.operating_point.threshold if self.operating_point is not None else self.threshold

    def make_smoother(self) -> Smoother:
        """A fresh smoother of :attr:`alarm_policy` (one per stream)."""
        return self.alarm_policy.smoother()

    def make_alarm(self) -> Alarm:
        """A fresh alarm of :attr:`alarm_policy` at :attr:`alarm_threshold`."""
        return self.alarm_policy.alarm(self.alarm_threshold)

    def describe_alarm(self) -> str:
        """The deployed alarm in words, and where its threshold came from."""
        if self.operating_point is not None:
            return f"alarm {self.alarm_policy.describe(self.alarm_threshold)} ({self.operating_point.describe()})"
        return (
            f"alarm {self.alarm_policy.describe(self.alarm_threshold)} (the decision threshold: this checkpoint "
            "stores no operating point; train.py test=true or scripts/eval.py store_operating_point=true chooses "
            "one on validation)"
        )

    def span_mismatch(self) -> str | None:
        """Why sliding-window scores (streaming, eval.py's ``sliding`` scoring) answer another question than the one
        the model learned, with the fix; ``None`` when its training clips spanned about as long as a window
        (a median within 0.75-1.25x of :attr:`window_span_s`) or the checkpoint does not say. Said only where such
        windows are scored (streaming, ``eval.py`` with sliding scoring), not on every load."""
        span, window_s = self.train_clip_span_s, self.window_span_s
        if span is None or 0.75 <= window_s / span["median"] <= 1.25:
            return None
        return (
            f"{self.name}: its training clips spanned {span['min']:.1f}-{span['max']:.1f} s of video (median "
            f"{span['median']:.1f} s), a streamed window spans {window_s:.1f} s ({self.num_frames} consecutive "
            f"frames at {self.target_fps:g} fps): its scores answer a question spaced differently in time than "
            "the one it learned. Fix: read them against eval.py's sliding scores, not its clip metrics (eval.py "
            "settings.scoring=clips scores the clips it was trained on); to stream what it learned, train it on "
            "consecutive frames (model.inputs.sampler=window)"
        )


def _stored(run: DictConfig, key: str, name: str, valid: Callable[[Any], bool]) -> Any:
    """``run``'s value at ``key``; a :class:`CheckpointError` when it is absent or ``valid`` rejects it."""
    value = OmegaConf.select(run, key, default=None)
    if value is None:
        raise CheckpointError(
            f"{name}: the stored run config has no {key!r}; it was not written by this version "
            "of riskvision's train.py. Fix: retrain, or evaluate it with the code version that "
            "wrote it"
        )
    if not valid(value):
        raise CheckpointError(
            f"{name}: stored {key}={value!r} is not {_EXPECTED[valid]}. Fix: pass a checkpoint "
            f"written by riskvision's train.py, or set it on the command line (+{key}=...)"
        )
    return value


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _frame_size(value: Any) -> bool:
    return _positive_int(value) or (OmegaConf.is_list(value) and len(value) == 2 and all(map(_positive_int, value)))


def _preset(value: Any) -> bool:
    return value in NORMALIZATION_PRESETS


_EXPECTED = {
    _positive_int: "a positive integer",
    _positive_number: "a positive number",
    _frame_size: "a positive integer or a [height, width] pair",
    _preset: f"one of {list(NORMALIZATION_PRESETS)}",
}


def _clip_span(value: Any, name: str) -> dict[str, float] | None:
    """The checkpoint's training clip span (``None`` when absent); :class:`CheckpointError` when it is malformed."""
    if value is None:
        return None
    keys = ("min", "median", "max")
    if not (
        isinstance(value, dict)
        and set(value) == set(keys)
        and all(map(_positive_number, value.values()))
        and value["min"] <= value["median"] <= value["max"]
    ):
        raise CheckpointError(
            f"{name}: stored {CLIP_SPAN_KEY}={value!r} is not {{'min', 'median', 'max'}} seconds "
            "(positive, in order). Fix: pass a checkpoint written by riskvision's train.py"
        )
    return {key: float(value[key]) for key in keys}


def _operating_point(value: Any, name: str) -> OperatingPoint | None:
    """The checkpoint's operating point (``None`` when absent); :class:`CheckpointError` naming the key when it is
    malformed."""
    if value is None:
        return None
    try:
        return OperatingPoint.from_dict(value, f"{name}: stored {OPERATING_POINT_KEY}.")
    except PolicyError as error:
        raise CheckpointError(str(error)) from None
