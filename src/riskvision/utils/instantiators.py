"""Build objects from config groups: the datamodule of a data config, the callbacks and the loggers."""

from __future__ import annotations

import re
from typing import Any

import hydra
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from riskvision.utils.overrides import ConfigError
from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)

#: Key of a data config listing its shortcuts (see :func:`instantiate_data`).
SHORTCUTS_KEY = "_shortcuts_"


def instantiate_data(data: DictConfig) -> Any:
    """The datamodule of a data config (``cfg.data``, attached to its run config).

    A data config may list ``_shortcuts_``: keys users type (``data.dota_root=...``) that other keys of the
    config read by interpolation (``sources.dota.root: ${data.dota_root}``). Every other key is resolved
    against the whole run config and passed to the ``_target_`` (``RiskDataModule``); the shortcuts are not,
    so the datamodule's signature stays free of any dataset's names.
    """
    skip = {SHORTCUTS_KEY, *(data.get(SHORTCUTS_KEY) or ())}
    try:
        resolved = {
            key: OmegaConf.to_container(data[key], resolve=True) if OmegaConf.is_config(data[key]) else data[key]
            for key in data
            if key not in skip
        }
    except (MissingMandatoryValue, InterpolationToMissingValueError) as error:
        raise _missing_setting(error) from None
    return hydra.utils.instantiate(resolved)


def _missing_setting(error: Exception) -> ValueError:
    """A ``???`` the user must set (``data=ccd`` without ``data.root``) as one ConfigError naming the key."""
    found = re.search(r"Missing mandatory value: (\S+)", str(error))
    key = found.group(1) if found else str(getattr(error, "full_key", "") or "a data setting")
    key = key if key.startswith("data.") else f"data.{key}"
    return ConfigError(
        f"{key} is not set, and this data config needs it (the folder of the data set). Fix: add "
        f"{key}=/path/to/the/data/set to the command (README: Data sets)"
    )


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
