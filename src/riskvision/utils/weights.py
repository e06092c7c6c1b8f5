"""Load a model config's pretrained weights into its net, or fall back to random init loudly."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig
from torch import nn

from riskvision.models import PretrainedUnavailable, load_pretrained
from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)


def apply_pretrained(net: nn.Module, pretrained: DictConfig) -> dict[str, Any]:
    """Load ``pretrained.source`` into ``net`` in place and return what happened, for the run's hparams.

    Args:
        net: the model's ``nn.Module``.
        pretrained: ``model.pretrained`` with ``source`` (``null`` = random init on purpose) and
            ``require`` (``true``: missing weights are an error instead of a warning).

    Returns:
        ``{"source", "status" (loaded | none), "format", "normalization"}``; ``normalization`` is the
        input preset the loaded weights expect, ``None`` when nothing was loaded.
    """
    source = pretrained.get("source")
    if source is None:
        log.info("model.pretrained.source is null: the net starts from random initialisation")
        return {"source": None, "status": "none", "format": "none", "normalization": None}
    try:
        report = load_pretrained(net, source)
    except PretrainedUnavailable as err:
        if pretrained.get("require", False):
            raise RuntimeError(f"model.pretrained.require is true and the weights are unavailable: {err}") from err
        log.warning(
            "!" * 80 + f"\nPRETRAINED WEIGHTS UNAVAILABLE ({source}): {err}\n"
            "Training continues from RANDOM INITIALISATION; the run's hyperparameters say pretrained: none. "
            "Set model.pretrained.require=true to make this an error.\n" + "!" * 80
        )
        return {"source": str(source), "status": "none", "format": "none", "normalization": None}
    log.info(report.summary())
    return {"source": str(source), "status": "loaded", "format": report.format, "normalization": report.normalization}
