"""Precise BatchNorm statistics before each validation (as PySlowFast's ``BN.USE_PRECISE_STATS``).

During training a BatchNorm layer's running mean and variance are an exponential average (momentum 0.1) over
the last few batches, each taken with slightly different weights. With small batches and a deep net that
estimate is noisy, and eval-mode predictions inherit the noise: a 3D-ResNet-101 on the small-machine settings
swung from validation accuracy 0.71 to 0.49 between its last two epochs while its learning rate was near zero
(docs/findings/resnet3d_quickstart.md). This callback replaces the running statistics, just before each
validation of a fit, with the plain average over the epoch's last ``num_batches`` training batches, computed
with the current weights (forward passes only, no gradients, no weight change).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

__all__ = ["PreciseBatchNorm"]


class PreciseBatchNorm(Callback):
    """Recompute the training BatchNorm layers' running statistics before each validation of a fit.

    Args:
        num_batches: training batches averaged (the epoch's last ones, kept as they were fed); 0 turns it off.
            Each costs one forward pass in train mode, about a quarter of a training step.

    Only BatchNorm layers that were in train mode during training are recomputed: a frozen backbone's layers
    (eval mode, pretrained statistics) keep theirs. The batches are kept by reference (on their device) for
    one epoch at most.
    """

    def __init__(self, num_batches: int = 16) -> None:
        if num_batches < 0:
            raise ValueError(f"callbacks.precise_bn.num_batches={num_batches}: use 0 (off) or a positive count")
        self.num_batches = num_batches
        self.batches: deque = deque(maxlen=max(num_batches, 1))
        self.layers: list[torch.nn.modules.batchnorm._BatchNorm] = []

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the epoch with no batches kept."""
        self.batches.clear()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Keep the batch; note the BatchNorm layers that train (once)."""
        if self.num_batches == 0:
            return
        if not self.layers:
            self.layers = [
                m
                for m in pl_module.modules()
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
            ]
        self.batches.append(batch)

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Replace the running statistics with the average over the kept batches (fits only, not the sanity
        check, and only when this epoch trained)."""
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or not self.batches or not self.layers:
            return
        self.update(pl_module, list(self.batches))
        self.batches.clear()

    def update(self, pl_module: LightningModule, batches: list) -> None:
        """Reset :attr:`layers`' statistics and accumulate them over ``batches`` (``momentum=None``: a cumulative
        average), then put every layer back as it was (momentum, eval mode)."""
        momenta = [layer.momentum for layer in self.layers]
        modes = [layer.training for layer in self.layers]
        for layer in self.layers:
            layer.reset_running_stats()
            layer.momentum = None
            layer.train()
        try:
            with torch.no_grad():
                for batch in batches:
                    pl_module.logits(batch)
        finally:
            for layer, momentum, mode in zip(self.layers, momenta, modes):
                layer.momentum = momentum
                layer.train(mode)
