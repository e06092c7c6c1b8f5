"""Multi-view testing: each scored clip seen as ``temporal x spatial`` views whose class probabilities are averaged.

What the field does (and what riskvision follows):

* PySlowFast (``TEST.NUM_ENSEMBLE_VIEWS`` x ``TEST.NUM_SPATIAL_CROPS``, e.g. 10 x 3 for Kinetics): the test set
  holds every video ``views x crops`` times; temporal view ``i`` of ``K`` is the clip starting at frame
  ``delta * i / K``, ``delta = max(L - clip span, 0)`` (``decoder.get_start_end_idx``; ``i * floor(delta / (K - 1))``
  with ``DATA.USE_OFFSET_SAMPLING``): clips uniformly spaced over the video; spatial crop ``j`` of 3 is, after the
  frame's SHORT side is resized to the crop size (aspect ratio kept), the crop at the start / centre / end of the
  LONG side (left / centre / right of a landscape frame, top / centre / bottom of a portrait one; the centre offset
  is ``ceil((long - size) / 2)``). The softmax scores of a video's views are summed.
* MMAction2: ``SampleFrames(num_clips=K, test_mode=True)`` (K clips at fixed, evenly spread offsets) and
  ``ThreeCrop`` / ``TenCrop`` in the test pipeline; the recognizer averages the views' scores
  (``average_clips='prob'``: softmax, then the mean).

riskvision's views (``EvalSettings.views = "TxS"``, default ``"1x1"``):

* Spatial ``S`` in {1, 3}. ``1``: the frames as the datamodule reads them (resized to the model's frame size, what
  the model was trained on); ``3``: frames read at their native size, resized so that they cover the model's frame
  size with their aspect ratio kept (the short side equals the model's) and cropped at the start / centre / end of
  the long side, as PySlowFast's ``uniform_crop`` (a frame of the model's own aspect ratio gives three equal crops).
  MMAction2's ten crops (five crops and their flips) are not offered.
* Temporal ``T``: only a clip that spreads its frames over the whole video has other temporal positions to look at,
  i.e. ``scoring=clips`` with the ``uniform`` sampler (the bilstm's 64 frames spread over the video, frames
  ``floor(linspace(0, end, n))``). View ``i`` of ``T`` shifts every frame by ``i / T`` of the stride between
  sampled frames (clamped at the last frame): the ``T`` views interleave, as MMAction2's ``num_clips`` test clips
  do, and view 0 is the clip scored today. A sliding window (``scoring=sliding``, or the ``window`` sampler's
  clips) is ONE temporal position by definition: another window would be another anchor, so ``T > 1`` is refused
  there (the alarm policy's smoothing is the tool for combining neighbouring windows). Sliding scoring of a
  per-frame net keeps its per-frame reuse in every crop (each crop of a video read once, the backbone once per frame;
  the causal per-frame model: one pass per video and crop).
* The views' class probabilities (softmax, the predictions table's ``prob_*`` columns, the shortcut probes
  included) are AVERAGED (MMAction2's ``average_clips='prob'``; PySlowFast sums them, which ranks alike);
  ``p_crash`` is recomputed from the averages. ``metrics.json`` records the views (``run.views``).

``1x1`` reads the very clips of today's scoring (:func:`riskvision.evaluation.runner.score_split` then keeps its
default path, per-frame reuse included); :func:`predict_views` at ``1x1`` gives the same table bit for bit
(``tests/evaluation/test_eval_views.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from riskvision.data.dataset import ClipDataset, ClipIndex, VideoWindowsDataset
from riskvision.data.readers import resize_frames
from riskvision.data.sampling import ClipSampler, UniformSampler, WindowSampler
from riskvision.errors import ConfigError
from riskvision.evaluation.predict import predict_table, predict_table_per_frame
from riskvision.progress import ProgressLine
from riskvision.tasks import Task

__all__ = [
    "SPATIAL_CROPS",
    "ShortSideCrop",
    "UniformTemporalView",
    "Views",
    "average_views",
    "check_views",
    "predict_views",
    "video_view_loaders",
    "view_loaders",
]

SPATIAL_CROPS = (1, 3)


@dataclass(frozen=True)
class Views:
    """``temporal`` clips x ``spatial`` crops per scored clip (``"3x1"``: 3 clips, 1 crop)."""

    temporal: int = 1
    spatial: int = 1

    @classmethod
    def parse(cls, text: str | Sequence[int]) -> Views:
        """``"TxS"`` (or ``[T, S]``) -> :class:`Views`; a bad value raises one ``ConfigError`` naming the fix."""
        if isinstance(text, str):
            match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
            numbers = match.groups() if match else None
        else:
            numbers = list(text) if isinstance(text, Iterable) else None
        try:
            views = cls(*(int(n) for n in numbers)) if numbers is not None and len(numbers) == 2 else None
        except (TypeError, ValueError):
            views = None
        if views is None or views.temporal < 1 or views.spatial not in SPATIAL_CROPS:
            raise ConfigError(
                f"settings.views={text!r} is not TEMPORALxSPATIAL with TEMPORAL >= 1 and SPATIAL in "
                f"{list(SPATIAL_CROPS)}. Fix: e.g. settings.views=1x1 (default), 3x1, 1x3 or 3x3"
            )
        return views

    @property
    def single(self) -> bool:
        """One view: today's scoring."""
        return self.temporal == 1 and self.spatial == 1

    def __str__(self) -> str:
        return f"{self.temporal}x{self.spatial}"

    def to_dict(self) -> dict[str, Any]:
        """What ``metrics.json`` records (``run.views``)."""
        return {"views": str(self), "temporal": self.temporal, "spatial": self.spatial, "average": "probabilities"}


