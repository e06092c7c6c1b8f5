"""Frame sources for streaming inference: frames one at a time, in constant memory.

``open_source(spec)`` decides the kind of source from ``spec``::

    with open_source("drive.mp4") as source:       # FileSource: every frame, in order
        for frame in source:                       # Frame: .image uint8 [H, W, 3] RGB, .time_s, .index
            engine.push(frame.picture, frame.time_s)   # .picture: RGB only if the engine uses the frame
    source.stopped_reason                          # None, or why it ended early (truncated, stalled, ...)

* a video file (anything PyAV/FFmpeg decodes) -> :class:`FileSource`: decoded incrementally, every frame, at
  the consumer's pace; ``time_s`` from the frame's presentation time.
* a folder of JPEG/PNG frames -> :class:`FolderSource`: sorted by name, ``time_s = index / fps``.
* a live input -> :class:`LiveSource`: a camera device (``/dev/video0``, FFmpeg's v4l2 demuxer), a network URL
  (``rtsp://``, ``http://``, ``https://``, ``udp://``, ``tcp://``) or a pipe carrying MPEG-TS (a named pipe, ``-``
  or ``pipe:`` for standard input, ``pipe:N`` for file descriptor N). A background thread decodes and keeps only
  the NEWEST frame: a consumer slower than the source gets the latest picture and the frames in between are
  dropped and counted (:meth:`FrameSource.stats`). No seeking, no known length. When no frame arrives for
  ``stall_timeout_s`` the source ends with a message naming it (it never hangs).

Times: ``time_s`` is seconds from the first frame: ``(pts - start) * time_base`` where ``start`` is the stream's
start time for a file and the first frame's pts for a live input (it is joined mid-stream); a frame without a pts
is placed at ``index / average_rate``. Every source reports how it ended in ``stopped_reason`` (``None``: its
normal end, or closed by the caller; otherwise a message naming the source, also given as a warning) and never
raises once open: the frames decoded before a problem are kept.

A source cannot be opened (missing file, undecodable video, absent camera, unreachable URL, a pipe that sends
nothing): :class:`~riskvision.inference.inputs.VideoInputError` naming the source and the fix.
"""

from __future__ import annotations

import os
import select
import stat
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import av
import numpy as np

from riskvision.data.readers import FrameDecodeError, JpegFolderReader
from riskvision.inference.inputs import VideoInputError
from riskvision.video_io import frame_to_rgb

__all__ = [
    "FileSource",
    "FolderSource",
    "Frame",
    "FrameSource",
    "IMAGE_SUFFIXES",
    "LIVE_URL_SCHEMES",
    "LiveSource",
    "SourceStats",
    "is_live_spec",
    "open_source",
]

LIVE_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
STDIN_SPECS = ("-", "pipe:")


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame.

    Attributes:
        decoded: what the source decoded: a file's ``av.VideoFrame`` (converted to RGB only when :attr:`image` is
            read or the engine uses it: at 30 fps into a 10 fps model two frames in three never are), or uint8
            ``[H, W, 3]`` RGB.
        time_s: presentation time in seconds from the source's first frame.
        index: native frame number from 0 (for a live source: the number of frames received before it, so the
            frames it dropped leave gaps).
    """

    decoded: np.ndarray | av.VideoFrame
    time_s: float
    index: int

    @cached_property
    def image(self) -> np.ndarray:
        """uint8 ``[H, W, 3]`` RGB at the source's native size (converted once, on first access)."""
        return self.decoded if isinstance(self.decoded, np.ndarray) else frame_to_rgb(self.decoded)

    @property
    def picture(self) -> np.ndarray | av.VideoFrame:
        """What ``StreamEngine.push`` takes without converting first: :attr:`image` once read, else :attr:`decoded`."""
        return self.__dict__.get("image", self.decoded)


