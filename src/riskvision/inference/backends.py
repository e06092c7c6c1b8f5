"""What the streaming engine (:mod:`.stream`) runs a model with: the :class:`Backend` protocol and
:class:`TorchBackend`, a :class:`~riskvision.inference.predictor.Predictor`'s own net.

A backend takes NORMALISED float tensors (``riskvision.data.transforms.Normalize`` output, on the CPU or on
its device: it moves them where it runs) and returns logits; everything before (timestamps, resizing,
normalisation, windows) and after (probabilities, smoothing, alarms) belongs to the engine. Another backend
(onnxruntime, ...) implements the same four members; nothing else is asked of it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from riskvision.inference.predictor import Predictor
from riskvision.models import FrameFeatureNet

__all__ = ["Backend", "TorchBackend"]


@runtime_checkable
class Backend(Protocol):
    """A net as the streaming engine calls it.

    Attributes:
        per_frame: the net is a per-frame network followed by a sequence model
            (``riskvision.models.FrameFeatureNet``, the bilstm): the engine calls :meth:`features` once per
            frame and :meth:`sequence` once per window. ``False``: it calls :meth:`window` once per window.
    """

    per_frame: bool

    def features(self, frames: Tensor) -> Tensor:
        """Per-frame features of ``frames`` float ``[N, 3, H, W]`` -> ``[N, D]`` (only when ``per_frame``)."""
        ...

    def sequence(self, features: Tensor) -> Tensor:
        """Logits ``[B, K]`` of windows of per-frame features ``[B, T, D]`` (only when ``per_frame``)."""
        ...

    def window(self, video: Tensor) -> Tensor:
        """Logits ``[B, K]`` of windows of frames float ``[B, T, 3, H, W]`` (any net)."""
        ...


class TorchBackend:
    """A predictor's net (``predictor.module.net``) in eval mode, without autograd, on ``predictor.device``.

    ``per_frame`` is ``predictor.cache_features``: True for a ``FrameFeatureNet`` unless the predictor was
    built with ``cache_features=False`` (then every window runs the whole net, as ``score_windows`` does).
    Outputs stay on the predictor's device.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.net = predictor.module.net.eval()
        self.device = predictor.device
        self.per_frame = bool(predictor.cache_features and isinstance(self.net, FrameFeatureNet))

    @torch.no_grad()
    def features(self, frames: Tensor) -> Tensor:
        """``frames`` float ``[N, 3, H, W]`` -> ``[N, D]`` (``FrameFeatureNet.forward_features`` of one clip)."""
        if not self.per_frame:
            raise TypeError(f"{type(self.net).__name__} has no per-frame part (per_frame=False); use window()")
        return self.net.forward_features(frames.to(self.device)[None])[0]

    @torch.no_grad()
    def sequence(self, features: Tensor) -> Tensor:
        """``features`` ``[B, T, D]`` -> logits ``[B, K]`` (``FrameFeatureNet.forward_sequence``)."""
        if not self.per_frame:
            raise TypeError(f"{type(self.net).__name__} has no sequence part (per_frame=False); use window()")
        return self.net.forward_sequence(features.to(self.device))

    @torch.no_grad()
    def window(self, video: Tensor) -> Tensor:
        """``video`` float ``[B, T, 3, H, W]`` -> logits ``[B, K]`` (the whole net)."""
        return self.net(video.to(self.device))
