"""A run's pretrained weights, resolved before anything is built (or a loud fallback to random init).

``train.py`` calls :func:`resolve_pretrained` first: it reads ``model.pretrained.source`` with the net
family's loader and writes what it found into the run config, so the module, the datamodule, the stored
config and the logs are all built from one resolved config:

- ``model.inputs.normalization``: the input preset the weights expect (``data.frames.normalization`` follows it), and
  for a net built for one clip shape (MViT) ``model.inputs.num_frames`` / ``frame_size``;
- ``model.pretrained.status`` (``loaded`` | ``none``), ``model.pretrained.format`` and
  ``model.pretrained.normalization``: recorded in the module's hyperparameters and every checkpoint.

After the module is built, ``load_weights(module.net, weights)`` puts the tensors in.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, open_dict

from riskvision.models import PretrainedUnavailable, PretrainedWeights, UnknownModelError, net_class
from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)


def resolve_pretrained(cfg: DictConfig) -> PretrainedWeights | None:
    """Read the pretrained weights ``cfg.model.pretrained`` asks for and record the outcome in ``cfg``
    (see the module docstring). Returns the weights to load, ``None`` for random initialisation.

    ``model.pretrained``: ``source`` (``null`` = random init on purpose) and ``require`` (``true``: missing
    weights are an error instead of a warning).
    """
    pretrained = cfg.model.pretrained
    source = pretrained.get("source")
    weights = None
    if source is None:
        log.info("model.pretrained.source is null: the net starts from random initialisation")
    else:
        try:
            weights = _net_class(cfg.model.net._target_).read_pretrained(source, cfg.model.net)
        except PretrainedUnavailable as err:
            if pretrained.get("require", False):
                raise RuntimeError(f"model.pretrained.require is true and the weights are unavailable: {err}") from err
            log.warning(
                "!" * 80 + f"\nPRETRAINED WEIGHTS UNAVAILABLE ({source}): {err}\n"
                "Training continues from RANDOM INITIALISATION; the run's hyperparameters say pretrained: none. "
                "Set model.pretrained.require=true to make this an error.\n" + "!" * 80
            )
    with open_dict(cfg):
        pretrained.status = "none" if weights is None else "loaded"
        pretrained.format = "none" if weights is None else weights.format
        pretrained.normalization = None if weights is None else weights.normalization
        if weights is not None:
            cfg.model.inputs.normalization = weights.normalization
            for key, value in weights.inputs.items():  # a fixed-size net's clip length and frame size
                if cfg.model.inputs.get(key) != value:
                    log.info(
                        f"model.inputs.{key}={value}: what the pretrained weights were made for "
                        f"(was {cfg.model.inputs.get(key)})"
                    )
                cfg.model.inputs[key] = value
    return weights


def _net_class(target: str) -> type:
    """The ClipNet class a net ``_target_`` builds: a registered model's (``riskvision.models.net_class``), else the
    class the target names (a user's own net in a config of this run)."""
    try:
        return net_class(target)
    except UnknownModelError:
        return hydra.utils.get_class(target)