class ShortSideCrop:
    """Spatial crop ``index`` of ``count`` (1 or 3): uint8 ``[T, 3, h, w]`` -> uint8 ``[T, 3, H, W]``.

    The frames are resized (antialiased bilinear, the readers' filter) by ``max(H / h, W / w)``, keeping their aspect
    ratio, so that they cover ``(H, W)`` (the long side rounded; PySlowFast truncates it); the crop sits at the
    start / centre / end of the axis with room to spare
    (PySlowFast's ``uniform_crop``: offsets ``0``, ``ceil(room / 2)``, ``room``); ``count=1``: the centre.
    """

    def __init__(self, frame_size: tuple[int, int], index: int, count: int) -> None:
        if count not in SPATIAL_CROPS or not 0 <= index < count:
            raise ValueError(f"ShortSideCrop index={index} count={count}: count must be one of {list(SPATIAL_CROPS)}")
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.position = 1 if count == 1 else index  # 0 start, 1 centre, 2 end

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        (height, width), (h, w) = self.frame_size, clip.shape[-2:]
        scale = max(height / h, width / w)
        resized = resize_frames(clip, (max(height, round(h * scale)), max(width, round(w * scale))))
        room_y, room_x = resized.shape[-2] - height, resized.shape[-1] - width
        along_x = room_x >= room_y
        offset = [0, math.ceil((room_x if along_x else room_y) / 2), room_x if along_x else room_y][self.position]
        top, left = (math.ceil(room_y / 2), offset) if along_x else (offset, math.ceil(room_x / 2))
        return resized[..., top : top + height, left : left + width].contiguous()

    def __repr__(self) -> str:
        return f"ShortSideCrop(frame_size={self.frame_size}, position={['start', 'centre', 'end'][self.position]})"


class UniformTemporalView(ClipSampler):
    """Temporal view ``index`` of ``count`` of a :class:`UniformSampler`: its evenly spread frames, each shifted by
    ``index / count`` of the stride between them (``end / (n - 1)``; ``end + 1`` for one frame), clamped at ``end``.
    View 0 is the sampler's own clip; a video shorter than the clip (padded) has one view only. Anchors: the
    sampler's."""

    def __init__(self, base: UniformSampler, index: int, count: int) -> None:
        super().__init__(base.num_frames, base.clips_per_video)
        self.base, self.index, self.count = base, int(index), int(count)

    def frames(self, video_frames: int, end: int, random: bool = False) -> list[int]:
        frames = self.base.frames(video_frames, end)
        n = self.num_frames
        if self.index == 0 or end + 1 < n:
            return frames
        stride = end / (n - 1) if n > 1 else end + 1
        shifted = np.floor(np.linspace(0, end, n) + stride * self.index / self.count)
        return np.minimum(shifted, end).astype(np.int64).tolist()

    def train_anchors(self, video_frames: int) -> range:
        return self.base.train_anchors(video_frames)

    def eval_anchors(self, video_frames: int) -> range:
        return self.base.eval_anchors(video_frames)

    def val_anchors(self, video_frames: int) -> range:
        return self.base.val_anchors(video_frames)


def check_views(views: Views, scoring: str, sampler: ClipSampler) -> None:
    """Refuse views that do not exist for this scoring (one ``ConfigError`` naming the fix: scripts print its line)."""
    if views.temporal > 1 and (scoring == "sliding" or not isinstance(sampler, UniformSampler)):
        what = "scoring=sliding" if scoring == "sliding" else f"the {type(sampler).__name__}'s clips"
        raise ConfigError(
            f"settings.views={views}: {what} score windows of consecutive frames ending at an anchor, "
            "one temporal position each (another window is another anchor). Fix: settings.views="
            f"1x{views.spatial}, or temporal views with settings.scoring=clips and the uniform sampler"
        )


