"""Input videos: their output names, probing a video onto the target frame rate, decoding it whole (the offline
reference the streaming engine is tested against, ``scoring.score_windows``'s input).

Videos may have any frame rate and resolution (anything PyAV/FFmpeg decodes: mp4, mov, avi, mkv, ...). A
video is resampled to the model's target rate with the project's rule (``riskvision.data.timebase``: target
frame ``i`` is native frame ``round(i * native_fps / target_fps)``) and decoded ONCE at the model's frame size
as uint8 (``VideoFileReader``: the same antialiased resize as training; ``frames x 3 x H x W`` bytes, 150 kB
a frame at 224x224, ~90 MB per minute at 10 fps). Rotation metadata of phone videos is not applied (frames
are used as stored, like the training readers do).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from riskvision.data.readers import FrameReadError, VideoFileReader, probe_video
from riskvision.data.records import VideoRecord
from riskvision.data.timebase import TargetVideo, to_target

__all__ = ["DecodedVideo", "VIDEO_SUFFIXES", "VideoInputError", "decode_video", "open_video", "output_names",
           "read_quietly", "source_label"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")


class VideoInputError(Exception):
    """One input video cannot be used (missing, undecodable, no frames); the others still run."""


def output_names(sources: Sequence[str | Path]) -> list[str]:
    """One distinct output stem per source: a file's stem (a folder's name; ``<clip>`` for ``<clip>/images``),
    ``<stem>_<suffix>`` when stems
    collide, numbered when those collide too; a URL, device or pipe that is not a file is named by its spec
    with every run of characters other than letters, digits, ``_`` and ``-`` replaced by ``_``."""
    def name_path(spec: str | Path) -> Path:
        path = _named_path(spec)
        if path.exists() and (path.is_dir() or path.suffix):  # a file, a folder or a named pipe such as camera.ts
            return path
        return Path(re.sub(r"[^A-Za-z0-9_-]+", "_", str(spec)).strip("_") or "source")

    paths = [name_path(source) for source in sources]
    stems = [p.stem for p in paths]
    names = [f"{p.stem}_{p.suffix.lstrip('.').lower()}" if stems.count(p.stem) > 1 and p.suffix else p.stem
             for p in paths]
    for i, name in enumerate(names):  # same stem and suffix in two folders: number them
        if names.count(name) > 1:
            names[i] = f"{name}_{names[:i].count(name) + 1}"
    return names


def source_label(source: str | Path) -> str:
    """What tables and summaries call a source: a file's name, a folder's name (``<clip>`` for ``<clip>/images``),
    a URL or device as given."""
    path = _named_path(source)
    return path.name if path.exists() else str(source)


def _named_path(source: str | Path) -> Path:
    path = Path(source)
    return path.parent if path.is_dir() and path.name == "images" else path  # DoTA's <clip>/images: the clip


@dataclass
class DecodedVideo:
    """A video at the target rate: its record, its time base and its frames at the model's size."""

    path: Path
    record: VideoRecord
    target: TargetVideo
    native_size: tuple[int, int]  # (H, W)
    frames: torch.Tensor  # uint8 [N, 3, H, W]
    substituted: int = 0

    @property
    def seconds(self) -> float:
        return self.record.num_frames / self.record.native_fps


def read_quietly(reader: VideoFileReader, record: VideoRecord, native: Sequence[int]) -> tuple[torch.Tensor, int]:
    """``reader.read`` with its per-frame substitution warnings counted instead of printed one by one."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = reader.read(record, native)
    return result.frames, len(result.substituted)


def _reason(error: Exception) -> str:
    """A reader error without its dataset-oriented "Fix: ... drop it from the index" advice."""
    return str(error).split(" Fix:")[0].rstrip(". ")


def _fix(path: Path) -> str:
    return (f"Fix: check that it is a video (`ffprobe \"{path}\"`), re-encode it (`ffmpeg -i \"{path}\" -c:v libx264 "
            "-pix_fmt yuv420p fixed.mp4`), or leave it out of videos=")


def open_video(path: Path, target_fps: float) -> tuple[VideoRecord, TargetVideo]:
    """Probe ``path`` and map it to the target rate; :class:`VideoInputError` naming the file when it cannot be used."""
    try:
        native_fps, num_frames = probe_video(path)
    except FrameReadError as error:
        raise VideoInputError(f"video {path} cannot be used: {_reason(error)}. {_fix(path)}") from error
    record = VideoRecord(video_id=path.stem, source="user", path=path, kind="video", native_fps=native_fps,
                         num_frames=num_frames)
    target = to_target(record, target_fps)
    if target.num_frames < 1:
        raise VideoInputError(f"video {path} has {num_frames} frames at {native_fps:g} fps: shorter than 1 frame at "
                              f"{target_fps:g} fps. Fix: use a longer video")
    return record, target


def decode_video(path: Path, size: tuple[int, int], target_fps: float) -> DecodedVideo:
    """Decode every target-rate frame of ``path`` once, resized to ``size`` (H, W), uint8 ``[N, 3, H, W]``."""
    record, target = open_video(path, target_fps)
    native = target.native_indices(list(range(target.num_frames)))
    try:
        first, _ = read_quietly(VideoFileReader(None), record, native[:1])  # native size, for the overlay
        frames, substituted = read_quietly(VideoFileReader(size), record, native)
    except FrameReadError as error:
        raise VideoInputError(f"video {path} cannot be decoded: {_reason(error)}. {_fix(path)}") from error
    return DecodedVideo(path, record, target, (int(first.shape[-2]), int(first.shape[-1])), frames, substituted)
