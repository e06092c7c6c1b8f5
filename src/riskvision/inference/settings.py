"""The settings of ``scripts/predict_video.py`` and ``riskvision-predict`` checked before anything is loaded.

Each bad value is ONE :class:`~riskvision.utils.ConfigError` line naming the setting as the user typed it
(``step`` in the script, ``--step`` in the console command), the value and the fix, never a traceback. The alarm
policy's own rules belong to :mod:`riskvision.alarm` (it refuses a bad policy with a ``PolicyError`` naming the key);
here its values are only checked to be numbers in range, so a typo (``alarm_threshold=high``) is named before a model
loads.

    check_predict_settings({"step": cfg.step, "format": cfg.format, ...})            # script: keys as typed
    check_predict_settings({"step": args.step, ...}, names={"step": "--step"})       # console command
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from riskvision.errors import ConfigError
from riskvision.inference.outputs import FORMATS
from riskvision.inference.predictor import Predictor

__all__ = ["check_predict_settings"]

#: setting -> (kind, lower bound or choices); ``None`` values of the ``optional`` settings mean "the default".
RULES: dict[str, tuple[str, Any]] = {
    "step": ("whole", 1),
    "batch_size": ("whole", 1),
    "threads": ("whole", 1),
    "overlay_short_side": ("whole", 2),
    "frames_fps": ("positive", 0.0),
    "alarm.smoothing.time_constant_s": ("number", 0.0),
    "alarm.smoothing.n": ("whole", 1),
    "alarm.rule.off_ratio": ("probability", None),
    "alarm.rule.min_on_s": ("number", 0.0),
    "alarm_threshold": ("probability", None),
    "format": ("choice", FORMATS),
    "backend": ("choice", Predictor.BACKENDS),
    "precision": ("choice", Predictor.PRECISIONS),
}
OPTIONAL = (
    "threads",
    "alarm.smoothing.time_constant_s",
    "alarm.smoothing.n",
    "alarm.rule.off_ratio",
    "alarm.rule.min_on_s",
    "alarm_threshold",
)


def check_predict_settings(values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> None:
    """Check ``values`` (setting -> value; settings of :data:`RULES`, ``videos`` and ``device``; others ignored).

    Args:
        values: the settings to check, keyed as in ``conf/predict_video.yaml`` (``alarm.rule.min_on_s``).
        names: how the command spells each setting (``{"step": "--step"}``); default: the key itself.

    Raises:
        ConfigError: the first bad value, naming the setting, the value and the fix.
    """
    names = names or {}
    for key, value in values.items():
        shown = names.get(key, key)
        if key == "videos":
            _check_videos(value, shown)
        elif key == "device":
            _check_device(value, shown)
        elif key in RULES and not (value is None and key in OPTIONAL):
            kind, bound = RULES[key]
            _check(kind, bound, value, shown)


def _setting(shown: str, value: Any) -> str:
    """``step=0`` (a Hydra key) or ``--step 0`` (an option)."""
    return f"{shown} {value}" if shown.startswith("-") else f"{shown}={value!r}"


def _fix(shown: str, example: Any) -> str:
    return f"{shown} {example}" if shown.startswith("-") else f"{shown}={example}"


def _check(kind: str, bound: Any, value: Any, shown: str) -> None:
    """One value against its rule (see :data:`RULES`)."""
    if kind == "choice":
        if value not in bound:
            raise ConfigError(f"{_setting(shown, value)} is not one of {list(bound)}. Fix: {_fix(shown, bound[0])}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        what = "a whole number" if kind == "whole" else "a number"
        example = 1 if kind == "whole" else 0.5
        raise ConfigError(f"{_setting(shown, value)} is not {what}. Fix: e.g. {_fix(shown, example)}")
    if kind == "whole" and (value != int(value) or value < bound):
        raise ConfigError(f"{_setting(shown, value)} must be a whole number >= {bound}. Fix: {_fix(shown, bound)}")
    if kind == "number" and value < bound:
        raise ConfigError(
            f"{_setting(shown, value)} must be >= {bound:g}. Fix: {_fix(shown, 0)} (none), or a positive value"
        )
    if kind == "positive" and value <= 0:
        raise ConfigError(f"{_setting(shown, value)} must be > 0. Fix: e.g. {_fix(shown, 10)}")
    if kind == "probability" and not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{_setting(shown, value)} is a threshold of P(crash), between 0 and 1. Fix: e.g. "
            f"{_fix(shown, 0.5)}, or leave it unset (the checkpoint's operating point)"
        )


def _check_videos(value: Any, shown: str) -> None:
    entries = [value] if isinstance(value, str) else list(value or [])
    if not entries or any(not isinstance(entry, str) or not entry.strip() for entry in entries):
        raise ConfigError(
            f"{_setting(shown, value)} names no source. Fix: {_fix(shown, '[a.mp4,b.mov]')}, a folder, "
            "or a stream URL (rtsp://camera/stream)"
        )


def _check_device(value: Any, shown: str) -> None:
    try:
        device = torch.device(str(value))
    except (RuntimeError, ValueError) as error:
        raise ConfigError(
            f"{_setting(shown, value)} is not a torch device ({error}). Fix: {_fix(shown, 'cpu')}"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"{_setting(shown, value)} but CUDA is not available on this machine. Fix: {_fix(shown, 'cpu')}"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"{_setting(shown, value)} but MPS is not available on this machine. Fix: {_fix(shown, 'cpu')}"
        )
