"""RiskModule: one LightningModule for any task (riskvision.tasks) and any clip net (riskvision.models).

The module owns the training loop's bookkeeping: it asks its task object for the loss, the class
probabilities, the decisions and the metric collections, keeps the decision threshold (tuned on validation
for tasks that tune one) and builds the optimiser. The net (an ``nn.Module`` mapping a normalised clip
``[B, T, C, H, W]`` to logits ``[B, task.num_outputs]``) owns nothing else.

Its constructor takes configs (plain mappings with ``_target_``) rather than built objects, and builds
the task and then the net itself, with the head width the task needs (``num_outputs=task.num_outputs``; a net
config that states another width is refused).
The saved hyperparameters are therefore plain data: a checkpoint loads with
``torch.load(..., weights_only=True)`` and ``RiskModule.load_from_checkpoint(path)`` needs nothing else; it
builds only what ``riskvision.checkpoints.trust`` allows a stored config to name.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import hydra
import torch
from lightning.pytorch import LightningModule
from omegaconf import OmegaConf
from torch import Tensor

from riskvision.batch import FEATURES, METADATA_KEYS, VIDEO, without_replaced
from riskvision.checkpoints.loading import upgrade_module_hparams
from riskvision.checkpoints.reading import load_torch_file
from riskvision.checkpoints.trust import check_stored_config
from riskvision.models.registry import OLD_WIDTH_KEYS
from riskvision.tasks import Task

SPLITS = ("train", "val", "test")


def _plain(value: Any) -> Any:
    """OmegaConf containers -> plain dicts/lists (so hyperparameters stay ``weights_only``-loadable)."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def build_net(net: Mapping[str, Any], task: Task) -> torch.nn.Module:
    """The net of config ``net`` with the head width ``task`` needs (``num_outputs=task.num_outputs``).

    Raises:
        ValueError: ``net`` states a head width: under an old name (``num_classes``), or one the task contradicts.
    """
    for key in OLD_WIDTH_KEYS:
        if key in net:
            raise ValueError(
                f"model.net.{key}={net[key]!r}: the head width is now set by the task (num_outputs="
                f"task.num_outputs = {task.num_outputs} for {type(task).__name__}). Fix: remove "
                f"model.net.{key}"
            )
    stated = net.get("num_outputs")
    if stated is not None and stated != task.num_outputs:
        raise ValueError(
            f"model.net.num_outputs={stated!r} contradicts the task: {type(task).__name__} needs "
            f"{task.num_outputs} logits per clip. Fix: remove model.net.num_outputs (the width comes "
            "from model.task), or change the task"
        )
    config = {key: value for key, value in net.items() if key != "num_outputs"}
    return hydra.utils.instantiate(config, num_outputs=task.num_outputs)


def _check_per_frame_net(net: torch.nn.Module, task: Task, inputs: Mapping[str, Any] | None) -> None:
    """A ValueError naming the fix unless a ``per_frame`` task gets a causal net fed consecutive frames."""
    if not getattr(net, "causal", False):
        raise ValueError(
            f"model.task={type(task).__name__} learns P(crash) at every frame and needs a causal "
            f"per-frame net; {type(net).__name__} is none. Fix: model=causal_gru, or "
            "model.net.head=gru / lstm"
        )
    sampler = (inputs or {}).get("sampler", "window")
    if sampler != "window":
        raise ValueError(
            f"model.inputs.sampler={sampler!r}: model.task={type(task).__name__} needs clips of "
            "consecutive frames to know each frame's time. Fix: model.inputs.sampler=window"
        )


