"""The config error type and the check of moved keys, without Lightning or torch: ``train.py`` runs
:func:`check_renamed_overrides` before Hydra parses the command line, and ``--help`` must not wait for heavy imports."""

from __future__ import annotations

from collections.abc import Sequence

from riskvision.errors import ConfigError

__all__ = ["RENAMED_KEYS", "ConfigError", "check_renamed_overrides"]

#: Overrides whose key moved, and where to (the old key gives an error that names the new one).
RENAMED_KEYS = {
    "model.pos_weight": "model.task.pos_weight",
    "model.class_weights": "model.task.class_weights",
    "model.class_names": "model.task.class_names",
    "model.thresholds": "model.task.thresholds",
    "data/augment": "model.inputs.augment",
    # the datamodule's and the module's settings grouped into typed configs (riskvision.upgrades translates old
    # checkpoints' stored configs the same way)
    **{f"data.{key}": f"data.loader.{key}" for key in ("batch_size", "eval_batch_size", "num_workers", "pin_memory")},
    **{f"data.{key}": f"data.loader.{key}" for key in ("persistent_workers", "balanced")},
    **{f"data.{key}": f"data.frames.{key}" for key in ("target_fps", "train_read_size", "normalization")},
    "data.frame_size": "data.frames.size",
    "data.reader_factory.min_decode_fraction": "data.frames.reader_factory.min_decode_fraction",
    "model.memory_format": "model.execution.memory_format",
    "model.compile": "model.execution.compile",
    "model.scheduler": "model.lr_scheduler.scheduler",
    "model.scheduler_monitor": "model.lr_scheduler.monitor",
}


def check_renamed_overrides(overrides: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for a command-line override of a key that moved (:data:`RENAMED_KEYS`)."""
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in RENAMED_KEYS:
            fixed = override.replace(key, RENAMED_KEYS[key], 1)
            raise ConfigError(f"{key} moved to {RENAMED_KEYS[key]}: write {fixed}")
