"""What the streaming engine (:mod:`.stream`) runs a model with: the :class:`Backend` protocol and
:class:`TorchBackend`, a loaded model's own net (:class:`~riskvision.inference.loaded.LoadedModel`, e.g. a
:class:`~riskvision.inference.predictor.Predictor`).

A backend takes NORMALISED float tensors (``riskvision.data.transforms.Normalize`` output, on the CPU or on
its device: it moves them where it runs) and returns logits; everything before (timestamps, resizing,
normalisation, windows) and after (probabilities, smoothing, alarms) belongs to the engine. Another backend
(onnxruntime, ...) implements the same four members; nothing else is asked of it. A backend that can carry a causal
net's recurrent state (``recurrent``, :meth:`TorchBackend.step`) also has ``step``; one without ``recurrent`` has none.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from riskvision.inference.loaded import LoadedModel
from riskvision.models import FrameFeatureNet

__all__ = ["PRECISIONS", "Backend", "TorchBackend"]

#: What the torch backend runs the net in: ``fp32`` (as trained) or ``bf16`` (autocast).
PRECISIONS = ("fp32", "bf16")


@runtime_checkable
class Backend(Protocol):
    """A net as the streaming engine calls it.

    Attributes:
        per_frame: the net is a per-frame network followed by a sequence model
            (``riskvision.models.FrameFeatureNet``, the bilstm): the engine calls :meth:`features` once per
            frame and :meth:`sequence` once per window. ``False``: it calls :meth:`window` once per window.
        recurrent (optional, ``False`` when absent): the net's task scores every frame (``Task.per_frame``) with a
            causal head: the engine calls :meth:`features` and then ``step(features [1, D], state) -> (logits [1, K],
            state)`` once per frame, carrying the state; no windows.
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
    """A loaded model's net (``model.module.net``) in eval mode, without autograd, on ``model.device``.

    ``per_frame`` is ``model.cache_features``: True for a ``FrameFeatureNet`` unless the model was
    loaded with ``cache_features=False`` (then every window runs the whole net).
    Outputs stay on the model's device; logits are float32 whatever the precision.

    Args:
        model: the loaded checkpoint (a ``LoadedModel``: a ``Predictor`` is one).
        precision: ``"fp32"`` (the default: the net as trained) or ``"bf16"``: the net runs under
            ``torch.autocast(device type, dtype=torch.bfloat16)``, except a ``FrameFeatureNet``'s sequence
            head, which stays fp32 (oneDNN has no bf16 LSTM on CPUs without bf16 instructions, and the head
            is a small part of the work). ``scripts/benchmark_inference.py`` measures the speed and the
            P(crash) difference on a given machine.
        channels_last: run the 2D convolutions on channels-last memory (a COPY of the net converted with
            ``to(memory_format=torch.channels_last)``; the model's own net is left as it is). Same numbers
            up to float rounding; faster on some CPUs. For the 2D backbone (the bilstm) only: a 3D net is
            left in its own layout.
        threads: torch's intra-op threads while the net runs (``torch.set_num_threads`` around each call, the
            caller's setting restored after it: the same meaning as onnxruntime's ``intra_op_threads``); ``None``:
            torch's current setting.
    """

    PRECISIONS = PRECISIONS

    def __init__(
        self, model: LoadedModel, precision: str = "fp32", channels_last: bool = False, threads: int | None = None
    ) -> None:
        if precision not in self.PRECISIONS:
            raise ValueError(f"precision={precision!r} is not one of {list(self.PRECISIONS)}")
        if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
            raise ValueError(f"threads={threads!r} must be a whole number >= 1 (or None: torch's setting)")
        net = model.module.net.eval()
        if channels_last and isinstance(net, FrameFeatureNet):
            net = copy.deepcopy(net).to(memory_format=torch.channels_last)
        self.net = net
        self.device = model.device
        self.precision = precision
        self.channels_last = bool(channels_last) and isinstance(net, FrameFeatureNet)
        self.per_frame = bool(model.cache_features and isinstance(self.net, FrameFeatureNet))
        self.recurrent = bool(self.per_frame and model.spec.task.per_frame and getattr(self.net, "causal", False))
        self.threads = None if threads is None else int(threads)

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on the backend's device type when ``precision == "bf16"``, else nothing."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """torch's intra-op threads at :attr:`threads` for one call (changed only when they differ)."""
        before = torch.get_num_threads()
        if self.threads is None or self.threads == before:
            yield
            return
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @torch.no_grad()
    def features(self, frames: Tensor) -> Tensor:
        """``frames`` float ``[N, 3, H, W]`` -> ``[N, D]`` (``FrameFeatureNet.forward_features`` of one clip)."""
        if not self.per_frame:
            raise TypeError(f"{type(self.net).__name__} has no per-frame part (per_frame=False); use window()")
        with self._threads(), self._autocast():
            return self.net.forward_features(frames.to(self.device)[None])[0].float()

    @torch.no_grad()
    def sequence(self, features: Tensor) -> Tensor:
        """``features`` ``[B, T, D]`` -> logits ``[B, K]`` (``FrameFeatureNet.forward_sequence``)."""
        if not self.per_frame:
            raise TypeError(f"{type(self.net).__name__} has no sequence part (per_frame=False); use window()")
        with self._threads():
            return self.net.forward_sequence(features.to(self.device).float()).float()

    @torch.no_grad()
    def step(self, features: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """A causal net one frame on (``recurrent``): ``features [B, D]`` and the state after the previous frame
        (``None`` before the first) -> logits ``[B, K]`` and the next state (``FrameNet.step``), in fp32."""
        if not self.recurrent:
            raise TypeError(
                f"{type(self.net).__name__} carries no recurrent state here (recurrent=False); "
                "use sequence() or window()"
            )
        with self._threads():
            logits, state = self.net.step(features.to(self.device).float(), state)
        return logits.float(), state

    @torch.no_grad()
    def window(self, video: Tensor) -> Tensor:
        """``video`` float ``[B, T, 3, H, W]`` -> logits ``[B, K]`` (the whole net)."""
        with self._threads():
            if isinstance(self.net, FrameFeatureNet):  # the sequence head in fp32 (see ``precision``)
                with self._autocast():
                    features = self.net.forward_features(video.to(self.device))
                return self.net.forward_sequence(features.float()).float()
            with self._autocast():
                return self.net(video.to(self.device)).float()
