"""Clip transforms: augmentation drawn once per clip, and normalisation presets.

Public API (used by :mod:`riskvision.data.dataset` and ``conf/data/augment/*.yaml``)::

    augment = ClipAugment([v2.RandomResizedCrop(224), v2.RandomHorizontalFlip()])
    clip = augment(clip)                       # uint8 [T, 3, H, W] -> uint8 [T, 3, H', W']
    video = Normalize("imagenet")(clip)        # uint8 [T, 3, H, W] -> float32 [T, 3, H, W]
    NORMALIZATION_PRESETS["kinetics"]          # (scale, mean, std)
    MultiScaleCornerCrop(224)                  # Hara et al.'s crop, a torchvision v2 transform

Order of the pipeline: reader (uint8, resized) -> ClipAugment (uint8) -> Normalize (float32).
Every augmentation runs on uint8, so AutoAugment (uint8 only) and RandomErasing (any dtype in
torchvision v2) sit in one list in the seed's order. ``conf/data/augment/seed.yaml`` erases with the
ImageNet mean in uint8 (124, 116, 104), which is exactly v1 ``RandomErasing(value=0)`` placed AFTER
``Normalize`` (the usual recipe); ``value: 0`` would be erasing to black before normalisation.

One draw per clip: torchvision v2 draws a transform's parameters once per call and applies them to
the whole ``tv_tensors.Video`` (all T frames), including AutoAugment (one policy, one magnitude) and
RandomErasing (one rectangle); ``tests/data/test_transforms.py`` checks every transform of the seed
list. ``per_frame=True`` calls the transforms frame by frame (independent draws, as the seed did).

Speed: in a process with one intra-op thread (a DataLoader worker: where clips are augmented in training and in the
feature cache's extraction), a clip of frame-wise transforms (:data:`FRAMEWISE_TRANSFORMS`: their draws depend on the
frame size only and each output frame on its own input frame) is transformed ``chunk_frames`` (4) frames at a time,
the random state replayed for every chunk: the same draws, bitwise the same pixels and the same random state
afterwards as one call on the whole clip, ~2.5x less CPU for the seed list on 64 frames of 224x224 (a chunk's float
temporaries stay in the cache instead of streaming ~40 MB arrays through memory at every step of ColorJitter and
GaussianBlur). With several threads the clip is transformed in one call: 16x more, smaller parallel regions cost
more than they save on a loaded machine (3x the CPU with 2 threads at load 17).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2._utils import query_size

NORMALIZATION_PRESETS: dict[str, tuple[float, tuple[float, float, float], tuple[float, float, float]]] = {
    # name: (scale applied to uint8 values, per-channel mean, per-channel std) in RGB order
    "imagenet": (1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # Kinetics mean/std of the 2020 3D-ResNet checkpoints (inputs in 0-1)
    "kinetics": (1 / 255, (0.4345, 0.4051, 0.3775), (0.2768, 0.2713, 0.2737)),
    # 2017-18 3D-ResNet checkpoints: 0-255 inputs minus the ActivityNet mean, std 1
    "activitynet": (1.0, (114.7748, 107.7354, 99.4750), (1.0, 1.0, 1.0)),
    # torchvision's Kinetics-400 video weights: r3d_18, mc3_18, r2plus1d_18, s3d (their transforms' mean/std)
    "kinetics-torchvision": (1 / 255, (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    # torchvision's Kinetics-400 MViT weights (mvit_v1_b, mvit_v2_s; ported from PySlowFast)
    "kinetics-mvit": (1 / 255, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
}


class Normalize:
    """uint8 ``[..., 3, H, W]`` -> float32 ``(x * scale - mean) / std`` with a named preset.

    Args:
        preset: a key of :data:`NORMALIZATION_PRESETS`.
    """

    def __init__(self, preset: str) -> None:
        if preset not in NORMALIZATION_PRESETS:
            raise ValueError(f"unknown normalization preset {preset!r}; choose one of {sorted(NORMALIZATION_PRESETS)}")
        self.preset = preset
        scale, mean, std = NORMALIZATION_PRESETS[preset]
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)
        # x * (scale / std) - mean / std, one Python float per channel
        self._gain = (scale / self.std).tolist()
        self._bias = (-self.mean / self.std).tolist()

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        if video.dtype != torch.uint8 or video.ndim < 3 or video.shape[-3] != 3:
            raise TypeError(
                f"Normalize({self.preset!r}) expects uint8 [..., 3, H, W], got {video.dtype} "
                f"{tuple(video.shape)}; normalise after the reader and ClipAugment, not before."
            )
        out = video.to(torch.float32)
        for channel, (gain, bias) in enumerate(zip(self._gain, self._bias)):
            # in place with scalars: ~1.5x faster than one broadcast [3, 1, 1] multiply-add
            out[..., channel, :, :].mul_(gain).add_(bias)
        return out

    def __repr__(self) -> str:
        return f"Normalize(preset={self.preset!r})"


class ClipAugment:
    """Augmentation of a uint8 clip with one parameter draw per clip (or per frame).

    Args:
        transforms: torchvision v2 transforms applied in order (empty: identity).
        per_frame: draw parameters independently for every frame (the seed's behaviour).
        chunk_frames: frames transformed at a time when every transform is frame-wise (module docstring); the
            output does not depend on it.

    Call: uint8 ``[T, 3, H, W]`` -> uint8 ``[T, 3, H', W']`` (a plain tensor).
    """

    def __init__(self, transforms: Sequence[v2.Transform] = (), per_frame: bool = False, chunk_frames: int = 4) -> None:
        self.transforms = list(transforms)
        self.per_frame = per_frame
        self.chunk_frames = max(1, int(chunk_frames))
        self._compose = v2.Compose(self.transforms) if self.transforms else None
        self._framewise = all(type(transform) in FRAMEWISE_TRANSFORMS for transform in self.transforms)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if clip.dtype != torch.uint8 or clip.ndim != 4 or clip.shape[1] != 3:
            raise TypeError(f"ClipAugment expects uint8 [T, 3, H, W], got {clip.dtype} {tuple(clip.shape)}")
        if self._compose is None:
            return clip
        if self.per_frame:
            return torch.stack([self._compose(tv_tensors.Image(frame)).as_subclass(torch.Tensor) for frame in clip])
        if not self._framewise or len(clip) <= self.chunk_frames or torch.get_num_threads() > 1:
            return self._compose(tv_tensors.Video(clip)).as_subclass(torch.Tensor)
        return self._in_chunks(clip)

    def _in_chunks(self, clip: torch.Tensor) -> torch.Tensor:
        """The whole clip's result, ``chunk_frames`` frames at a time: every chunk starts from the random state the
        clip started from, so it draws the clip's parameters (they depend on the frame size only)."""
        state = torch.random.get_rng_state()
        out = None
        for start in range(0, len(clip), self.chunk_frames):
            torch.random.set_rng_state(state)
            chunk = self._compose(tv_tensors.Video(clip[start : start + self.chunk_frames])).as_subclass(torch.Tensor)
            if out is None:
                out = torch.empty((len(clip), *chunk.shape[1:]), dtype=chunk.dtype)
            out[start : start + len(chunk)] = chunk
        return out

    @property
    def is_identity(self) -> bool:
        """No transform: clips pass unchanged."""
        return not self.transforms

    def __repr__(self) -> str:
        return f"ClipAugment(per_frame={self.per_frame}, transforms={self.transforms})"


HARA_SCALES = (1.0, 2**-0.25, 2**-0.5, 2**-0.75, 0.5)
"""Scales of Hara et al.'s MultiScaleCornerCrop (train.py of 3D-ResNets-PyTorch, ``n_scales=5``)."""


class MultiScaleCornerCrop(v2.Transform):
    """Hara et al.'s multi-scale corner crop as a torchvision v2 transform.

    Draws one scale ``s`` from ``scales`` and one position from ``crop_positions`` (``c`` centre,
    ``tl``/``tr``/``bl``/``br`` corners), crops a square of side ``int(min(H, W) * s)`` there and
    resizes it (bilinear, antialiased) to ``size``. On a ``tv_tensors.Video`` one draw covers all
    frames, as Hara's ``randomize_parameters`` once per clip.

    Args:
        size: output side in pixels, or ``(H, W)``.
        scales: crop side as a fraction of the shorter image side.
        crop_positions: positions to draw from.
    """

    _POSITIONS = ("c", "tl", "tr", "bl", "br")

    def __init__(
        self,
        size: int | Sequence[int],
        scales: Sequence[float] = HARA_SCALES,
        crop_positions: Sequence[str] = _POSITIONS,
    ) -> None:
        super().__init__()
        self.size = [int(size), int(size)] if isinstance(size, int) else [int(s) for s in size]
        self.scales = [float(s) for s in scales]
        self.crop_positions = list(crop_positions)
        unknown = sorted(set(self.crop_positions) - set(self._POSITIONS))
        if unknown or not self.crop_positions or not all(0 < s <= 1 for s in self.scales) or not self.scales:
            raise ValueError(
                f"MultiScaleCornerCrop needs scales in (0, 1] (got {self.scales}) and positions from "
                f"{list(self._POSITIONS)} (unknown: {unknown})"
            )

    def make_params(self, flat_inputs: list) -> dict:
        height, width = query_size(flat_inputs)
        scale = self.scales[int(torch.randint(len(self.scales), ()))]
        position = self.crop_positions[int(torch.randint(len(self.crop_positions), ()))]
        side = max(1, int(min(height, width) * scale))
        top = {"t": 0, "b": height - side}.get(position[0], (height - side) // 2)
        left = {"l": 0, "r": width - side}.get(position[-1], (width - side) // 2)
        return {"top": top, "left": left, "height": side, "width": side}

    def transform(self, inpt, params: dict):
        return self._call_kernel(TF.resized_crop, inpt, **params, size=self.size, antialias=True)


FRAMEWISE_TRANSFORMS: frozenset[type] = frozenset(
    {
        v2.AutoAugment,
        v2.CenterCrop,
        v2.ColorJitter,
        v2.GaussianBlur,
        v2.Grayscale,
        v2.RandAugment,
        v2.RandomAffine,
        v2.RandomCrop,
        v2.RandomErasing,
        v2.RandomGrayscale,
        v2.RandomHorizontalFlip,
        v2.RandomPerspective,
        v2.RandomResizedCrop,
        v2.RandomRotation,
        v2.RandomVerticalFlip,
        v2.Resize,
        v2.TrivialAugmentWide,
        MultiScaleCornerCrop,
    }
)
"""Transforms (exact types, not subclasses) whose random draws depend on the frame size only, never on the number of
frames or their pixels, and whose output frame ``t`` depends on input frame ``t`` only: :class:`ClipAugment`
transforms a clip of them in chunks of frames (``tests/data/test_transforms.py`` checks each against one call)."""
