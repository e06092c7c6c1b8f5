"""Writing video: deterministic H.264 MP4 encoding, shared by the synthetic data, overlays and benchmarks."""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["encode_mp4", "h264_roundtrip"]


def h264_roundtrip(frames: list[np.ndarray], fps: int, qp: int) -> list[np.ndarray]:
    """Frames through the same H.264 encoder as the BDD videos (in memory), uint8 ``[H, W, 3]`` each.

    DoTA frames take this stage after the shared camera JPEG stage, exactly like BDD frames, and are
    then stored as near-transparent JPEGs (``STORE_QUALITY``).
    """
    buffer = io.BytesIO()
    encode_mp4(buffer, frames, (frames[0].shape[1], frames[0].shape[0]), fps, qp)
    buffer.seek(0)
    with av.open(buffer, "r", format="mp4") as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def encode_mp4(path: Path | io.BytesIO, frames: Iterable[np.ndarray], size: tuple[int, int], fps: int, qp: int) -> None:
    """Encode uint8 RGB frames ``[H, W, 3]`` of ``size`` (W, H) as deterministic H.264 (one thread, yuv420p).

    Every frame is a keyframe: coding quality then does not depend on the frame rate (10 fps DoTA
    frames pass the same encoder) and seeking is exact and cheap.
    """
    with av.open(path if isinstance(path, io.BytesIO) else str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"qp": str(qp), "preset": "ultrafast", "g": "1"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