@dataclass(frozen=True)
class SourceStats:
    """What a source has done so far.

    Attributes:
        received: frames decoded (a file or folder: the frames read).
        delivered: frames handed to the consumer.
        dropped: frames a live source replaced by a newer one before the consumer took them
            (``received == delivered + dropped`` once the source has ended; 0 for files and folders).
        seconds: wall-clock seconds from the first frame received to the last one delivered.
        discontinuities: times that jumped back (:class:`Timeline`); the timeline continued across each.
    """

    received: int
    delivered: int
    dropped: int
    seconds: float
    discontinuities: int = 0

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
        duration_s: how many seconds of video the source holds, when it says (a file, a folder); ``None``
            for a live input.
    """

    live = False

    def __init__(self, name: str, nominal_fps: float | None, duration_s: float | None = None) -> None:
        self.name = name
        self.nominal_fps = nominal_fps
        self.duration_s = duration_s
        self.stopped_reason: str | None = None
        self.ended = False
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._first_received_at: float | None = None
        self._last_delivered_at: float | None = None
        self.timeline = Timeline(name, nominal_fps)

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
        return SourceStats(self._received, self._delivered, self._dropped, seconds, self.timeline.discontinuities)

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


class Timeline:
    """Source times made continuous: a time before the previous one (concatenated MPEG-TS, a camera that restarts,
    the 26.5 h PTS wrap) is a discontinuity, not the end of time. The times after it are shifted to continue one
    frame interval after the previous frame, so the whole input is scored; discontinuities are counted and the
    first is warned about once (not per frame).

    Args:
        name: the source, for the warning.
        nominal_fps: the frame interval used across a jump when none was seen yet (``None``: 30 fps).
    """

    def __init__(self, name: str, nominal_fps: float | None) -> None:
        self.name = name
        self.interval_s = 1.0 / nominal_fps if nominal_fps else 1.0 / 30.0
        self.offset_s = 0.0
        self.last_s: float | None = None
        self.discontinuities = 0

    def __call__(self, time_s: float) -> float:
        """The continuous time of a frame whose source time is ``time_s`` (seconds)."""
        shifted = time_s + self.offset_s
        if self.last_s is not None:
            if shifted < self.last_s:
                self.discontinuities += 1
                if self.discontinuities == 1:
                    warnings.warn(
                        f"the times of {self.name} jump back by {self.last_s - shifted:.3f} s (concatenated "
                        "streams, a restart or a timestamp wrap); treated as a discontinuity: the timeline "
                        "continues (each such jump is counted)",
                        stacklevel=3,
                    )
                self.offset_s += self.last_s + self.interval_s - shifted
                shifted = self.last_s + self.interval_s
            elif shifted > self.last_s:
                self.interval_s = min(shifted - self.last_s, 1.0)  # the latest frame interval (a gap: 1 s)
        self.last_s = shifted
        return shifted


def _time_s(frame: av.VideoFrame, index: int, stream: av.video.stream.VideoStream, start_pts: int) -> float | None:
    """Seconds of ``frame`` from ``start_pts``: ``(pts - start_pts) * time_base``; without a pts,
    ``index / average_rate``; ``None`` when the stream has neither."""
    if frame.pts is not None and stream.time_base is not None:
        return float((frame.pts - start_pts) * stream.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return float(index / Fraction(rate)) if rate else None


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """The video's length in seconds as the container states it (the stream's, else the container's)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration is not None else None


