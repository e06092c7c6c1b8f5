"""riskvision.inference.sources: frame sources for streaming inference (files, frame folders)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from checkpoint_fakes import write_video

from riskvision.inference.inputs import VideoInputError
from riskvision.inference.sources import FileSource, FolderSource, open_source

WIDTH, HEIGHT, FPS = 64, 48, 30


def gray_frame(i: int) -> np.ndarray:
    """uint8 ``[HEIGHT, WIDTH, 3]``, one gray level per frame (``4 * i``), so a delivered image tells its index."""
    return np.full((HEIGHT, WIDTH, 3), 4 * i % 256, np.uint8)


def pts_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        return [float((frame.pts - start) * stream.time_base) for frame in container.decode(stream)]


def test_file_source_gives_every_frame_at_its_pts(tmp_path: Path) -> None:
    path = write_video(tmp_path / "drive.mp4", seconds=1, fps=FPS, width=WIDTH, height=HEIGHT)
    with av.open(str(path)) as container:
        expected = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with open_source(path) as source:
        assert isinstance(source, FileSource) and not source.live and source.nominal_fps == FPS
        frames = list(source)
    assert [frame.index for frame in frames] == list(range(len(expected))) and len(expected) == FPS
    assert [frame.time_s for frame in frames] == pts_times(path)
    assert [frame.time_s for frame in frames] == pytest.approx([i / FPS for i in range(FPS)])
    for frame, image in zip(frames, expected):
        np.testing.assert_array_equal(frame.image, image)
    assert source.stopped_reason is None and source.stats().dropped == 0


def test_file_source_keeps_the_irregular_times_of_a_variable_rate_file(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    seconds = [0.0, 0.1, 0.15, 0.5, 0.52, 1.0, 1.3]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base, stream.options = Fraction(1, 1000), {"preset": "ultrafast"}
        for i, t in enumerate(seconds):
            frame = av.VideoFrame.from_ndarray(gray_frame(10 * i), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    times = [frame.time_s for frame in open_source(path)]
    assert times == pts_times(path)
    assert times == pytest.approx(seconds, abs=0.02)  # the muxer's time base rounds a little


def test_a_truncated_file_yields_what_decodes_then_ends_with_a_reason(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", format="mp4", container_options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)  # faststart: the frame index comes before the frames
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "10"}
        for i in range(60):
            for packet in stream.encode(av.VideoFrame.from_ndarray(gray_frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    truncated = tmp_path / "truncated.mp4"
    data = whole.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    source = open_source(truncated)
    with pytest.warns(UserWarning, match="truncated"):
        frames = list(source)
    assert 0 < len(frames) < 60
    assert [frame.index for frame in frames] == list(range(len(frames)))
    assert str(truncated) in source.stopped_reason and "of the 60 frames" in source.stopped_reason


def test_a_file_that_cannot_be_opened_is_a_video_input_error(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoInputError, match="cannot be opened") as error:
        open_source(garbage)
    assert str(garbage) in str(error.value) and "ffprobe" in str(error.value)
    with pytest.raises(VideoInputError, match="does not exist"):
        open_source(tmp_path / "missing.mp4")


def test_folder_source_orders_frames_by_name_at_fps(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    images = {f"{i:06d}.png": gray_frame(10 * i) for i in (3, 0, 2, 1)}
    for name, image in images.items():
        Image.fromarray(image).save(folder / name)
    (folder / "notes.txt").write_text("not a frame")
    with open_source(folder, fps=5) as source:
        assert isinstance(source, FolderSource) and source.nominal_fps == 5
        frames = list(source)
    assert [(frame.index, frame.time_s) for frame in frames] == [(i, i / 5) for i in range(4)]
    for frame in frames:
        np.testing.assert_array_equal(frame.image, images[f"{frame.index:06d}.png"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoInputError, match="holds no image files"):
        open_source(empty)
