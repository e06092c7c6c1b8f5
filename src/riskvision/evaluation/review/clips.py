"""The review page's clips: finding each scored video's frames or file, and a small H.264 MP4 of it.

A clip holds the video at the predictions table's frame rate (target frame ``i`` at ``i / fps`` seconds, the
native frame :mod:`riskvision.data.timebase` maps to it), so the page's timelines and the clip share one time axis.
Videos are looked up by ``video_id`` under the ``videos`` folders: a file ``<video_id>.<mp4|mov|avi|mkv|webm>``
or a frame folder ``<video_id>/`` (or ``<video_id>/images/``, DoTA's layout) of JPEG / PNG files, at any depth.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from hashlib import sha1
from pathlib import Path

import av
import numpy as np
from PIL import Image

from riskvision.files import atomic_write
from riskvision.video_io import Mp4Writer

__all__ = ["ClipError", "ClipSettings", "find_videos", "make_clip", "write_clip"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class ClipError(Exception):
    """A video that gives no clip; the message is the reason the page shows."""


@dataclass
class ClipSettings:
    """How clips are encoded: ``short_side`` pixels (aspect ratio kept, even sides), H.264 ``qp`` (higher: smaller
    and blurrier) and one keyframe every ``keyframe_s`` seconds; ``cache``: a folder keeping every clip written,
    keyed by its source (path, size, modification time, entries) and these settings, so a later page copies it
    instead of encoding again (``None``: no cache)."""

    short_side: int = 240
    qp: int = 30
    keyframe_s: float = 1.0
    cache: str | None = None


def _images(folder: Path, names: Iterable[str]) -> list[Path]:
    return sorted(folder / n for n in names if n.lower().endswith(IMAGE_SUFFIXES))


def find_videos(roots: Sequence[str | Path], video_ids: Iterable[str]) -> dict[str, Path]:
    """``video_id -> video file or frame folder`` for the ids found under ``roots`` (one walk of each root; the
    first root that has an id wins). A root that does not exist raises ``FileNotFoundError``."""
    wanted, found = set(video_ids), {}
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(
                f"videos: {root} is not a folder. Fix: give folders holding the videos or frame "
                "folders the predictions name, e.g. videos=[data/synthetic]"
            )
        for folder, _, files in os.walk(root):
            here = Path(folder)
            for name in files:
                stem, suffix = os.path.splitext(name)
                if suffix.lower() in VIDEO_SUFFIXES and stem in wanted:
                    found.setdefault(stem, here / name)
            owner = here.parent.name if here.name == "images" else here.name
            if owner in wanted and any(n.lower().endswith(IMAGE_SUFFIXES) for n in files):
                found.setdefault(owner, here)
    return found


def _size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``(W, H)`` with the shorter side ``short_side`` (never upscaled), both even."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _folder_frames(folder: Path, num_frames: int) -> Iterator[Image.Image]:
    """Target frame ``i`` of a frame folder of ``n`` images: image ``round(i * n / num_frames)`` (the folder spans
    the video, whatever its own rate)."""
    images = _images(folder, os.listdir(folder))
    if not images:
        raise ClipError(f"unreadable: frame folder {folder} holds no JPEG / PNG image")
    for i in range(num_frames):
        with Image.open(images[min(round(i * len(images) / num_frames), len(images) - 1)]) as image:
            yield image.convert("RGB")


def _file_frames(path: Path, num_frames: int, fps: float) -> Iterator[Image.Image]:
    """Target frame ``i`` of a video file: the decoded frame nearest ``i / fps`` seconds (the last one past its
    end)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        previous: tuple[float, Image.Image] | None = None
        i = 0
        for frame in container.decode(stream):
            time_s = float(frame.time) if frame.time is not None else 0.0
            current = (time_s, frame.to_image())
            while i < num_frames and time_s >= i / fps:
                near = previous if previous and i / fps - previous[0] < time_s - i / fps else current
                yield near[1]
                i += 1
            previous = current
            if i >= num_frames:
                return
        if previous is None:
            raise ClipError(f"unreadable: video file {path} has no decodable frame")
        for _ in range(i, num_frames):
            yield previous[1]


def _readable(frames: Iterator[Image.Image], source: Path) -> Iterator[Image.Image]:
    """``frames``, a read error turned into the :class:`ClipError` the page shows (errors of writing the clip stay
    what they are)."""
    try:
        yield from frames
    except (OSError, ValueError, av.error.FFmpegError) as error:
        raise ClipError(f"unreadable: {source} could not be read ({type(error).__name__}: {error})") from None


def write_clip(source: Path, out: Path, fps: float, num_frames: int, settings: ClipSettings) -> Path:
    """Write ``out``: an MP4 of ``num_frames`` frames at ``fps`` (``num_frames / fps`` seconds) from ``source`` (a
    video file or frame folder). Raises :class:`ClipError` (the reason) for a video that cannot be read."""
    frames = _readable(
        _folder_frames(source, num_frames) if source.is_dir() else _file_frames(source, num_frames, fps), source
    )
    rate = Fraction(fps).limit_denominator(1000)

    def encode(tmp: Path) -> None:
        writer = None
        try:
            for image in frames:
                if writer is None:
                    size = _size(image.width, image.height, settings.short_side)
                    writer = Mp4Writer(
                        tmp,
                        size,
                        rate,
                        settings.qp,
                        {"movflags": "+faststart"},
                        gop=max(1, round(settings.keyframe_s * fps)),
                    )
                writer.write(np.asarray(image.resize(writer.size, Image.BILINEAR)))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ClipError(f"unreadable: {source} gave no frame (num_frames={num_frames})")

    return atomic_write(out, encode)


def _cache_key(source: Path, fps: float, num_frames: int, settings: ClipSettings) -> str:
    """What the clip of ``source`` depends on, hashed: the source (resolved path, size, modification time, and a
    folder's entry count) and the clip's rate, length and encoding."""
    stat = source.stat()
    entries = len(os.listdir(source)) if source.is_dir() else 0
    key = (
        str(source.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        entries,
        float(fps),
        int(num_frames),
        settings.short_side,
        settings.qp,
        float(settings.keyframe_s),
    )
    return sha1(repr(key).encode()).hexdigest()[:20]


def make_clip(source: Path, out: Path, fps: float, num_frames: int, settings: ClipSettings) -> Path:
    """:func:`write_clip`, through ``settings.cache`` when one is given (a clip found there is copied)."""
    if settings.cache is None:
        return write_clip(source, out, fps, num_frames, settings)
    cached = Path(settings.cache) / f"{_cache_key(source, fps, num_frames, settings)}.mp4"
    if not cached.is_file():
        write_clip(source, cached, fps, num_frames, settings)
    return atomic_write(out, lambda tmp: shutil.copyfile(cached, tmp))
