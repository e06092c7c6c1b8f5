"""frame_to_rgb: the one conversion of a decoded frame to RGB works in a process forked after a conversion (a
DataLoader worker, prepare_data's process pool); PyAV 18's default threaded conversion hung there."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import av
import numpy as np

from riskvision.video_io import encode_mp4, frame_to_rgb


def _decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _convert(path: str, queue: multiprocessing.Queue) -> None:
    queue.put(frame_to_rgb(_decoded(Path(path))[1]).shape)


def test_a_forked_process_converts_after_its_parent_did(tmp_path):
    path = tmp_path / "clip.mp4"
    frames = [np.full((360, 640, 3), 20 * i, np.uint8) for i in range(4)]
    encode_mp4(path, frames, (640, 360), 10, 20)
    first = frame_to_rgb(_decoded(path)[0])  # the parent converts first (PyAV 18 would keep a thread pool now)
    assert first.shape == (360, 640, 3) and first.dtype == np.uint8
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_convert, args=(str(path), queue))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        raise AssertionError("the forked process hung in its first frame conversion")
    assert child.exitcode == 0 and queue.get(timeout=5) == (360, 640, 3)
