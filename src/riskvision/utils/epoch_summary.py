"""What a run prints about its metrics: one line per validated epoch, and a table of the best epoch at the end.

    Epoch 3/8: train/loss 0.912 | val/f1_macro 0.512 (best 0.512 at epoch 3) | val/loss 0.951 | val/auroc 0.703 |
    val/ap 0.551 | F1 Normal 0.61, Warning 0.52, Danger 0.40 | 2.3 min

The line goes to the console and ``train.log`` (the ``riskvision`` logger); values are rounded to 3 decimals.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)

#: Validation metrics the epoch line shows after the monitored one, those the run logged, in this order.
HEADLINE = ("val/loss", "val/f1", "val/f1_macro", "val/auroc", "val/ap", "val/acc")
#: Logged names that are not per-class F1 although they start with ``val/f1_``.
NOT_PER_CLASS = ("f1_macro", "f1_tuned")


def format_value(value: float) -> str:
    """A metric rounded for reading: 3 decimals (``0.512``, ``1.000``), no decimals from 1000 on (counts)."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3f}"


def metrics_table(metrics: Mapping[str, float], title: str, prefixes: Sequence[str] = ("val/", "test/")) -> str:
    """A two-column text table of the ``metrics`` whose names start with one of ``prefixes`` (confusion-matrix
    cells left out: ``metrics.json`` has them), sorted by name, under ``title``."""
    rows = [
        (name, format_value(float(value)))
        for name, value in sorted(metrics.items())
        if name.startswith(tuple(prefixes)) and "/confmat/" not in name
    ]
    if not rows:
        return f"{title}: no metrics logged"
    width = max(len(name) for name, _ in rows)
    return "\n".join([title, *(f"  {name:<{width}}  {value:>8}" for name, value in rows)])


def per_class_f1(metrics: Mapping[str, float], split: str = "val") -> dict[str, float]:
    """``{class name: F1}`` from the ``<split>/f1_<class>`` metrics a multiclass task logs (empty for binary)."""
    prefix = f"{split}/f1_"
    return {
        name[len(prefix) :]: float(value)
        for name, value in metrics.items()
        if name.startswith(prefix) and name[len(split) + 1 :] not in NOT_PER_CLASS
    }


class EpochSummary(Callback):
    """Log one line per validation (epoch, train loss, the monitored metric with the best so far and its epoch,
    the headline metrics, per-class F1, minutes) and, when fitting ends, the best epoch's validation metrics.

    Args:
        monitor: the metric the best checkpoint is chosen by (``model.monitor``).
        mode: ``max`` or ``min``: which direction is better for ``monitor``.
    """

    def __init__(self, monitor: str, mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"EpochSummary mode={mode!r}: use 'max' or 'min'")
        self.monitor, self.mode = monitor, mode
        self.best: dict[str, float] | None = None
        self.best_epoch: int | None = None
        self._pending: dict[str, float] | None = None
        self._epoch_start = time.monotonic()

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._epoch_start = time.monotonic()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Keep this validation's metrics (the train loss of the epoch is known only when the epoch ends)."""
        if trainer.sanity_checking:
            return
        metrics = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if name.startswith("val/") and getattr(value, "numel", lambda: 1)() == 1
        }
        self._pending = metrics
        score = metrics.get(self.monitor)
        if score is not None and not math.isnan(score) and (self.best is None or self._better(score)):
            self.best, self.best_epoch = metrics, trainer.current_epoch

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The epoch's line, if it was validated."""
        if self._pending is None:
            return
        metrics, self._pending = self._pending, None
        loss = trainer.callback_metrics.get("train/loss_epoch", trainer.callback_metrics.get("train/loss"))
        log.info(
            self.epoch_line(
                trainer.current_epoch,
                trainer.max_epochs,
                metrics,
                None if loss is None else float(loss),
                (time.monotonic() - self._epoch_start) / 60,
            )
        )

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.best is not None:
            title = (
                f"Best epoch {self.best_epoch + 1} by {self.monitor} (validation split, one value per validation clip):"
            )
            log.info(metrics_table(self.best, title, ("val/",)))

    def epoch_line(
        self, epoch: int, max_epochs: int | None, metrics: Mapping[str, float], train_loss: float | None, minutes: float
    ) -> str:
        """The line of 0-based ``epoch`` (shown 1-based, like the best epoch) for its validation ``metrics``."""
        of = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
        parts = [f"Epoch {epoch + 1}{of}: train/loss {format_value(train_loss) if train_loss is not None else '-'}"]
        if self.monitor in metrics:
            best = (
                f" (best {format_value(self.best[self.monitor])} at epoch {self.best_epoch + 1})"
                if self.best is not None and self.best_epoch is not None
                else ""
            )
            parts.append(f"{self.monitor} {format_value(metrics[self.monitor])}{best}")
        parts += [
            f"{name} {format_value(metrics[name])}" for name in HEADLINE if name in metrics and name != self.monitor
        ]
        classes = per_class_f1(metrics)
        if classes:
            parts.append("F1 " + ", ".join(f"{name} {format_value(value)}" for name, value in classes.items()))
        parts.append(f"{minutes:.1f} min")
        return " | ".join(parts)

    def _better(self, score: float) -> bool:
        best = self.best[self.monitor]
        return score > best if self.mode == "max" else score < best

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.best_epoch = state_dict.get("best"), state_dict.get("best_epoch")


class EpochProgressBar(RichProgressBar):
    """Lightning's rich progress bar with epochs counted from 1, as the epoch lines and the checkpoint names do:
    the last of 12 epochs reads ``Epoch 12/12`` (Lightning's own bar reads ``Epoch 11/11``)."""

    def _get_train_description(self, current_epoch: int) -> str:
        description = f"Epoch {current_epoch + 1}" + (f"/{self.trainer.max_epochs}" if self.trainer.max_epochs else "")
        return f"{description:{len(self.validation_description)}}"  # padded like Lightning's (no flicker)
