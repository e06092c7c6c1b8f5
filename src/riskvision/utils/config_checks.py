"""Checks of the composed config that run before any data is read, with messages that say the fix."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from torch import nn

from riskvision.data.transforms import NORMALIZATION_PRESETS

TARGETS = {"crash": "binary", "risk": "multiclass"}
INPUT_KEYS = ("sampler", "num_frames", "frame_size", "normalization", "target", "batch_size")


class ConfigError(ValueError):
    """The composed config asks for something impossible; the message names the key and the fix."""


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for an impossible run config (static checks, nothing instantiated).

    Checks ``model.inputs`` (keys present, a target, a sampler of ``data.samplers``, a normalisation preset,
    positive sizes), that the
    model's task matches its target, and that an explicit ``ckpt_path`` file exists.
    """
    inputs = cfg.model.get("inputs")
    if inputs is None:
        raise ConfigError("model.inputs is missing: every conf/model/*.yaml declares what it needs from the data")
    missing = [key for key in INPUT_KEYS if key not in inputs]
    if missing:
        raise ConfigError(f"model.inputs lacks {missing}; see docs/architecture.md (Configuration)")
    _check_choice("model.inputs.target", inputs.target, tuple(TARGETS))
    _check_choice("model.inputs.sampler", inputs.sampler, tuple(cfg.data.get("samplers", ())))
    _check_choice("model.inputs.normalization", inputs.normalization, tuple(NORMALIZATION_PRESETS))
    for key in ("num_frames", "frame_size", "batch_size"):
        if not isinstance(inputs[key], int) or inputs[key] < 1:
            raise ConfigError(f"model.inputs.{key}={inputs[key]!r} must be a positive integer")
    expected_task = TARGETS[inputs.target]
    if cfg.model.task != expected_task:
        raise ConfigError(
            f"model.task={cfg.model.task!r} does not fit model.inputs.target={inputs.target!r}: "
            f"target {inputs.target!r} needs task {expected_task!r} (crash -> binary, risk -> multiclass)"
        )
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path not in (None, "last") and not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} is not a file; pass a .ckpt path or ckpt_path=last")


def check_clip_length(net: nn.Module, num_frames: int) -> None:
    """Raise :class:`ConfigError` if clips of ``num_frames`` are shorter than ``net.min_frames``."""
    min_frames = getattr(net, "min_frames", 1)
    if num_frames < min_frames:
        raise ConfigError(
            f"model.inputs.num_frames={num_frames} is shorter than the {type(net).__name__}'s minimum clip "
            f"length {min_frames} (its temporal strides leave no frames); use model.inputs.num_frames>={min_frames}"
        )


def _check_choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is unknown; choose one of {list(allowed)}")
