"""Clip samplers: which target-rate frames of a video make one clip, and which clips an epoch holds.

A clip is identified by its video and its END frame (the anchor); :meth:`ClipSampler.frames` turns
that into ``num_frames`` target-rate indices. Training draws ``clips_per_video`` anchors per video
per epoch among :meth:`train_anchors`; validation/test use every :meth:`eval_anchors`. Training clips
may also draw their frames at random (``frames(..., random=True)``, :class:`UniformSampler`'s
``jitter``); randomness comes from torch's global RNG, which Lightning seeds in every worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch


class ClipSampler(ABC):
    """Maps (video length, anchor) to the target-rate frame indices of a clip.

    Args:
        num_frames: frames per clip (``T`` of the batch).
        clips_per_video: training clips drawn per video per epoch.
        val_windows_per_video: at most this many validation clips per video (:meth:`val_anchors`: the evaluation
            anchors thinned to an even stride); ``None``: every evaluation anchor. Test clips and ``scripts/eval.py``
            never use it.
    """

    def __init__(self, num_frames: int, clips_per_video: int = 1, val_windows_per_video: int | None = None) -> None:
        if num_frames < 1:
            raise ValueError(f"{type(self).__name__} num_frames={num_frames} must be >= 1")
        if clips_per_video < 1:
            raise ValueError(f"{type(self).__name__} clips_per_video={clips_per_video} must be >= 1")
        if val_windows_per_video is not None and val_windows_per_video < 1:
            raise ValueError(
                f"{type(self).__name__} val_windows_per_video={val_windows_per_video} must be >= 1 or "
                "null (every evaluation anchor); set model.inputs.val_windows_per_video"
            )
        self.num_frames = int(num_frames)
        self.clips_per_video = int(clips_per_video)
        self.val_windows_per_video = None if val_windows_per_video is None else int(val_windows_per_video)

    @abstractmethod
    def frames(self, video_frames: int, end: int, random: bool = False) -> list[int]:
        """``num_frames`` target indices of the clip ending at ``end`` of a ``video_frames``-long video.

        ``random=True`` (training clips) lets a sampler draw them at random; evaluation clips never do.
        """

    @abstractmethod
    def train_anchors(self, video_frames: int) -> range:
        """Candidate end frames for training clips."""

    @abstractmethod
    def eval_anchors(self, video_frames: int) -> range:
        """End frames of the validation/test clips."""

    def val_anchors(self, video_frames: int) -> range:
        """End frames of the validation clips: :meth:`eval_anchors`, every ``k``-th of them when there are more than
        ``val_windows_per_video`` (``k = ceil(count / val_windows_per_video)``, starting at the first)."""
        anchors = self.eval_anchors(video_frames)
        cap = self.val_windows_per_video
        if cap is None or len(anchors) <= cap:
            return anchors
        return anchors[:: -(-len(anchors) // cap)]

    def frames_used(self, video_frames: int, train: bool) -> list[int]:
        """Sorted target frames some training (``train``: random draws included) or evaluation clip of a
        ``video_frames``-long video can hold (what a feature cache must store)."""
        anchors = self.train_anchors(video_frames) if train else self.eval_anchors(video_frames)
        return sorted({t for end in anchors for t in self.frames(video_frames, end)})


class UniformSampler(ClipSampler):
    """``num_frames`` frames spread evenly over the whole video (seed A, 64 frames).

    A video of ``L >= num_frames`` frames gives ``floor(linspace(0, L - 1, num_frames))``; a shorter
    one gives all its frames then repeats its last frame (the seed pads, it does not stretch).
    One clip per video; its end frame is the video's last frame.

    Args:
        jitter: training clips take one random frame from each of ``num_frames`` equal segments of the
            video (TSN-style sampling, MMAction2's ``SampleFrames`` in training) instead of the same
            evenly spread frames every epoch; evaluation clips stay evenly spread. Off in the seed.
    """

    def __init__(self, num_frames: int, clips_per_video: int = 1, jitter: bool = False) -> None:
        super().__init__(num_frames, clips_per_video)
        self.jitter = bool(jitter)

    def frames(self, video_frames: int, end: int, random: bool = False) -> list[int]:
        length = end + 1
        if length < self.num_frames:
            return list(range(length)) + [end] * (self.num_frames - length)
        if random and self.jitter:
            edges = torch.linspace(0, length, self.num_frames + 1, dtype=torch.float64)
            picks = edges[:-1] + torch.rand(self.num_frames, dtype=torch.float64) * (edges[1:] - edges[:-1])
            return picks.floor().clamp(max=end).long().tolist()
        return np.linspace(0, end, self.num_frames).astype(np.int64).tolist()

    def train_anchors(self, video_frames: int) -> range:
        return range(video_frames - 1, video_frames)

    def eval_anchors(self, video_frames: int) -> range:
        return range(video_frames - 1, video_frames)

    def frames_used(self, video_frames: int, train: bool) -> list[int]:
        if train and self.jitter:
            return list(range(video_frames))
        return super().frames_used(video_frames, train)


class WindowSampler(ClipSampler):
    """``num_frames`` consecutive frames ending at the anchor (resnet3d101, 10 frames).

    A window that would start before frame 0 repeats frame 0 at its start. Training anchors are
    drawn uniformly from every frame; evaluation anchors are frames ``0, eval_step, 2 * eval_step...``.

    Args:
        eval_step: distance in target frames between evaluation anchors.
        val_windows_per_video: see :class:`ClipSampler` (``model.inputs.val_windows_per_video``).
    """

    def __init__(
        self, num_frames: int, clips_per_video: int = 1, eval_step: int = 1, val_windows_per_video: int | None = None
    ) -> None:
        super().__init__(num_frames, clips_per_video, val_windows_per_video)
        if eval_step < 1:
            raise ValueError(f"WindowSampler eval_step={eval_step} must be >= 1")
        self.eval_step = int(eval_step)

    def frames(self, video_frames: int, end: int, random: bool = False) -> list[int]:
        return [max(0, end - self.num_frames + 1 + k) for k in range(self.num_frames)]

    def train_anchors(self, video_frames: int) -> range:
        return range(video_frames)

    def eval_anchors(self, video_frames: int) -> range:
        return range(0, video_frames, self.eval_step)

    def frames_used(self, video_frames: int, train: bool) -> list[int]:
        anchors = np.asarray(self.train_anchors(video_frames) if train else self.eval_anchors(video_frames))
        frames = anchors[:, None] - self.num_frames + 1 + np.arange(self.num_frames)
        return np.unique(frames.clip(min=0)).tolist()
