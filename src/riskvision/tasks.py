"""What a model learns, and everything that follows from it: one class per task.

A task object owns its loss, its class probabilities, its decision rule, its metric collections, the
probability columns of the predictions table, the common P(crash) view shared by every task, and the
rule that turns a prediction into an alarm. The LightningModule, evaluation and inference ask the task;
none of them tests which task it is. A new task (say, time-to-collision regression) is one class here.

- :class:`BinaryCrash`: one logit per clip, ``crash`` label, BCE-with-logits, P(crash) = sigmoid, decision
  ``P(crash) >= threshold`` with the threshold tuned on validation (the bilstm seed).
- :class:`RiskLevels`: K logits (Normal / Warning / Danger), ``risk`` label, cross-entropy, softmax,
  decision argmax; P(crash) = 1 - P(first class) (the resnet3d101 seed).
- :class:`CrashAnticipation`: P(crash) at EVERY frame of a clip (a causal net, ``model=causal_gru``), trained with
  the exponential anticipation loss of DSA / UString (:func:`anticipation_loss`); otherwise :class:`BinaryCrash`.

Two worlds use a task: the module and inference hand it torch tensors (logits ``[B, K_out]``), evaluation
and the output writers hand it numpy arrays read from tables. torch is imported inside the tensor methods,
so the numpy/pandas evaluation modules can use a task without importing torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from riskvision.metrics.classification import binary_metrics, multiclass_metrics

if TYPE_CHECKING:
    import pandas as pd
    from torch import Tensor

__all__ = ["BinaryCrash", "CrashAnticipation", "RiskLevels", "Task", "anticipation_loss"]


class Task(ABC):
    """The contract every task fulfils (see the module docstring).

    Class attributes: ``name`` (how files name the task: ``metrics.json`` ``run.task``), ``target`` (the
    batch label key it learns, one of ``riskvision.batch.LABEL_KEYS``) and ``tunes_threshold`` (its decision
    threshold is tuned on validation) and ``per_frame`` (it learns logits at every frame of a clip from a causal net,
    :meth:`frame_loss`; evaluation and streaming then score every frame from one pass).
    Instance attributes: ``num_outputs`` (logits per clip) and ``class_names`` (``None`` when the classes
    are just the 0/1 label).
    """

    name: ClassVar[str]
    target: ClassVar[str]
    tunes_threshold: ClassVar[bool] = False
    per_frame: ClassVar[bool] = False
    num_outputs: int
    class_names: tuple[str, ...] | None

    # ------------------------------------------------------------------ tensors (module, inference)
    @abstractmethod
    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean training loss of ``logits`` ``[B, num_outputs]`` against int64 ``labels`` ``[B]``."""

    def frame_loss(self, frame_logits: Tensor, batch: Mapping[str, Any]) -> Tensor:
        """A ``per_frame`` task's mean loss of logits at every frame ``[B, T, num_outputs]`` of a batch of clips of
        ``T`` consecutive target frames (``riskvision.batch``: labels, ``end_frame``, ``anomaly_start``, ``fps``)."""
        raise NotImplementedError(f"{type(self).__name__} learns one logit per clip (per_frame=False)")

    @abstractmethod
    def probabilities(self, logits: Tensor) -> Tensor:
        """float32 class probabilities ``[B, K]`` (binary: K = 2 columns P(no crash), P(crash))."""

    @abstractmethod
    def scores(self, probs: Tensor) -> Tensor:
        """What the ranking metrics (AUROC, AP) receive: binary P(crash) ``[B]``, else ``probs``."""

    @abstractmethod
    def decide(self, probs: Tensor, threshold: float | Tensor) -> Tensor:
        """Hard int64 predictions ``[B]`` (``threshold`` is used only by tasks that tune one)."""

    @abstractmethod
    def metrics(self, with_confusion: bool) -> dict[str, Any]:
        """torchmetrics of one split: ``{"ranking": MetricCollection, "hard": MetricCollection}`` (the
        first gets :meth:`scores`, the second :meth:`decide`); ``with_confusion`` adds a confusion matrix."""

    @property
    def confusion_labels(self) -> list[str]:
        """Row / column names of the confusion matrix in logged metric names."""
        return list(self.class_names or ())

    # tasks with ``tunes_threshold`` (the module sweeps the grid on validation and keeps the best threshold)
    def threshold_grid(self) -> Tensor:
        """The decision thresholds swept on validation, float32 ``[G]``."""
        raise NotImplementedError(f"{type(self).__name__} tunes no decision threshold")

    def threshold_curve(self) -> Any:
        """The torchmetrics precision-recall curve over :meth:`threshold_grid`."""
        raise NotImplementedError(f"{type(self).__name__} tunes no decision threshold")

    @staticmethod
    def best_threshold(f1: Tensor, grid: Tensor) -> int:
        """Index of the grid threshold with the highest F1; ties go to the threshold nearest 0.5."""
        import torch

        tied = torch.nonzero(f1 >= f1.max() - 1e-9).reshape(-1)
        return int(tied[torch.argmin((grid[tied] - 0.5).abs())])

    # ------------------------------------------------------------------ tables (evaluation, outputs)
    @property
    @abstractmethod
    def prob_columns(self) -> list[str]:
        """The predictions table's probability columns (``prob_<class>``)."""

    @abstractmethod
    def column_values(self, probs: np.ndarray) -> np.ndarray:
        """The values of :attr:`prob_columns` for class probabilities ``[N, K]``: ``[N]`` or ``[N, K]``."""

    def table_values(self, logits: Tensor) -> np.ndarray:
        """Logits ``[B, num_outputs]`` -> the values of :attr:`prob_columns` (numpy, on the CPU)."""
        return self.column_values(self.probabilities(logits.detach().cpu()).numpy())

    @abstractmethod
    def crash_probability(self, values: np.ndarray) -> np.ndarray:
        """The common view of every task, P(crash) ``[N]``, from :meth:`column_values` output."""

    @abstractmethod
    def own_metrics(self, table: pd.DataFrame, threshold: float) -> dict[str, Any]:
        """The task's own metrics on a predictions table (``metrics.json`` ``own_task``)."""

    @abstractmethod
    def decisions(self, values: np.ndarray, threshold: float) -> np.ndarray:
        """Per row, the decision shown to a user (a per-frame CSV's ``alarm`` column)."""

    @property
    @abstractmethod
    def column_labels(self) -> list[str]:
        """Display names of :attr:`prob_columns` (``P(<label>)`` in figures)."""

    @abstractmethod
    def describe(self, threshold: float) -> str:
        """What the model outputs, in words, for logs."""


