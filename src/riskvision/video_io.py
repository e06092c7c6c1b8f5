"""Video frames: deterministic H.264 MP4 encoding (the synthetic data, overlays, review clips, benchmarks) and the
one conversion of a decoded frame to RGB that every reader uses (:func:`frame_to_rgb`)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["Mp4Writer", "encode_mp4", "frame_to_rgb", "h264_roundtrip"]

#: PyAV >= 18 converts pixel formats with a pool of libswscale slice threads by default. A process forked after such
#: a conversion (a DataLoader worker, prepare_data's process pool) inherits the pool without its threads and hangs
#: in its first conversion; one thread per conversion has no pool. Older PyAV has no ``threads`` argument.
_ONE_THREAD = {"threads": 1} if "threads" in (av.VideoFrame.reformat.__doc__ or "") else {}


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame -> uint8 RGB ``[H, W, 3]``, converted in the calling thread (safe in forked processes)."""
    return frame.to_ndarray(format="rgb24", **_ONE_THREAD)


def h264_roundtrip(frames: list[np.ndarray], fps: int, qp: int) -> list[np.ndarray]:
    """Frames through the same H.264 encoder as the BDD videos (in memory), uint8 ``[H, W, 3]`` each.

    DoTA frames take this stage after the shared camera JPEG stage, exactly like BDD frames, and are
    then stored as near-transparent JPEGs (``STORE_QUALITY``).
    """
    buffer = io.BytesIO()
    encode_mp4(buffer, frames, (frames[0].shape[1], frames[0].shape[0]), fps, qp)
    buffer.seek(0)
    with av.open(buffer, "r", format="mp4") as container:
        return [frame_to_rgb(frame) for frame in container.decode(video=0)]


class Mp4Writer:
    """Deterministic H.264 MP4 (libx264, one thread, yuv420p, every frame a keyframe) written frame by frame.

        with Mp4Writer(path, (W, H), fps, qp) as writer:
            writer.write(frame)            # uint8 RGB [H, W, 3] of the writer's size

    Every frame is a keyframe: coding quality then does not depend on the frame rate (10 fps DoTA frames pass
    the same encoder) and seeking is exact and cheap. Leaving the ``with`` block flushes the encoder and closes
    the file (also after an error: the file then holds what was written so far). ``options``: muxer options,
    e.g. ``{"movflags": "frag_keyframe+empty_moov"}`` for a fragmented MP4 that plays up to its last fragment.
    ``gop``: frames per keyframe (1, the default: every frame; the review page's clips take one a second: 110 KB
    instead of 298 KB for 10 s of synthetic DoTA frames at 320x180).
    """

    def __init__(
        self,
        path: Path | io.BytesIO,
        size: tuple[int, int],
        fps: int | Fraction,
        qp: int,
        options: dict[str, str] | None = None,
        gop: int = 1,
    ) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        self._container = av.open(
            path if isinstance(path, io.BytesIO) else str(path), "w", format="mp4", options=options or {}
        )
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps))
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"qp": str(qp), "preset": "ultrafast", "g": str(int(gop))}
        self._stream.codec_context.thread_count = 1

    def write(self, frame: np.ndarray) -> None:
        """Encode one uint8 RGB frame ``[H, W, 3]`` of :attr:`size` ``(W, H)``."""
        if frame.shape != (self.size[1], self.size[0], 3):
            raise ValueError(
                f"frame of shape {frame.shape} written to an MP4 of {self.size[0]}x{self.size[1]}: "
                f"expected ({self.size[1]}, {self.size[0]}, 3)"
            )
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and close the file (once)."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def encode_mp4(path: Path | io.BytesIO, frames: Iterable[np.ndarray], size: tuple[int, int], fps: int, qp: int) -> None:
    """Encode uint8 RGB frames ``[H, W, 3]`` of ``size`` (W, H) with :class:`Mp4Writer`."""
    with Mp4Writer(path, size, fps, qp) as writer:
        for frame in frames:
            writer.write(frame)
