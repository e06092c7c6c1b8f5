"""Frame sources for streaming inference: frames one at a time, in constant memory.

``open_source(spec)`` decides the kind of source from ``spec``::

    with open_source("drive.mp4") as source:       # FileSource: every frame, in order
        for frame in source:                       # Frame(image uint8 [H, W, 3] RGB, time_s, index)
            engine.push(frame.image, frame.time_s)
    source.stopped_reason                          # None, or why it ended early (truncated, stalled, ...)

* a video file (anything PyAV/FFmpeg decodes) -> :class:`FileSource`: decoded incrementally, every frame, at
  the consumer's pace; ``time_s`` from the frame's presentation time.
* a folder of JPEG/PNG frames -> :class:`FolderSource`: sorted by name, ``time_s = index / fps``.

Times: ``time_s`` is seconds from the first frame: ``(pts - start) * time_base`` where ``start`` is the stream's
start time; a frame without a pts is placed at ``index / average_rate``. Every source reports how it ended in
``stopped_reason`` (``None``: its normal end, or closed by the caller; otherwise a message naming the source, also
given as a warning) and never raises once open: the frames decoded before a problem are kept.

A source cannot be opened (missing file, undecodable video, empty folder):
:class:`~riskvision.inference.inputs.VideoInputError` naming the source and the fix.
"""

from __future__ import annotations

import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from riskvision.data.readers import FrameDecodeError, JpegFolderReader
from riskvision.inference.inputs import VideoInputError