@dataclass(frozen=True)
class Execution:
    """How the net runs (``model.execution``); the same numbers up to float rounding.

    Args:
        memory_format: ``contiguous`` or ``channels_last``: the net's convolution weights in channels-last memory
            (``torch.channels_last`` for the 2D backbone of a ``FrameFeatureNet``, ``torch.channels_last_3d`` for a
            3D net); the convolutions then run channels-last.
        compile: ``torch.compile`` the net in place (``nn.Module.compile``: the weights keep their names) when a
            Trainer sets the module up (``configure_model``); a Predictor rebuilding the checkpoint does not.
    """

    memory_format: str = "contiguous"
    compile: bool = False

    MEMORY_FORMATS: ClassVar[tuple[str, ...]] = ("contiguous", "channels_last")

    def __post_init__(self) -> None:
        if self.memory_format not in self.MEMORY_FORMATS:
            raise ValueError(
                f"model.execution.memory_format={self.memory_format!r} is not one of {list(self.MEMORY_FORMATS)}"
            )


@dataclass(frozen=True)
class LrSchedule:
    """The learning-rate schedule (``model.lr_scheduler``, Lightning's ``lr_scheduler`` names).

    Args:
        scheduler: partial LR-scheduler config (``{_target_: torch.optim.lr_scheduler.X, _partial_: true, ...}``);
            it receives the optimiser. Stepped once per epoch.
        monitor: the metric a ``ReduceLROnPlateau``-type scheduler watches (``val/loss``).
    """

    scheduler: Mapping[str, Any]
    monitor: str = "val/loss"


