"""Hyperparameter logging and logger shutdown."""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from riskvision.models import count_parameters
from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)


@rank_zero_only
def log_hyperparameters(cfg: DictConfig, model: LightningModule, trainer: Trainer, extra: dict[str, Any]) -> None:
    """Send the resolved config, parameter counts and ``extra`` facts to every logger of ``trainer``.

    Args:
        cfg: the composed run config.
        model: the module (for parameter counts).
        trainer: the trainer whose loggers receive the values.
        extra: more top-level entries (e.g. ``pretrained`` status, data origin).
    """
    if not trainer.loggers:
        return
    hparams: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    total, trainable = count_parameters(model)
    hparams["model/params/total"] = total
    hparams["model/params/trainable"] = trainable
    hparams["model/params/frozen"] = total - trainable
    hparams.update(extra)
    for logger in trainer.loggers:
        logger.log_hyperparams(hparams)


def close_loggers() -> None:
    """Finish the wandb run of this job if one is open (multirun: one closed run per job)."""
    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        log.info("Closing wandb run")
        wandb.finish()
