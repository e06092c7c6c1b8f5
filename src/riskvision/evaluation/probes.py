"""Shortcut probes: batch transforms on ``video`` ``[B, T, C, H, W]`` that destroy temporal information.

A model that detects crashes from motion should lose accuracy when the frames of each window are
shuffled (``shuffled``: order gone, content kept) or when one frame fills the whole window
(``repeated``: no motion at all). Each transform takes a seeded ``torch.Generator`` so a probe is
reproducible; the randomness is drawn clip by clip, in order, so the draws of a clip do not depend on how the
clips are batched. The transforms index dimension 1 only: they apply alike to pixels ``[B, T, C, H, W]`` and to
per-frame features ``[B, T, D]`` (``predict.predict_table_per_frame``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["PROBE_TRANSFORMS", "repeat_one_frame", "shuffle_frames"]

ProbeTransform = Callable[[Tensor, torch.Generator], Tensor]


def shuffle_frames(video: Tensor, generator: torch.Generator) -> Tensor:
    """Each clip's frames in an independent random order (same shape)."""
    batch, frames = video.shape[:2]
    order = (
        torch.stack([torch.randperm(frames, generator=generator) for _ in range(batch)])
        if batch
        else torch.empty(0, frames, dtype=torch.int64)
    )
    return video[torch.arange(batch, device=video.device)[:, None], order.to(video.device)]


def repeat_one_frame(video: Tensor, generator: torch.Generator) -> Tensor:
    """Each clip becomes one of its frames (chosen uniformly at random) repeated ``T`` times."""
    batch, frames = video.shape[:2]
    chosen = torch.tensor(
        [int(torch.randint(0, frames, (1,), generator=generator)) for _ in range(batch)], dtype=torch.int64
    ).to(video.device)
    single = video[torch.arange(batch, device=video.device), chosen]
    return single[:, None].expand_as(video).contiguous()


def _identity(video: Tensor, generator: torch.Generator) -> Tensor:
    return video


#: ``probe`` column value -> transform.
PROBE_TRANSFORMS: dict[str, ProbeTransform] = {
    "none": _identity,
    "shuffled": shuffle_frames,
    "repeated": repeat_one_frame,
}
