"""RiskModule: one LightningModule for the binary crash detector and the 3-class risk classifier.

The module owns losses, metrics, the decision threshold and the optimiser; the net (any ``nn.Module``
that maps a normalised clip ``[B, T, C, H, W]`` to logits ``[B, 1]`` or ``[B, K]``) owns nothing else.

Its constructor takes configs (plain mappings with ``_target_``) rather than built objects, and builds
the net itself. The saved hyperparameters are therefore plain data: a checkpoint loads with
``torch.load(..., weights_only=True)`` and ``RiskModule.load_from_checkpoint(path)`` needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import hydra
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from omegaconf import OmegaConf
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryPrecision,
    BinaryPrecisionRecallCurve,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassAveragePrecision,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from riskvision.batch import METADATA_KEYS

TASKS = ("binary", "multiclass")
SPLITS = ("train", "val", "test")


def class_probabilities(logits: Tensor, task: str) -> Tensor:
    """Logits -> float32 class probabilities ``[B, K]``.

    Binary: ``[B, 1]`` logits -> sigmoid, K=2 columns P(no crash), P(crash); multiclass: softmax.
    """
    if task == "binary":
        p = torch.sigmoid(logits.reshape(-1).float())
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits.float(), dim=1)


def _plain(value: Any) -> Any:
    """OmegaConf containers -> plain dicts/lists (so hyperparameters stay ``weights_only``-loadable)."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


