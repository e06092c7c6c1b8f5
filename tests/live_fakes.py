"""A live camera for tests: a thread encoding MPEG-TS into a named pipe while a source reads it (no seeking)."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS = 64, 48, 30
CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg1video"


def gray_frame(i: int) -> np.ndarray:
    """uint8 ``[HEIGHT, WIDTH, 3]``, one gray level per frame (``4 * i``), so a delivered image tells its index."""
    return np.full((HEIGHT, WIDTH, 3), 4 * i % 256, np.uint8)


def _wait_for_reader(path: Path, timeout_s: float = 20.0) -> int:
    """A write end of the named pipe, opened once a reader has it open (ENXIO until then). Waits in Python, where
    the GIL is free: FFmpeg's own blocking open would hold it and keep the reader in this process from opening.
    The caller keeps it open until FFmpeg's write end is open (so the reader never sees zero writers), then
    closes it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class FifoWriter(threading.Thread):
    """Encodes ``num_frames`` gray frames at 30 fps as MPEG-TS into ``path`` (a named pipe), one every ``pace_s``
    seconds; with ``hold`` set it stops after them and waits for ``hold`` before closing (a stalled sender).
    A reader that goes away breaks the pipe: kept in ``error``, not raised."""

    def __init__(self, path: Path, num_frames: int, pace_s: float, hold: threading.Event | None = None) -> None:
        super().__init__(daemon=True)
        self.path, self.num_frames, self.pace_s, self.hold = path, num_frames, pace_s, hold
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            probe = _wait_for_reader(self.path)
            with av.open(str(self.path), "w", format="mpegts", container_options={"flush_packets": "1"}) as container:
                os.close(probe)
                stream = container.add_stream(CODEC, rate=FPS)
                stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
                if CODEC == "libx264":
                    stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
                for i in range(self.num_frames):
                    for packet in stream.encode(av.VideoFrame.from_ndarray(gray_frame(i), format="rgb24")):
                        container.mux(packet)
                    time.sleep(self.pace_s)
                if self.hold is not None:
                    self.hold.wait(30)
                for packet in stream.encode():
                    container.mux(packet)
        except (av.FFmpegError, OSError) as error:
            self.error = error