class RiskModule(LightningModule):
    """A task (its loss, probabilities, decisions, metrics) learned by a clip net.

    Args:
        net: config of the net (``_target_``: a registered model's builder or class, ``riskvision.models``, + its
            arguments) mapping ``video`` to logits; built with ``num_outputs=task.num_outputs``, which the config
            leaves out (or states equal).
        task: config of the task (``{_target_: riskvision.tasks.BinaryCrash, pos_weight: ...}`` or
            ``riskvision.tasks.RiskLevels``); the task says which batch label it learns (``task.target``).
        optimizer: partial optimiser config (``_partial_: true``); only trainable parameters are given to it.
        lr_scheduler: the learning-rate schedule (:class:`LrSchedule`: ``scheduler``, a partial LR-scheduler config
            that receives the optimiser, and ``monitor``, the metric a ``ReduceLROnPlateau``-type scheduler watches;
            Lightning's ``lr_scheduler`` names); ``None`` (or no ``scheduler``): a constant rate.
        monitor: the model-selection metric (``val/f1`` binary, ``val/f1_macro`` 3-class); the
            checkpoint callback and sweeps read it from the model config.
        inputs: the data contract (``model.inputs``: sampler, num_frames, frame_size, normalization,
            target, batch_size); recorded so a checkpoint says how it must be fed.
        pretrained: where the initial weights came from and whether they loaded; recorded only, train.py
            loads the weights.
        recipe: run-length facts of the published recipe (``max_epochs``); recorded only.
        execution: how the net runs (:class:`Execution`: ``memory_format``, ``compile``); the same numbers up to
            float rounding.
        feature_cache: ``{enabled, dir, views, batch_frames}`` (``model.feature_cache``): when a fit starts
            (``on_fit_start``: the net is on its device), a ``FrameFeatureNet`` whose per-frame features cannot train
            (a frozen backbone) has them extracted once into the cache under ``dir`` and trains its sequence head on
            them (``RiskDataModule.use_feature_cache``; ``views``: augmented views per training video). Batches then
            carry ``features`` instead of ``video``; the weights and checkpoints are the same as without the cache.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        task: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        lr_scheduler: Mapping[str, Any] | None = None,
        monitor: str = "val/f1",
        inputs: Mapping[str, Any] | None = None,
        pretrained: Mapping[str, Any] | None = None,
        recipe: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
        feature_cache: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.execution = Execution(**_plain(execution or {}))
        schedule = _plain(lr_scheduler) or {}
        self.lr_schedule = LrSchedule(**schedule) if schedule.get("scheduler") is not None else None
        if not isinstance(task, Mapping) and not OmegaConf.is_dict(task):
            raise ValueError(
                f"model.task={task!r} is the old form; model.task is now a task config, e.g. "
                "{_target_: riskvision.tasks.BinaryCrash} (binary) or {_target_: riskvision.tasks.RiskLevels} "
                "(3-class); pos_weight / class_weights / thresholds / class_names moved under it"
            )
        self.save_hyperparameters()
        self.hparams.update({key: _plain(value) for key, value in self.hparams.items()})
        self.task: Task = hydra.utils.instantiate(self.hparams.task)
        self.net = build_net(self.hparams.net, self.task)
        if self.task.per_frame:
            _check_per_frame_net(self.net, self.task, inputs)
        if self.execution.memory_format == "channels_last":
            from riskvision.models import FrameFeatureNet

            layout = torch.channels_last if isinstance(self.net, FrameFeatureNet) else torch.channels_last_3d
            self.net.to(memory_format=layout)
        self.threshold_curve = None
        if self.task.tunes_threshold:
            self.register_buffer("threshold_grid", self.task.threshold_grid())
            self.threshold_curve = self.task.threshold_curve()
        # The decision threshold (tuned on validation when the task tunes one); saved in every checkpoint.
        self.register_buffer("threshold", torch.tensor(0.5))
        self.train_metrics = self._make_metrics("train")
        self.val_metrics = self._make_metrics("val")
        self.test_metrics = self._make_metrics("test")
        # Frames the data layer replaced (unreadable files) in this epoch, summed on the batch's device
        # (no host sync per step); None while no batch reports it.
        self._substituted: dict[str, Tensor | None] = {split: None for split in SPLITS}
        # Plain data written into every checkpoint this module saves, weights-only ones included (Lightning runs
        # callbacks' on_save_checkpoint only for full checkpoints): train.py's run config and run id
        # (riskvision.checkpoints.writing.RunConfigInCheckpoint).
        self.checkpoint_metadata: dict[str, Any] = {}

    @classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        trusted_targets: Sequence[str] = (),
        **kwargs: Any,
    ) -> RiskModule:
        """Lightning's ``load_from_checkpoint`` after checking the stored hyperparameters
        (``riskvision.checkpoints.trust.check_stored_config``: trusted targets plus ``trusted_targets``, plain
        values); always ``weights_only``. ``kwargs`` (the caller's own hyperparameter overrides) are not checked."""
        checkpoint = load_torch_file(checkpoint_path, "Fix: pass a .ckpt written by riskvision's train.py")
        hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, Mapping) else None
        check_stored_config(
            hparams, f"{checkpoint_path}: stored hyperparameters", sections=None, trusted=trusted_targets
        )
        upgraded = upgrade_module_hparams(hparams)  # an older version's keys and width name
        kwargs.update(
            {
                key: upgraded[key]
                for key in ("net", "execution", "lr_scheduler")
                if key in upgraded and key not in kwargs
            }
        )
        return super().load_from_checkpoint(
            checkpoint_path, map_location, hparams_file, strict, weights_only=True, **kwargs
        )

    # ----------------------------------------------------------------------------- metrics
    def _make_metrics(self, split: str) -> torch.nn.ModuleDict:
        """Metrics of one split (the test split adds a confusion matrix)."""
        return torch.nn.ModuleDict(self.task.metrics(with_confusion=split == "test"))

    def metrics(self, split: str) -> torch.nn.ModuleDict:
        """The ``ranking`` and ``hard`` metric collections of ``split`` (train, val or test)."""
        return getattr(self, f"{split}_metrics")

    def _decision_threshold(self, split: str) -> Tensor | float:
        """The tuned threshold on test; 0.5 while training and validating (the threshold being tuned)."""
        return self.threshold if split == "test" else 0.5

    def configure_model(self) -> None:
        """Under a Trainer: compile the net in place when ``compile`` is set (once)."""
        if self.execution.compile and not getattr(self, "_compiled", False):
            self.net.compile()
            self._compiled = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Add :attr:`checkpoint_metadata` to the checkpoint (full and weights-only alike)."""
        checkpoint.update(self.checkpoint_metadata)

    def on_fit_start(self) -> None:
        """With ``feature_cache.enabled``: fill the feature cache and switch the datamodule's clips to it (before
        any loader is built; every DDP rank does it, sharing the extraction)."""
        config = self.hparams.get("feature_cache") or {}
        if config.get("enabled"):
            self._use_feature_cache(config)

    def _use_feature_cache(self, config: Mapping[str, Any]) -> None:
        from riskvision.models import FrameFeatureNet

        identity = self.net.feature_identity() if isinstance(self.net, FrameFeatureNet) else None
        if identity is None:
            why = " trains its backbone (model.net.freeze)"
            if not isinstance(self.net, FrameFeatureNet):
                why = " has no per-frame features"
            raise ValueError(
                "model.feature_cache.enabled=true needs a net whose per-frame features do not train; "
                f"{type(self.net).__name__}{why}. Fix: "
                "model.feature_cache.enabled=false, or model=bilstm with model.net.freeze=all"
            )
        datamodule = self.trainer.datamodule
        if not hasattr(datamodule, "use_feature_cache"):
            raise ValueError(
                "model.feature_cache.enabled=true needs a RiskDataModule (trainer.fit(..., datamodule=...))"
            )
        net, device = self.net, self.device

        def encode(frames: Tensor) -> Tensor:
            return net.forward_features(frames.to(device)[None])[0]

        was_training = net.training
        net.eval()
        try:
            datamodule.use_feature_cache(
                config["dir"],
                identity,
                encode,
                views=int(config.get("views") or 0),
                seed=int(config.get("seed") or 0),
                batch_frames=int(config.get("batch_frames") or 64),
                rank=self.global_rank,
                world_size=self.trainer.world_size,
            )
        finally:
            net.train(was_training)

    # ----------------------------------------------------------------------------- steps
    def forward(self, video: Tensor) -> Tensor:
        """Logits of the net for a normalised clip ``[B, T, C, H, W]``."""
        return self.net(video)

    def logits(self, batch: Mapping[str, Any]) -> Tensor:
        """Logits of a batch: the net on its ``video``, or its sequence head on cached ``features`` ``[B, T, D]``."""
        if FEATURES in batch:
            return self.net.forward_sequence(batch[FEATURES])
        return self(batch[VIDEO])

    def frame_logits(self, batch: Mapping[str, Any]) -> Tensor:
        """Logits at every frame ``[B, T, K]`` of a causal net (``forward_frames``) on the batch's ``video`` or cached
        ``features``: each frame's from the frames up to it."""
        features = batch[FEATURES] if FEATURES in batch else self.net.forward_features(batch[VIDEO])
        return self.net.forward_frames(features)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The task's loss (``riskvision.tasks``)."""
        return self.task.loss(logits, labels)

    def _shared_step(self, batch: dict[str, Any], split: str) -> Tensor | None:
        """Loss of ``batch``, with the split's metrics and counts updated; ``None`` for a val/test batch of
        stand-ins only.

        Training learns from every sample, stand-ins of dropped clips included (they are real clips);
        validation and test first drop the samples flagged ``replaced`` (``riskvision.batch.without_replaced``),
        so their loss, metrics, threshold curve and substituted-frame count see each clip once. A batch left
        empty updates and logs nothing (training batches are never emptied, so a training loss always has
        its graph).
        """
        if split != "train":
            batch = without_replaced(batch)
        labels = batch[self.task.target]
        if not len(labels):
            return None
        if self.task.per_frame:  # logits at every frame: the loss on all of them, the clip metrics on the last
            frame_logits = self.frame_logits(batch)
            logits, loss = frame_logits[:, -1], self.task.frame_loss(frame_logits, batch)
        else:
            logits = self.logits(batch)
            loss = self.loss(logits, labels)
        probs = self.task.probabilities(logits.detach())
        scores = self.task.scores(probs)
        metrics = self.metrics(split)
        metrics["ranking"].update(scores, labels)
        metrics["hard"].update(self.task.decide(probs, self._decision_threshold(split)), labels)
        if split == "val" and self.threshold_curve is not None:
            self.threshold_curve.update(scores, labels)
        if "substituted" in batch:
            count = torch.as_tensor(batch["substituted"]).sum()
            previous = self._substituted[split]
            self._substituted[split] = count if previous is None else previous + count
        self.log(
            f"{split}/loss",
            loss,
            on_step=split == "train",
            on_epoch=True,
            prog_bar=split == "train",
            batch_size=len(labels),
            sync_dist=split != "train",
        )
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

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any] | None:
        """Per-window probabilities ``probs`` ``[B', K]`` plus the metadata and labels of the batch's ``B'``
        samples not flagged ``replaced``; ``None`` when every sample is."""
        batch = without_replaced(batch)
        if not len(batch[self.task.target]):
            return None
        out = {key: batch[key] for key in METADATA_KEYS if key in batch}
        out["probs"] = self.task.probabilities(self.logits(batch))
        return out

    # ----------------------------------------------------------------------------- epoch ends
    def _log_epoch(self, split: str) -> None:
        """Compute, log and reset the split's metrics; vectors are logged per class, matrices per cell."""
        values: dict[str, Tensor] = {}
        with self._quiet_sanity_check():
            for collection in self.metrics(split).values():
                values.update(collection.compute())
                collection.reset()
        flat: dict[str, Tensor] = {}
        for name, value in values.items():
            if value.ndim == 0:
                flat[f"{split}/{name}"] = value
            elif value.ndim == 1:
                flat.update({f"{split}/{name}_{cls}": v for cls, v in zip(self.task.class_names, value)})
            else:
                names = self.task.confusion_labels
                flat.update(
                    {
                        f"{split}/confmat/true_{t}_pred_{p}": value[i, j].float()
                        for i, t in enumerate(names)
                        for j, p in enumerate(names)
                    }
                )
        if self._substituted[split] is not None:
            flat[f"{split}/substituted_frames"] = self._substituted[split].float()
        self._substituted[split] = None
        self.log_dict(flat, prog_bar=False, sync_dist=False)

    @contextlib.contextmanager
    def _quiet_sanity_check(self) -> Iterator[None]:
        """Silence torchmetrics' "No positive / negative samples" warnings in Lightning's sanity check, whose two
        validation batches often hold one class; in a real epoch they say the split lacks a class, and stay."""
        with warnings.catch_warnings():
            if self._trainer is not None and self._trainer.sanity_checking:
                warnings.filterwarnings("ignore", message="No (positive|negative) samples", category=UserWarning)
            yield

    def on_train_epoch_end(self) -> None:
        """Log training metrics of the epoch."""
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        """Log validation metrics; a task that tunes its threshold: sweep the threshold grid, keep the best
        F1's threshold, log ``val/f1_tuned`` and ``val/threshold``."""
        self._log_epoch("val")
        if self.threshold_curve is None:
            return
        with self._quiet_sanity_check():
            precision, recall, _ = self.threshold_curve.compute()
        self.threshold_curve.reset()
        precision, recall = precision[:-1].nan_to_num(0.0), recall[:-1].nan_to_num(0.0)  # no positives called: 0
        f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
        best = self.task.best_threshold(f1, self.threshold_grid)
        if not self.trainer.sanity_checking:
            self.threshold.fill_(float(self.threshold_grid[best]))
        self.log_dict({"val/f1_tuned": f1[best], "val/threshold": self.threshold_grid[best]}, sync_dist=False)

    def on_test_epoch_end(self) -> None:
        """Log test metrics (with the confusion matrix) and the threshold they used."""
        self._log_epoch("test")
        if self.task.tunes_threshold:
            self.log("test/threshold", self.threshold, sync_dist=False)

    # ----------------------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        """The configured optimiser over trainable parameters only, with the optional scheduler."""
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = hydra.utils.instantiate(self.hparams.optimizer)(params=params)
        if self.lr_schedule is None:
            return {"optimizer": optimizer}
        scheduler = hydra.utils.instantiate(self.lr_schedule.scheduler)(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "monitor": self.lr_schedule.monitor,
                "interval": "epoch",
                "frequency": 1,
            },
        }