def _rate(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


# ---------------------------------------------------------------------------------------------------- files


def _file_fix(path: Path) -> str:
    return (
        f'Fix: check that it is a video (`ffprobe "{path}"`) or re-encode it (`ffmpeg -i "{path}" '
        "-c:v libx264 -pix_fmt yuv420p fixed.mp4`)"
    )


def _open_file(path: Path, options: dict[str, str] | None) -> av.container.InputContainer:
    """``av.open(path)`` with a :class:`VideoInputError` naming the file when it is missing, fails or has no video."""
    if not path.exists():
        raise VideoInputError(
            f"video source {path} does not exist (working directory {Path.cwd()}). Fix: pass an existing video file, "
            "a folder of frames, a camera device (/dev/video0), a stream URL (rtsp://...) or a pipe (-)"
        )
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
        super().__init__(str(path), _rate(self._stream), _duration_s(self._container, self._stream))
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
            self._finish(
                f"decoding video {self.path} stopped after {self._received} frames: {error}; the frames "
                f"before it were delivered. {_file_fix(self.path)}"
            )
            return None
        index = self._received
        self._count_received()
        time_s = _time_s(frame, index, self._stream, self._start_pts)
        self._count_delivered()
        return Frame(frame, self.timeline(float(index) if time_s is None else time_s), index)  # RGB when used

    def _short_reason(self) -> str | None:
        """A message when fewer frames decoded than the container states (a truncated file), else ``None``."""
        if self.expected_frames is None or self._received >= self.expected_frames:
            return None
        return (
            f"video {self.path} ended after {self._received} of the {self.expected_frames} frames its container "
            f"states (truncated or damaged); the {self._received} decoded frames were delivered. "
            f"{_file_fix(self.path)}"
        )

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
            raise VideoInputError(
                f"frame folder {self.folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}). "
                "Fix: point the source at the folder that holds the frames, or at a video file"
            )
        super().__init__(str(folder), float(fps), len(self.files) / float(fps))
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


# ------------------------------------------------------------------------------------------------ live inputs


class _SilentPipe(Exception):
    """No byte came through a pipe before the open deadline."""


class _PipeReader:
    """A pipe (file descriptor) as the file object PyAV reads, with reads that give up instead of blocking.

    ``read`` waits in slices of ``poll_s`` so that :meth:`stop` ends a read waiting on a stalled writer (PyAV
    then sees the end of the stream). Until ``deadline`` (``time.monotonic()`` seconds; used while the stream is
    opened) a read that gets nothing raises :class:`_SilentPipe`. A named pipe that no writer has opened yet reads
    as empty, not as ended, until its first byte.
    """

    def __init__(self, fd: int, is_fifo: bool, owned: bool, name: str, poll_s: float = 0.1) -> None:
        self.fd, self.is_fifo, self.owned, self.name, self.poll_s = fd, is_fifo, owned, name, poll_s
        self.deadline: float | None = None
        self.got_data = False
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Close the descriptor when this reader opened it (a named pipe; standard input stays open)."""
        if self.owned:
            os.close(self.fd)

    def read(self, size: int) -> bytes:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], self.poll_s)
            data = None
            if ready:
                try:
                    data = os.read(self.fd, size)
                except BlockingIOError:
                    data = None
            if data:
                self.got_data = True
                return data
            if data == b"" and (self.got_data or not self.is_fifo):
                return b""  # the writer closed the pipe: end of stream
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise _SilentPipe(self.name)
            if data == b"":
                time.sleep(self.poll_s)  # a named pipe without a writer yet reads as empty at once
        return b""


def _inherited_fd(spec: str) -> int | None:
    """The descriptor ``-`` / ``pipe:`` (standard input, 0) or ``pipe:N`` (N) names, else ``None``."""
    if spec in STDIN_SPECS:
        return 0
    if spec.startswith("pipe:") and spec[5:].isascii() and spec[5:].isdigit():
        return int(spec[5:])
    return None


def _pipe_fd(spec: str) -> tuple[int, bool, bool]:
    """``(fd, is_fifo, owned)`` of an inherited descriptor (see :func:`_inherited_fd`) or a named pipe.

    A named pipe is opened non-blocking, so opening does not wait for its writer.
    """
    fd = _inherited_fd(spec)
    if fd is not None:
        return fd, False, False
    return os.open(spec, os.O_RDONLY | os.O_NONBLOCK), True, True


def is_live_spec(spec: str | Path) -> bool:
    """Whether ``spec`` names a live input (a URL, a camera device, a pipe), not a file or a folder."""
    return _live_kind(str(spec)) is not None


def _live_kind(spec: str) -> str | None:
    """``"url"``, ``"camera"`` or ``"pipe"`` when ``spec`` names a live input, else ``None``."""
    if spec.lower().startswith(LIVE_URL_SCHEMES):
        return "url"
    if _inherited_fd(spec) is not None:
        return "pipe"
    if spec.startswith("/dev/video"):
        return "camera"
    try:
        mode = os.stat(spec).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISCHR(mode):
        return "camera"
    return None


def _url_options(url: str, open_timeout_s: float) -> dict[str, str]:
    """Default FFmpeg options of a network URL: a socket timeout (microseconds); RTSP over TCP."""
    options = {"timeout": str(int(open_timeout_s * 1_000_000))}
    if url.lower().startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = "tcp"
    return options


LIVE_PROBE_OPTIONS = {"analyzeduration": "100000", "fpsprobesize": "0", "threads": "1"}
"""FFmpeg options that keep opening a live stream short and decoding it prompt: look at 0.1 s of it to find the
streams, without waiting for frames to estimate a frame rate (times come from the pts), and decode on one thread
(frame threading would hold back one frame per thread)."""


def _open_camera(
    spec: str, options: dict[str, str] | None, open_timeout_s: float, stall_timeout_s: float
) -> av.container.InputContainer:
    """Open a V4L2 camera device; :class:`VideoInputError` naming it and the fix."""
    if not os.path.exists(spec):
        raise VideoInputError(
            f"camera {spec} does not exist. Fix: check the device exists and which one is the camera "
            "(`ls /dev/video*`, `v4l2-ctl --list-devices`), that it is plugged in, and that this user may read it "
            "(group `video`)"
        )
    try:
        container = av.open(spec, format="v4l2", options=options, timeout=(open_timeout_s, stall_timeout_s))
    except (av.FFmpegError, OSError) as error:
        raise VideoInputError(
            f"camera {spec} cannot be opened: {error}. Fix: check it is a capture device "
            f"(`v4l2-ctl -d {spec} --all`), that no other program holds it, and its formats "
            f"(`ffmpeg -f v4l2 -list_formats all -i {spec}`); pass options such as "
            "{'video_size': '640x480', 'framerate': '30'}"
        ) from error
    return _with_video(container, spec, "camera")


def _open_url(
    spec: str, options: dict[str, str] | None, open_timeout_s: float, stall_timeout_s: float
) -> av.container.InputContainer:
    """Open a network stream; :class:`VideoInputError` naming it and the fix."""
    merged = {**LIVE_PROBE_OPTIONS, **_url_options(spec, open_timeout_s), **(options or {})}
    try:
        container = av.open(spec, options=merged, timeout=(open_timeout_s, stall_timeout_s))
    except (av.FFmpegError, OSError) as error:
        why = f"nothing arrived within {open_timeout_s:g} s" if isinstance(error, av.ExitError) else str(error)
        rtsp = (
            ("; RTSP is read over TCP: behind a firewall that allows only UDP pass options={'rtsp_transport': 'udp'}")
            if spec.lower().startswith(("rtsp://", "rtsps://"))
            else ""
        )
        raise VideoInputError(
            f"stream {spec} cannot be opened: {why}. Fix: check that the stream is up and the address, port and "
            f'path are right (`ffprobe "{spec}"`){rtsp}'
        ) from error
    return _with_video(container, spec, "stream")


def _open_pipe(
    spec: str, options: dict[str, str] | None, open_timeout_s: float, pipe_format: str
) -> tuple[av.container.InputContainer, _PipeReader]:
    """Open a pipe carrying ``pipe_format`` (MPEG-TS): the first bytes must arrive within ``open_timeout_s``."""
    reader = _PipeReader(*_pipe_fd(spec), name=spec)
    reader.deadline = time.monotonic() + open_timeout_s
    fix = (
        f"Fix: start the program that writes the pipe first (e.g. `ffmpeg -re -i INPUT -c:v libx264 "
        f"-f {pipe_format} {spec if reader.is_fifo else '-'}`), and make it write {pipe_format} (pipe_format= "
        "names another format)"
    )
    try:
        container = av.open(reader, format=pipe_format, options={**LIVE_PROBE_OPTIONS, **(options or {})})
    except _SilentPipe as error:
        reader.release()
        what = "stopped sending before its video stream could be found" if reader.got_data else "sent no data"
        raise VideoInputError(f"pipe {spec} {what} within {open_timeout_s:g} s. {fix}") from error
    except (av.FFmpegError, OSError) as error:
        reader.release()
        raise VideoInputError(f"pipe {spec} does not carry a readable {pipe_format} stream: {error}. {fix}") from error
    reader.deadline = None
    if not container.streams.video:
        reader.release()
    return _with_video(container, spec, "pipe"), reader


def _with_video(container: av.container.InputContainer, spec: str, what: str) -> av.container.InputContainer:
    if not container.streams.video:
        container.close()
        raise VideoInputError(f"{what} {spec} carries no video stream. Fix: point the source at a video input")
    return container


class LiveSource(FrameSource):
    """A live input decoded by a background thread into a one-slot buffer: the newest frame wins.

    ``read()`` returns the newest frame not yet delivered, waiting for one when there is none; a frame that a
    newer one replaces before it is read is dropped (counted in :meth:`stats`). When no frame has arrived for
    ``stall_timeout_s`` seconds, ``read()`` returns ``None`` with :attr:`stopped_reason` saying the source
    stalled. The end of the stream (the writer closed the pipe, the server ended it) delivers the last frame,
    then ends with ``stopped_reason`` ``None``; a decoding error ends it with the error as the reason.
    :meth:`close` (or leaving the ``with`` block) stops the thread.

    Build it with :func:`open_source`; ``container`` is an open input, owned (and closed) by the thread.
    """

    live = True

    def __init__(
        self,
        name: str,
        container: av.container.InputContainer,
        stall_timeout_s: float = 10.0,
        pipe: _PipeReader | None = None,
    ) -> None:
        self._stream = container.streams.video[0]
        super().__init__(name, _rate(self._stream))
        self.stall_timeout_s = stall_timeout_s
        self._container = container
        self._pipe = pipe
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._newest: tuple[av.VideoFrame, float, int] | None = None  # (frame, time_s, index) not yet delivered
        self._last_arrival = time.monotonic()
        self._decoder_reason: str | None = None
        self._decoder_done = False
        self._thread = threading.Thread(target=self._decode, name=f"LiveSource({name})", daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        """The thread: decode until the end, an error or :meth:`close`, keeping only the newest frame."""
        reason = None
        start_pts: int | None = None
        arrival_start = time.monotonic()
        index = 0

        def put(frame: av.VideoFrame) -> None:
            nonlocal start_pts, arrival_start, index
            if start_pts is None:
                start_pts, arrival_start = frame.pts or 0, time.monotonic()
            time_s = _time_s(frame, index, self._stream, start_pts)
            self._put(frame, self.timeline(time.monotonic() - arrival_start if time_s is None else time_s), index)
            index += 1

        try:
            for frame in self._container.decode(self._stream):
                if self._stop.is_set():
                    break
                put(frame)
        except av.FFmpegError as error:
            if not self._stop.is_set():
                try:  # the pictures the decoder still holds (its delay) were received: deliver them too
                    for frame in self._stream.codec_context.decode(None):
                        put(frame)
                except av.FFmpegError:
                    pass
                reason = (
                    f"live source {self.name} stopped after {index} frames: {error} (the sender closed the "
                    f'connection or the network failed). Fix: check the source (`ffprobe "{self.name}"`)'
                )
        finally:
            self._container.close()
            if self._pipe is not None:
                self._pipe.release()
            with self._changed:
                self._decoder_reason, self._decoder_done = reason, True
                self._changed.notify_all()

    def _put(self, frame: av.VideoFrame, time_s: float, index: int) -> None:
        with self._changed:
            if self._newest is not None:
                self._dropped += 1
            self._newest = (frame, time_s, index)
            self._count_received()
            self._last_arrival = time.monotonic()
            self._changed.notify_all()

    def read(self) -> Frame | None:
        with self._changed:
            while self._newest is None:
                if self.ended:
                    return None
                if self._decoder_done:
                    self._end(self._decoder_reason)
                    return None
                silent_s = time.monotonic() - self._last_arrival
                if silent_s >= self.stall_timeout_s:
                    self._end(
                        f"live source {self.name} stalled: no frame for {silent_s:.1f} s (stall_timeout_s="
                        f"{self.stall_timeout_s:g}) after {self._received} frames. Fix: check that the "
                        "camera/sender is still running, or raise stall_timeout_s"
                    )
                    self._stop_thread()
                    return None
                self._changed.wait(self.stall_timeout_s - silent_s)
            frame, time_s, index = self._newest
            self._newest = None
            self._count_delivered()
        return Frame(frame_to_rgb(frame), time_s, index)

    def _stop_thread(self, join_s: float = 0.0) -> None:
        """Ask the thread to stop (it closes the input); wait up to ``join_s`` seconds for it."""
        self._stop.set()
        if self._pipe is not None:
            self._pipe.stop()
        if join_s > 0 and threading.current_thread() is not self._thread:
            self._thread.join(join_s)

    def close(self) -> None:
        """Stop the thread (waiting up to ``stall_timeout_s`` + 1 s for a network read to time out); a frame
        left undelivered counts as dropped."""
        self._stop_thread(join_s=self.stall_timeout_s + 1.0)
        with self._changed:
            if self._newest is not None:
                self._newest = None
                self._dropped += 1
            self._end(None)

    @property
    def running(self) -> bool:
        """Whether the decoding thread is still alive."""
        return self._thread.is_alive()


# ------------------------------------------------------------------------------------------------------ entry


def open_source(
    spec: str | Path,
    live: bool | None = None,
    *,
    fps: float = 10.0,
    stall_timeout_s: float = 10.0,
    open_timeout_s: float | None = None,
    options: dict[str, str] | None = None,
    pipe_format: str = "mpegts",
) -> FrameSource:
    """The frame source ``spec`` names (see the module docstring for the kinds).

    Args:
        spec: a video file, a folder of frames, a camera device, a stream URL, a named pipe, ``-`` or ``pipe:``.
        live: ``None`` decides by ``spec`` (a URL, device or pipe is live); ``False`` reads a live input as a
            file (every frame, at the consumer's pace, no stall detection); ``True`` reads a file like a live
            input (newest frame wins).
        fps: the frame rate of a folder of frames (frames per second).
        stall_timeout_s: a live source ends when no frame arrives for this many seconds.
        open_timeout_s: how long opening a live input may wait for it (default ``stall_timeout_s``).
        options: FFmpeg options for ``av.open`` (``{"video_size": "640x480"}`` for a camera,
            ``{"rtsp_transport": "udp"}`` for RTSP, ...), on top of the defaults.
        pipe_format: the container format a pipe carries.

    Raises:
        VideoInputError: the source cannot be opened (naming it and the fix).
    """
    spec = str(spec)
    kind = _live_kind(spec)
    if kind is None and Path(spec).is_dir():
        if live:
            raise ValueError(f"live=True for the frame folder {spec}: a folder is read frame by frame. Fix: drop live")
        return FolderSource(spec, fps)
    if live is False or (live is None and kind is None):
        return FileSource(spec, options)
    open_timeout_s = stall_timeout_s if open_timeout_s is None else open_timeout_s
    if kind is None:  # live=True on a file
        container = _open_file(Path(spec), options)
        return LiveSource(spec, container, stall_timeout_s)
    if kind == "camera":
        return LiveSource(spec, _open_camera(spec, options, open_timeout_s, stall_timeout_s), stall_timeout_s)
    if kind == "url":
        return LiveSource(spec, _open_url(spec, options, open_timeout_s, stall_timeout_s), stall_timeout_s)
    container, pipe = _open_pipe(spec, options, open_timeout_s, pipe_format)
    return LiveSource(spec, container, stall_timeout_s, pipe)