class RiskModule(LightningModule):
    """Binary crash detection (BCE-with-logits) or K-class risk (cross-entropy) for any clip net.

    Args:
        net: config of the ``nn.Module`` (``_target_`` + arguments) mapping ``video`` to logits.
        task: ``binary`` (logits ``[B, 1]``) or ``multiclass`` (logits ``[B, K]``).
        target: batch key holding the labels (``crash`` or ``risk``).
        optimizer: partial optimiser config (``_partial_: true``); only trainable parameters are given to it.
        scheduler: optional partial LR-scheduler config (receives the optimiser).
        scheduler_monitor: metric a ``ReduceLROnPlateau``-type scheduler watches.
        monitor: the model-selection metric (``val/f1`` binary, ``val/f1_macro`` multiclass); the
            checkpoint callback and sweeps read it from the model config.
        num_classes: K for ``multiclass`` (ignored for ``binary``).
        class_names: names of the K classes, used in per-class metric names.
        pos_weight: BCE positive-class weight (negatives / positives), ``None`` for 1.
        class_weights: cross-entropy class weights (length K), ``None`` for uniform.
        thresholds: the binary decision thresholds swept on validation, ``[start, stop, step]``
            inclusive (the seed's 0.10..0.90 step 0.05).
        inputs: the data contract (``model.inputs``: sampler, num_frames, frame_size, normalization,
            target, batch_size); recorded so a checkpoint says how it must be fed.
        pretrained: where the initial weights came from (``model.pretrained``); recorded only, train.py
            loads the weights.
        recipe: run-length facts of the published recipe (``max_epochs``); recorded only.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        task: str,
        target: str,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        scheduler_monitor: str = "val/loss",
        monitor: str = "val/f1",
        num_classes: int = 1,
        class_names: Sequence[str] | None = None,
        pos_weight: float | None = None,
        class_weights: Sequence[float] | None = None,
        thresholds: Sequence[float] = (0.10, 0.90, 0.05),
        inputs: Mapping[str, Any] | None = None,
        pretrained: Mapping[str, Any] | None = None,
        recipe: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task={task!r} is unknown; choose one of {list(TASKS)}")
        if task == "multiclass" and num_classes < 2:
            raise ValueError(f"task='multiclass' needs num_classes >= 2, got {num_classes}")
        self.save_hyperparameters()
        self.hparams.update({key: _plain(value) for key, value in self.hparams.items()})
        self.net = hydra.utils.instantiate(self.hparams.net)
        self.num_outputs = 1 if task == "binary" else num_classes
        self.class_names = list(class_names) if class_names else [str(k) for k in range(self.num_outputs)]
        start, stop, step = thresholds
        steps = round((stop - start) / step)
        self.register_buffer("threshold_grid", torch.linspace(start, start + steps * step, steps + 1))
        # The decision threshold tuned on validation; saved in every checkpoint (state_dict buffer).
        self.register_buffer("threshold", torch.tensor(0.5))
        self.register_buffer("pos_weight", None if pos_weight is None else torch.tensor([float(pos_weight)]))
        self.register_buffer("class_weights", None if class_weights is None else torch.tensor(class_weights, dtype=torch.float))
        self.train_metrics = self._make_metrics("train")
        self.val_metrics = self._make_metrics("val")
        self.test_metrics = self._make_metrics("test")
        if task == "binary":
            self.threshold_curve = BinaryPrecisionRecallCurve(thresholds=self.threshold_grid.tolist())
        # Frames the data layer replaced (unreadable files) in this epoch, summed on the batch's device
        # (no host sync per step); None while no batch reports it.
        self._substituted: dict[str, Tensor | None] = {split: None for split in SPLITS}

    # ----------------------------------------------------------------------------- metrics
    def _make_metrics(self, split: str) -> torch.nn.ModuleDict:
        """Metrics of one split; thresholded ones receive hard predictions, ranking ones probabilities."""
        if self.hparams.task == "binary":
            ranking = {"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()}
            hard = {"acc": BinaryAccuracy(), "precision": BinaryPrecision(), "recall": BinaryRecall(), "f1": BinaryF1Score()}
            if split == "test":
                hard["confmat"] = BinaryConfusionMatrix()
        else:
            k = self.num_outputs
            ranking = {"auroc": MulticlassAUROC(k), "ap": MulticlassAveragePrecision(k)}
            hard = {
                "acc": MulticlassAccuracy(k, average="micro"),
                "precision_macro": MulticlassPrecision(k, average="macro"),
                "recall_macro": MulticlassRecall(k, average="macro"),
                "f1_macro": MulticlassF1Score(k, average="macro"),
                "precision": MulticlassPrecision(k, average=None),
                "recall": MulticlassRecall(k, average=None),
                "f1": MulticlassF1Score(k, average=None),
            }
            if split == "test":
                hard["confmat"] = MulticlassConfusionMatrix(k)
        return torch.nn.ModuleDict({"ranking": MetricCollection(ranking), "hard": MetricCollection(hard)})

    def metrics(self, split: str) -> torch.nn.ModuleDict:
        """The ``ranking`` and ``hard`` metric collections of ``split`` (train, val or test)."""
        return getattr(self, f"{split}_metrics")

    def probabilities(self, logits: Tensor) -> Tensor:
        """Class probabilities ``[B, K]`` of this module's task (see :func:`class_probabilities`)."""
        return class_probabilities(logits, self.hparams.task)

    def _decide(self, probs: Tensor, split: str) -> tuple[Tensor, Tensor]:
        """(ranking scores, hard predictions): binary uses 0.5 on train/val and the tuned threshold on test."""
        if self.hparams.task == "binary":
            threshold = self.threshold if split == "test" else 0.5
            return probs[:, 1], (probs[:, 1] >= threshold).long()
        return probs, probs.argmax(dim=1)

    # ----------------------------------------------------------------------------- steps
    def forward(self, video: Tensor) -> Tensor:
        """Logits of the net for a normalised clip ``[B, T, C, H, W]``."""
        return self.net(video)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """BCE-with-logits (binary, ``pos_weight``) or cross-entropy (multiclass, ``class_weights``)."""
        if self.hparams.task == "binary":
            return F.binary_cross_entropy_with_logits(logits.reshape(-1), labels.float(), pos_weight=self.pos_weight)
        return F.cross_entropy(logits, labels, weight=self.class_weights)

    def _shared_step(self, batch: dict[str, Any], split: str) -> Tensor:
        labels = batch[self.hparams.target]
        logits = self(batch["video"])
        loss = self.loss(logits, labels)
        probs = self.probabilities(logits.detach())
        scores, hard = self._decide(probs, split)
        metrics = self.metrics(split)
        metrics["ranking"].update(scores, labels)
        metrics["hard"].update(hard, labels)
        if split == "val" and self.hparams.task == "binary":
            self.threshold_curve.update(scores, labels)
        if "substituted" in batch:
            count = torch.as_tensor(batch["substituted"]).sum()
            previous = self._substituted[split]
            self._substituted[split] = count if previous is None else previous + count
        self.log(f"{split}/loss", loss, on_step=split == "train", on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=split != "train")
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Loss of one training batch."""
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Update validation loss and metrics."""
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Update test loss and metrics (binary decisions at the tuned threshold)."""
        self._shared_step(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Per-window probabilities ``probs`` ``[B, K]`` plus the batch's metadata and labels."""
        out = {key: batch[key] for key in METADATA_KEYS if key in batch}
        out["probs"] = self.probabilities(self(batch["video"]))
        return out

    # ----------------------------------------------------------------------------- epoch ends
    def _log_epoch(self, split: str) -> None:
        """Compute, log and reset the split's metrics; vectors are logged per class, matrices per cell."""
        values: dict[str, Tensor] = {}
        for collection in self.metrics(split).values():
            values.update(collection.compute())
            collection.reset()
        flat: dict[str, Tensor] = {}
        for name, value in values.items():
            if value.ndim == 0:
                flat[f"{split}/{name}"] = value
            elif value.ndim == 1:
                flat.update({f"{split}/{name}_{cls}": v for cls, v in zip(self.class_names, value)})
            else:
                names = self.class_names if self.hparams.task == "multiclass" else ["0", "1"]
                flat.update({f"{split}/confmat/true_{t}_pred_{p}": value[i, j].float() for i, t in enumerate(names) for j, p in enumerate(names)})
        if self._substituted[split] is not None:
            flat[f"{split}/substituted_frames"] = self._substituted[split].float()
        self._substituted[split] = None
        self.log_dict(flat, prog_bar=False, sync_dist=False)

    def on_train_epoch_end(self) -> None:
        """Log training metrics of the epoch."""
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        """Log validation metrics; binary: sweep the threshold grid, log ``val/f1_tuned`` and ``val/threshold``."""
        self._log_epoch("val")
        if self.hparams.task != "binary":
            return
        precision, recall, _ = self.threshold_curve.compute()
        self.threshold_curve.reset()
        precision, recall = precision[:-1].nan_to_num(0.0), recall[:-1].nan_to_num(0.0)  # no positives called: 0
        f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
        best = self.best_threshold(f1, self.threshold_grid)
        if not self.trainer.sanity_checking:
            self.threshold.fill_(float(self.threshold_grid[best]))
        self.log_dict({"val/f1_tuned": f1[best], "val/threshold": self.threshold_grid[best]}, sync_dist=False)

    @staticmethod
    def best_threshold(f1: Tensor, grid: Tensor) -> int:
        """Index of the grid threshold with the highest F1; ties go to the threshold nearest 0.5."""
        tied = torch.nonzero(f1 >= f1.max() - 1e-9).reshape(-1)
        return int(tied[torch.argmin((grid[tied] - 0.5).abs())])

    def on_test_epoch_end(self) -> None:
        """Log test metrics (with the confusion matrix) and the threshold they used."""
        self._log_epoch("test")
        if self.hparams.task == "binary":
            self.log("test/threshold", self.threshold, sync_dist=False)

    # ----------------------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        """The configured optimiser over trainable parameters only, with the optional scheduler."""
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = hydra.utils.instantiate(self.hparams.optimizer)(params=params)
        if self.hparams.scheduler is None:
            return {"optimizer": optimizer}
        scheduler = hydra.utils.instantiate(self.hparams.scheduler)(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.scheduler_monitor, "interval": "epoch", "frequency": 1},
        }