def view_loaders(datamodule: Any, split: str, sampler: ClipSampler, views: Views) -> list[DataLoader]:
    """One evaluation DataLoader per view of ``split``'s clips of ``sampler`` (after ``datamodule.setup``), temporal
    views outer, spatial crops inner. Spatial ``1`` reads as the datamodule does (frames resized to its
    ``frame_size``); ``3`` reads native frames and crops them (:class:`ShortSideCrop`)."""
    videos = datamodule.videos[split]
    loaders = []
    for t in range(views.temporal):
        view = UniformTemporalView(sampler, t, views.temporal) if isinstance(sampler, UniformSampler) else sampler
        anchors = view.val_anchors if split == "val" else view.eval_anchors
        for s in range(views.spatial):
            crop = None if views.spatial == 1 else ShortSideCrop(datamodule.frame_size, s, views.spatial)
            dataset = ClipDataset(
                videos,
                ClipIndex(videos, anchors),
                view,
                datamodule.labels,
                datamodule.normalizer,
                datamodule.frame_size if crop is None else None,
                datamodule.frame_size,
                augment=crop,
                reader_factory=datamodule.reader_factory,
            )
            loaders.append(
                DataLoader(
                    dataset,
                    batch_size=datamodule.eval_batch_size,
                    shuffle=False,
                    num_workers=datamodule.num_workers,
                    pin_memory=datamodule.pin_memory,
                )
            )
    return loaders


def average_views(tables: Sequence[pd.DataFrame], task: Task) -> pd.DataFrame:
    """The first table with its ``prob_*`` columns replaced by their mean over ``tables`` (same rows, same order:
    checked) and ``p_crash`` recomputed from them."""
    first = tables[0]
    keys = ["video_id", "end_frame", "probe"]
    for k, table in enumerate(tables[1:], start=1):
        if len(table) != len(first) or not table[keys].equals(first[keys]):
            raise RuntimeError(
                f"view {k} scored other windows than view 0 ({len(table)} vs {len(first)} rows); "
                "a video became unreadable between views"
            )
    columns = task.prob_columns
    values = np.mean(np.stack([table[columns].to_numpy(dtype=float) for table in tables]), axis=0)
    out = first.copy()
    out[columns] = values
    out["p_crash"] = task.crash_probability(values[:, 0] if len(columns) == 1 else values)
    return out


def video_view_loaders(datamodule: Any, split: str, sampler: WindowSampler, views: Views) -> list[DataLoader]:
    """:func:`view_loaders` for per-frame scoring (sliding windows of a ``FrameFeatureNet`` or a causal per-frame
    net): one per spatial crop, one item per video (``VideoWindowsDataset``, its frames read once and cropped)."""
    videos = datamodule.videos[split]
    return [
        DataLoader(
            VideoWindowsDataset(
                videos,
                sampler,
                datamodule.labels,
                datamodule.frame_size,
                datamodule.reader_factory,
                None if views.spatial == 1 else ShortSideCrop(datamodule.frame_size, s, views.spatial),
            ),
            batch_size=None,
            shuffle=False,
            num_workers=datamodule.num_workers,
            pin_memory=datamodule.pin_memory,
        )
        for s in range(views.spatial)
    ]


def predict_views(
    module: Any,
    datamodule: Any,
    settings: Any,
    sampler: ClipSampler,
    views: Views,
    per_frame: bool = False,
    every_frame: bool = False,
) -> pd.DataFrame:
    """The predictions table of ``settings.split`` (``EvalSettings``) with each clip of ``sampler`` scored as
    ``views`` by ``module`` and the views' probabilities averaged (:func:`average_views`); the same probe draws in
    every view. ``per_frame`` (sliding windows of a per-frame net, one temporal view): each crop of a video read once,
    the backbone once per frame (``predict_table_per_frame``; ``every_frame``: one causal pass per video); else
    window by window (``predict_table`` on :func:`view_loaders`)."""
    if per_frame:
        if views.temporal != 1 or not isinstance(sampler, WindowSampler):
            raise ValueError(f"per-frame scoring has spatial views only (got {views} over {type(sampler).__name__})")
        loaders = video_view_loaders(datamodule, settings.split, sampler, views)
    else:
        loaders = view_loaders(datamodule, settings.split, sampler, views)
    unit = "videos" if per_frame else "windows"
    progress = ProgressLine(
        f"scoring {settings.split} {unit} x {views} views", sum(len(loader.dataset) for loader in loaders), unit
    )
    if per_frame:
        tables = [
            predict_table_per_frame(
                module.net,
                loader,
                module.task,
                datamodule.normalizer,
                settings.probes,
                settings.seed,
                settings.device,
                datamodule.eval_batch_size,
                progress=progress,
                every_frame=every_frame,
            )
            for loader in loaders
        ]
    else:
        tables = [
            predict_table(module, loader, module.task, settings.probes, settings.seed, settings.device, progress)
            for loader in loaders
        ]
    progress.close()
    return average_views(tables, module.task)
