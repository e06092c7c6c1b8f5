"""The datamodule's typed settings: how clip frames are read (:class:`FrameConfig`, ``data.frames``) and how batches
are drawn (:class:`LoaderConfig`, ``data.loader``). Hydra fills each from its yaml node (``_target_``); both are
frozen, checked when built, and hold plain values (a stored run config rebuilds them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["FrameConfig", "LoaderConfig", "frame_size"]


def frame_size(value: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``H`` or ``(H, W)`` pixels as ``(H, W)``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    height, width = value
    return (int(height), int(width))


@dataclass(frozen=True)
class FrameConfig:
    """How the frames of every clip are timed, read, sized and normalised (``data.frames``).

    Args:
        target_fps: the one frame rate (frames per second) every source is resampled to.
        size: clip frame size in pixels, ``H`` or ``(H, W)`` (``${model.inputs.frame_size}``); stored as ``(H, W)``.
        train_read_size: ``(H, W)`` pixels training frames are read at, before the augmentation crops them to
            ``size``; ``None``: ``size``.
        normalization: preset name (``imagenet``, ``kinetics``, ``activitynet``); train.py resolves it from the
            pretrained weights before building anything (``${model.inputs.normalization}``).
        reader_factory: ``(record, size) -> FrameReader`` decoding frames (``riskvision.data.readers.reader_for``
            as a partial); ``None``: ``reader_for`` with its defaults.
    """

    target_fps: float = 10.0
    size: int | Sequence[int] = (224, 224)
    train_read_size: int | Sequence[int] | None = None
    normalization: str = "imagenet"
    reader_factory: Callable | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.target_fps > 0:
            raise ValueError(f"data.frames.target_fps={self.target_fps!r} must be a positive frame rate")
        object.__setattr__(self, "target_fps", float(self.target_fps))
        object.__setattr__(self, "size", frame_size(self.size))
        object.__setattr__(self, "train_read_size", frame_size(self.train_read_size) or self.size)


@dataclass(frozen=True)
class LoaderConfig:
    """How batches are drawn (``data.loader``; the ``torch.utils.data.DataLoader`` settings of every split).

    Args:
        batch_size: training clips per batch (``${model.inputs.batch_size}``).
        eval_batch_size: validation / test / scoring clips per batch; ``None``: ``batch_size``.
        num_workers: loader worker processes (0: load in the main process).
        pin_memory: page-locked batches (faster host-to-GPU copies).
        persistent_workers: keep the workers between epochs (only with ``num_workers > 0``).
        balanced: draw training clips class-balanced by ``data.target`` (with replacement), instead of every clip
            once per epoch.
    """

    batch_size: int = 8
    eval_batch_size: int | None = None
    num_workers: int = 0
    pin_memory: bool = False
    persistent_workers: bool = True
    balanced: bool = False

    def __post_init__(self) -> None:
        for key in ("batch_size", "eval_batch_size"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"data.loader.{key}={value!r} must be a positive integer")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"data.loader.num_workers={self.num_workers!r} must be an integer >= 0")
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)
