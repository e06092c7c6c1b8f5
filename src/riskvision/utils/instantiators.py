"""Build the objects of config groups of named entries: the callbacks and the loggers."""

from __future__ import annotations

import hydra
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)


def _instantiate_entries(group: DictConfig | None, name: str) -> list:
    """Instantiate every ``_target_`` entry of a config group (``None`` or empty gives ``[]``)."""
    if not group:
        return []
    if not isinstance(group, DictConfig):
        raise TypeError(f"The `{name}` config must be a mapping of named entries, got {type(group).__name__}")
    objects = []
    for key, entry in group.items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            log.info(f"Instantiating {name[:-1]} <{entry._target_}> ({key})")
            objects.append(hydra.utils.instantiate(entry))
    return objects


def instantiate_callbacks(callbacks_cfg: DictConfig | None) -> list[Callback]:
    """Instantiate the ``callbacks`` group."""
    return _instantiate_entries(callbacks_cfg, "callbacks")


def instantiate_loggers(logger_cfg: DictConfig | None) -> list[Logger]:
    """Instantiate the ``logger`` group."""
    return _instantiate_entries(logger_cfg, "loggers")