__all__ = ["FileSource", "FolderSource", "Frame", "FrameSource", "IMAGE_SUFFIXES", "SourceStats",
           "open_source"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        image: uint8 ``[H, W, 3]`` RGB at the source's native size.
        time_s: presentation time in seconds from the source's first frame.
        index: native frame number from 0 (for a live source: the number of frames received before it, so the
            frames it dropped leave gaps).
    """

    image: np.ndarray
    time_s: float
    index: int


@dataclass(frozen=True)
class SourceStats:
    """What a source has done so far.

    Attributes:
        received: frames decoded (a file or folder: the frames read).
        delivered: frames handed to the consumer.
        dropped: frames a live source replaced by a newer one before the consumer took them
            (``received == delivered + dropped`` once the source has ended; 0 for files and folders).
        seconds: wall-clock seconds from the first frame received to the last one delivered.
    """

    received: int
    delivered: int
    dropped: int
    seconds: float

    @property
    def delivered_fps(self) -> float:
        """Frames delivered per wall-clock second: the rate the consumer held (0 before two frames)."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def received_fps(self) -> float:
        """Frames received per wall-clock second (a live source: about the rate it sends)."""
        return self.received / self.seconds if self.seconds > 0 else 0.0


class FrameSource(ABC):
    """Frames one at a time: ``read()`` (``None`` at the end) or iteration; a context manager.

    Attributes:
        name: the source as the user gave it (for messages).
        live: ``True`` for a live input (newest frame wins, frames may be dropped).
        nominal_fps: the frame rate the source declares, or ``None`` when it declares none.
        stopped_reason: ``None`` while running and after a normal end; otherwise why the source ended.
    """

    live = False

    def __init__(self, name: str, nominal_fps: float | None) -> None:
        self.name = name
        self.nominal_fps = nominal_fps
        self.stopped_reason: str | None = None
        self.ended = False
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._first_received_at: float | None = None
        self._last_delivered_at: float | None = None

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or ``None`` when the source has ended (see :attr:`stopped_reason`)."""

    def close(self) -> None:
        """Release the decoder (and stop a live source's thread); reading afterwards gives ``None``."""
        self.ended = True

    def stats(self) -> SourceStats:
        """Counts and the delivered rate so far (see :class:`SourceStats`)."""
        seconds = 0.0
        if self._first_received_at is not None and self._last_delivered_at is not None:
            seconds = self._last_delivered_at - self._first_received_at
        return SourceStats(self._received, self._delivered, self._dropped, seconds)

    def _count_received(self) -> None:
        self._received += 1
        if self._first_received_at is None:
            self._first_received_at = time.monotonic()

    def _count_delivered(self) -> None:
        self._delivered += 1
        self._last_delivered_at = time.monotonic()

    def _end(self, reason: str | None) -> None:
        """Mark the source ended; a ``reason`` (an early end) is kept and warned about once."""
        if self.ended:
            return
        self.ended = True
        self.stopped_reason = reason
        if reason is not None:
            warnings.warn(reason, stacklevel=3)

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        frame = self.read()
        if frame is None:
            raise StopIteration
        return frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _time_s(frame: av.VideoFrame, index: int, stream: av.video.stream.VideoStream, start_pts: int) -> float | None:
    """Seconds of ``frame`` from ``start_pts``: ``(pts - start_pts) * time_base``; without a pts,
    ``index / average_rate``; ``None`` when the stream has neither."""
    if frame.pts is not None and stream.time_base is not None:
        return float((frame.pts - start_pts) * stream.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return float(index / Fraction(rate)) if rate else None


def _rate(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


# ---------------------------------------------------------------------------------------------------- files


def _file_fix(path: Path) -> str:
    return (f"Fix: check that it is a video (`ffprobe \"{path}\"`) or re-encode it (`ffmpeg -i \"{path}\" "
            "-c:v libx264 -pix_fmt yuv420p fixed.mp4`)")


def _open_file(path: Path, options: dict[str, str] | None) -> av.container.InputContainer:
    """``av.open(path)`` with a :class:`VideoInputError` naming the file when it is missing, fails or has no video."""
    if not path.exists():
        raise VideoInputError(
            f"video source {path} does not exist (working directory {Path.cwd()}). Fix: pass an existing video file, "
            "a folder of frames, a camera device (/dev/video0), a stream URL (rtsp://...) or a pipe (-)")
    try:
        container = av.open(str(path), options=options)
    except (av.FFmpegError, OSError) as error:
        raise VideoInputError(f"video {path} cannot be opened: {error}. {_file_fix(path)}") from error
    if not container.streams.video:
        container.close()
        raise VideoInputError(f"{path} has no video stream. {_file_fix(path)}")
    return container


class FileSource(FrameSource):
    """Every frame of a video file, decoded one at a time as it is read (never the whole video).

    A file that ends before the frame count its container states, or whose decoding fails midway, delivers the
    frames decoded before it and ends with a :attr:`stopped_reason` naming the file.

    Args:
        path: the video file.
        options: FFmpeg options for ``av.open`` (e.g. ``{"probesize": "5000000"}``).
    """

    def __init__(self, path: str | Path, options: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self._container = _open_file(self.path, options)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        super().__init__(str(path), _rate(self._stream))
        self.expected_frames: int | None = self._stream.frames or None  # None: the container does not say
        self._start_pts = self._stream.start_time or 0
        self._frames = self._container.decode(self._stream)

    def read(self) -> Frame | None:
        if self.ended:
            return None
        try:
            frame = next(self._frames)
        except StopIteration:
            self._finish(self._short_reason())
            return None
        except av.FFmpegError as error:
            self._finish(f"decoding video {self.path} stopped after {self._received} frames: {error}; the frames "
                         f"before it were delivered. {_file_fix(self.path)}")
            return None
        index = self._received
        self._count_received()
        time_s = _time_s(frame, index, self._stream, self._start_pts)
        image = frame.to_ndarray(format="rgb24")
        self._count_delivered()
        return Frame(image, float(index) if time_s is None else time_s, index)

    def _short_reason(self) -> str | None:
        """A message when fewer frames decoded than the container states (a truncated file), else ``None``."""
        if self.expected_frames is None or self._received >= self.expected_frames:
            return None
        return (f"video {self.path} ended after {self._received} of the {self.expected_frames} frames its container "
                f"states (truncated or damaged); the {self._received} decoded frames were delivered. "
                f"{_file_fix(self.path)}")

    def _finish(self, reason: str | None) -> None:
        self._end(reason)
        self._container.close()

    def close(self) -> None:
        if not self.ended:
            self._finish(None)


# --------------------------------------------------------------------------------------------------- folders


class FolderSource(FrameSource):
    """The image files of a folder (JPEG/PNG, sorted by name) as frames at ``fps``: frame ``i`` is at ``i / fps`` s.

    A file that does not decode to an 8-bit RGB picture is skipped with a warning and counted in ``skipped``
    (its index stays unused, so the times of the others do not move).

    Args:
        folder: the folder.
        fps: the frame rate the frames were taken at (frames per second).
    """

    def __init__(self, folder: str | Path, fps: float = 10.0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0 for the frame folder {folder}, got {fps}")
        self.folder = Path(folder)
        self.files = sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise VideoInputError(f"frame folder {self.folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}). "
                                  "Fix: point the source at the folder that holds the frames, or at a video file")
        super().__init__(str(folder), float(fps))
        self.skipped: list[Path] = []
        self._decoder = JpegFolderReader(None)
        self._next_index = 0

    def read(self) -> Frame | None:
        while not self.ended and self._next_index < len(self.files):
            index = self._next_index
            self._next_index += 1
            try:
                chw = self._decoder.decode(self.files[index])  # uint8 [3, H, W]
            except FrameDecodeError as error:
                warnings.warn(f"skipping frame {index} of {self.folder}: {error}", stacklevel=2)
                self.skipped.append(self.files[index])
                continue
            self._count_received()
            self._count_delivered()
            return Frame(chw.permute(1, 2, 0).numpy(), index / self.nominal_fps, index)
        self._end(None)
        return None


# ------------------------------------------------------------------------------------------------------ entry


def open_source(spec: str | Path, *, fps: float = 10.0, options: dict[str, str] | None = None) -> FrameSource:
    """The frame source ``spec`` names: a folder of frames or a video file.

    Args:
        spec: a video file or a folder of frames.
        fps: the frame rate of a folder of frames (frames per second).
        options: FFmpeg options for ``av.open``.

    Raises:
        VideoInputError: the source cannot be opened (naming it and the fix).
    """
    spec = str(spec)
    if Path(spec).is_dir():
        return FolderSource(spec, fps)
    return FileSource(spec, options)