class BinaryCrash(Task):
    """Crash vs normal clip: one logit, BCE-with-logits, decision ``P(crash) >= threshold``.

    Args:
        pos_weight: BCE weight of the positive class (negatives / positives for imbalanced data), ``None``: 1.
        thresholds: the decision thresholds swept on validation, ``[start, stop, step]`` inclusive (the
            seed's 0.10..0.90 step 0.05); the best F1 wins, ties go to the threshold nearest 0.5.
    """

    name = "binary"
    target = "crash"
    tunes_threshold = True

    def __init__(self, pos_weight: float | None = None, thresholds: Sequence[float] = (0.10, 0.90, 0.05)) -> None:
        start, stop, step = (float(v) for v in thresholds)
        if step <= 0 or start > stop:
            raise ValueError(f"BinaryCrash thresholds={list(thresholds)} must be [start, stop, step] with step > 0")
        self.pos_weight = None if pos_weight is None else float(pos_weight)
        self.thresholds = (start, stop, step)
        self.num_outputs = 1
        self.class_names = None

    @property
    def confusion_labels(self) -> list[str]:
        return ["0", "1"]

    def threshold_grid(self) -> Tensor:
        import torch

        start, stop, step = self.thresholds
        steps = round((stop - start) / step)
        return torch.linspace(start, start + steps * step, steps + 1)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        import torch
        import torch.nn.functional as F

        weight = None if self.pos_weight is None else torch.tensor([self.pos_weight], device=logits.device)
        return F.binary_cross_entropy_with_logits(logits.reshape(-1), labels.float(), pos_weight=weight)

    def probabilities(self, logits: Tensor) -> Tensor:
        import torch

        p = torch.sigmoid(logits.reshape(-1).float())
        return torch.stack([1 - p, p], dim=1)

    def scores(self, probs: Tensor) -> Tensor:
        return probs[:, 1]

    def decide(self, probs: Tensor, threshold: float | Tensor) -> Tensor:
        return (probs[:, 1] >= threshold).long()

    def metrics(self, with_confusion: bool) -> dict[str, Any]:
        from torchmetrics import MetricCollection
        from torchmetrics.classification import (
            BinaryAccuracy,
            BinaryAUROC,
            BinaryAveragePrecision,
            BinaryConfusionMatrix,
            BinaryF1Score,
            BinaryPrecision,
            BinaryRecall,
        )

        ranking = {"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()}
        hard = {
            "acc": BinaryAccuracy(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
            "f1": BinaryF1Score(),
        }
        if with_confusion:
            hard["confmat"] = BinaryConfusionMatrix()
        return {"ranking": MetricCollection(ranking), "hard": MetricCollection(hard)}

    def threshold_curve(self) -> Any:
        from torchmetrics.classification import BinaryPrecisionRecallCurve

        return BinaryPrecisionRecallCurve(thresholds=self.threshold_grid().tolist())

    @property
    def prob_columns(self) -> list[str]:
        return ["prob_crash"]

    def column_values(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(probs)[:, 1]

    def crash_probability(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=float).reshape(-1)

    def own_metrics(self, table: pd.DataFrame, threshold: float) -> dict[str, Any]:
        return binary_metrics(table["prob_crash"].to_numpy(float), table["crash"].to_numpy(), threshold)

    def decisions(self, values: np.ndarray, threshold: float) -> np.ndarray:
        return self.crash_probability(values) >= threshold

    @property
    def column_labels(self) -> list[str]:
        return ["crash"]

    def describe(self, threshold: float) -> str:
        return f"binary P(crash), tuned threshold {threshold:.2f}"


def anticipation_loss(frame_logits: Tensor, positive: Tensor, frames: Tensor, toa: Tensor, fps: Tensor) -> Tensor:
    """The exponential anticipation loss of DSA (Chan et al., ACCV 2016, ``smallcorgi/Anticipating-Accidents``
    accident.py) and UString (Bao et al., ACM MM 2020, ``Cogito2012/UString`` ``_exp_loss``), mean over clips and
    frames.

    For frame ``t`` with crash probability ``p_t = sigmoid(logit_t)``:

    - a frame of a POSITIVE clip (a crash video) costs ``-exp(-max(0, toa - t) / fps) * log(p_t)``: frames long
      before the accident (time of accident ``toa``) are asked for a high P(crash) only softly, the weight rising to 1
      at the accident and staying 1 after it;
    - a frame of a NEGATIVE clip costs plain cross-entropy ``-log(1 - p_t)``.

    ``t`` and ``toa`` are 0-based target-frame indices (``toa`` = ``anomaly_start``); UString writes the same weight
    as ``exp(-max(0, (toa - t - 1) / fps))`` with ``t`` counting from 0 and ``toa`` from 1. One sigmoid logit stands
    for their two-way softmax (the same cross-entropy). DSA and UString sum the per-frame means over time; the mean
    over frames here is that sum / T (DSA's ``loss / n_frames``), a scale of the learning rate. A positive clip
    without an annotated accident (``toa < 0``) weights every frame 1.

    Args:
        frame_logits: ``[B, T]`` or ``[B, T, 1]`` logits, each from the frames up to it.
        positive: ``[B]`` 1 for a crash video, 0 for a normal one.
        frames: ``[B, T]`` target-frame index of every frame.
        toa: ``[B]`` target frame of the accident (``-1``: none).
        fps: ``[B]`` target frame rate, frames per second.
    """
    import torch
    import torch.nn.functional as F

    logits = frame_logits.reshape(frames.shape).float()
    frames, toa, fps = frames.to(logits.device), toa.to(logits.device), fps.to(logits.device).float()
    lead = (toa[:, None] - frames).clamp_min(0).float()  # [B, T] frames before the accident, 0 after it
    weight = torch.exp(-lead / fps[:, None])
    positive = positive.to(logits.device).bool()[:, None].expand_as(logits)
    positive_cost = weight * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    negative_cost = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    return torch.where(positive, positive_cost, negative_cost).mean()


class CrashAnticipation(BinaryCrash):
    """P(crash) at EVERY frame of a clip from a causal per-frame net (``model=causal_gru``), learned with the
    exponential anticipation loss (:func:`anticipation_loss`); probabilities, decisions, metrics and tables are
    :class:`BinaryCrash`'s, applied to each frame's score (a clip's score is its last frame's).

    A training clip must be ``T`` CONSECUTIVE target frames ending at ``end_frame`` (``model.inputs.sampler=window``;
    a window that would start before frame 0 repeats frame 0, which then counts as frame 0): frame ``i`` is target
    frame ``max(0, end_frame - T + 1 + i)``. Positive clips are those of crash videos (label ``crash`` = 1), the time of
    accident is the video's ``anomaly_start``.

    Args: as :class:`BinaryCrash` (``pos_weight`` is not used: the loss weights frames by time instead).
    """

    per_frame = True

    def __init__(self, pos_weight: float | None = None, thresholds: Sequence[float] = (0.10, 0.90, 0.05)) -> None:
        if pos_weight is not None:
            raise ValueError(
                f"CrashAnticipation pos_weight={pos_weight}: the anticipation loss has no class weight. "
                "Fix: model.task.pos_weight=null"
            )
        super().__init__(None, thresholds)

    def frame_loss(self, frame_logits: Tensor, batch: Mapping[str, Any]) -> Tensor:
        import torch

        end = batch["end_frame"].to(frame_logits.device)
        t = frame_logits.shape[1]
        frames = (end[:, None] - (t - 1) + torch.arange(t, device=end.device)).clamp_min(0)
        return anticipation_loss(frame_logits, batch[self.target], frames, batch["anomaly_start"], batch["fps"])

    def describe(self, threshold: float) -> str:
        return f"P(crash) at every frame (anticipation), tuned threshold {threshold:.2f}"


class RiskLevels(Task):
    """K ordered risk levels of a window's last frame (Normal / Warning / Danger): cross-entropy, argmax.

    Args:
        class_names: names of the K levels, the harmless one first (P(crash) = 1 - P(first)).
        class_weights: cross-entropy class weights (length K), ``None`` for uniform.
    """

    name = "multiclass"
    target = "risk"

    def __init__(
        self, class_names: Sequence[str] = ("Normal", "Warning", "Danger"), class_weights: Sequence[float] | None = None
    ) -> None:
        if len(class_names) < 2:
            raise ValueError(f"RiskLevels needs >= 2 class_names, got {list(class_names)}")
        if class_weights is not None and len(class_weights) != len(class_names):
            raise ValueError(
                f"RiskLevels class_weights={list(class_weights)} needs one weight per class {list(class_names)}"
            )
        self.class_names = tuple(str(name) for name in class_names)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.num_outputs = len(self.class_names)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        import torch
        import torch.nn.functional as F

        weight = None if self.class_weights is None else torch.tensor(self.class_weights, device=logits.device)
        return F.cross_entropy(logits, labels, weight=weight)

    def probabilities(self, logits: Tensor) -> Tensor:
        import torch

        return torch.softmax(logits.float(), dim=1)

    def scores(self, probs: Tensor) -> Tensor:
        return probs

    def decide(self, probs: Tensor, threshold: float | Tensor) -> Tensor:
        return probs.argmax(dim=1)

    def metrics(self, with_confusion: bool) -> dict[str, Any]:
        from torchmetrics import MetricCollection
        from torchmetrics.classification import (
            MulticlassAccuracy,
            MulticlassAUROC,
            MulticlassAveragePrecision,
            MulticlassConfusionMatrix,
            MulticlassF1Score,
            MulticlassPrecision,
            MulticlassRecall,
        )

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
        if with_confusion:
            hard["confmat"] = MulticlassConfusionMatrix(k)
        return {"ranking": MetricCollection(ranking), "hard": MetricCollection(hard)}

    @property
    def prob_columns(self) -> list[str]:
        return [f"prob_{name.lower()}" for name in self.class_names]

    def column_values(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(probs)

    def crash_probability(self, values: np.ndarray) -> np.ndarray:
        return 1.0 - np.asarray(values, dtype=float)[:, 0]

    def own_metrics(self, table: pd.DataFrame, threshold: float) -> dict[str, Any]:
        probs = table[self.prob_columns].to_numpy(float)
        return multiclass_metrics(probs, table["risk"].to_numpy(), self.class_names)

    def decisions(self, values: np.ndarray, threshold: float) -> np.ndarray:
        return np.asarray(self.class_names)[np.asarray(values).argmax(axis=1)]

    @property
    def column_labels(self) -> list[str]:
        return list(self.class_names)

    def describe(self, threshold: float) -> str:
        return f"{self.num_outputs} classes {list(self.class_names)}"
