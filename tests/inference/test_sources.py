"""riskvision.inference.sources: frame sources for streaming inference (files, frame folders, live inputs).

The live tests are real: a named pipe (``os.mkfifo``) in ``tmp_path``, a writer thread encoding a tiny MPEG-TS video
into it with PyAV while the source decodes it concurrently (no seeking). Times are bounded by ``pytest-timeout`` so
a hang fails instead of blocking the suite; no assert measures speed.
"""

from __future__ import annotations

import os
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from checkpoint_fakes import write_video
from live_fakes import CODEC, FPS, HEIGHT, WIDTH, FifoWriter, gray_frame
from PIL import Image

from riskvision.inference.inputs import VideoInputError
from riskvision.inference.sources import FileSource, FolderSource, Frame, LiveSource, open_source


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "camera.ts"
    os.mkfifo(path)
    return path


def assert_gray_level(frame: Frame) -> None:
    """The delivered image is the picture of its index (through yuv420p and H.264, within a few levels)."""
    assert frame.image.dtype == np.uint8 and frame.image.shape == (HEIGHT, WIDTH, 3)
    assert abs(float(frame.image.mean()) - 4 * frame.index % 256) < 4


@pytest.mark.timeout(30)
def test_fifo_source_reads_a_concurrent_writer_until_it_closes(fifo: Path) -> None:
    writer = FifoWriter(fifo, num_frames=60, pace_s=1 / 60)
    writer.start()
    with open_source(fifo, stall_timeout_s=5.0) as source:
        assert isinstance(source, LiveSource) and source.live
        frames = list(source)
    writer.join(10)
    assert writer.error is None
    stats = source.stats()
    assert stats.received == 60 and stats.received == stats.delivered + stats.dropped
    assert len(frames) == stats.delivered >= 10
    assert source.stopped_reason is None and not source.running
    times = [frame.time_s for frame in frames]
    assert all(b > a for a, b in zip(times, times[1:]))  # the first frames may be dropped on a busy machine
    for frame in frames:
        assert frame.time_s == pytest.approx(frame.index / FPS, abs=1e-6)  # from the pts, not the wall clock
        assert_gray_level(frame)


@pytest.mark.timeout(30)
def test_slow_consumer_gets_the_newest_frame_and_the_rest_are_dropped(fifo: Path) -> None:
    writer = FifoWriter(fifo, num_frames=30, pace_s=1 / FPS)
    writer.start()
    delivered = []
    with open_source(fifo, stall_timeout_s=5.0) as source:
        for frame in source:
            delivered.append(frame)
            time.sleep(0.1)  # a consumer at ~10 fps behind a 30 fps sender
    writer.join(10)
    stats = source.stats()
    assert stats.dropped > 0
    assert stats.received == 30 == stats.delivered + stats.dropped
    assert stats.delivered == len(delivered) and 0 < stats.delivered_fps
    indices = [frame.index for frame in delivered]
    assert any(b - a > 1 for a, b in zip(indices, indices[1:]))  # frames were skipped, not queued
    assert indices[-1] == 29  # the end of the stream still delivers its newest frame
    for frame in delivered:
        assert_gray_level(frame)


@pytest.mark.timeout(30)
def test_a_stalled_sender_ends_the_source_with_a_message_within_the_timeout(fifo: Path) -> None:
    hold = threading.Event()
    writer = FifoWriter(fifo, num_frames=5, pace_s=1 / FPS, hold=hold)
    writer.start()
    source = open_source(fifo, stall_timeout_s=1.0)
    started = time.monotonic()
    with pytest.warns(UserWarning, match="stalled"):
        frames = list(source)
    waited_s = time.monotonic() - started
    assert 1 <= len(frames) <= 5
    assert waited_s < 4.0  # about the timeout: no hang
    assert "stalled" in source.stopped_reason and str(fifo) in source.stopped_reason
    assert "stall_timeout_s=1" in source.stopped_reason
    source.close()
    assert not source.running  # closing stopped the decoding thread although the sender still holds the pipe
    assert source.read() is None
    hold.set()
    writer.join(10)


@pytest.mark.timeout(30)
def test_closing_a_live_source_early_stops_its_thread(fifo: Path) -> None:
    writer = FifoWriter(fifo, num_frames=300, pace_s=1 / FPS)
    writer.start()
    with open_source(fifo, stall_timeout_s=5.0) as source:
        first = source.read()
    assert first is not None
    assert not source.running and source.read() is None
    stats = source.stats()
    assert stats.received == stats.delivered + stats.dropped
    writer.join(10)
    assert writer.error is not None  # the sender saw the reader go away (broken pipe)


@pytest.mark.timeout(30)
def test_a_pipe_without_a_writer_is_a_video_input_error(fifo: Path) -> None:
    with pytest.raises(VideoInputError, match="sent no data within 0.5 s") as error:
        open_source(fifo, open_timeout_s=0.5)
    assert str(fifo) in str(error.value) and "Fix:" in str(error.value)


@pytest.mark.timeout(30)
def test_an_unreachable_url_is_a_video_input_error_naming_it() -> None:
    url = "rtsp://127.0.0.1:9/none"
    started = time.monotonic()
    with pytest.raises(VideoInputError) as error:
        open_source(url, open_timeout_s=2.0)
    assert time.monotonic() - started < 10
    assert url in str(error.value) and "ffprobe" in str(error.value)


def test_an_absent_camera_is_a_video_input_error_naming_it() -> None:
    with pytest.raises(VideoInputError, match="camera /dev/video99 does not exist") as error:
        open_source("/dev/video99")
    assert "ls /dev/video" in str(error.value)


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


HTTP_SERVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

payload = open(sys.argv[1], "rb").read()


class Live(BaseHTTPRequestHandler):
    def do_GET(self):  # a live stream: no length, sent in paced chunks, then the connection closes
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        for start in range(0, len(payload), 4096):
            self.wfile.write(payload[start:start + 4096])
            self.wfile.flush()
            time.sleep(0.02)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Live)
print(server.server_address[1], flush=True)
server.handle_request()
"""


@pytest.mark.timeout(60)
def test_an_http_stream_is_read_live_from_a_local_server(tmp_path: Path) -> None:
    """A network URL through FFmpeg's http protocol: an MPEG-TS served by a local server in another process
    (FFmpeg's blocking connect would hold the GIL a server thread here needs)."""
    import subprocess
    import sys

    ts = tmp_path / "camera.ts"
    with av.open(str(ts), "w", format="mpegts") as container:
        stream = container.add_stream(CODEC, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(45):
            for packet in stream.encode(av.VideoFrame.from_ndarray(gray_frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    server = subprocess.Popen([sys.executable, "-c", HTTP_SERVER, str(ts)], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/live.ts"
        with open_source(url, stall_timeout_s=10) as source:
            assert isinstance(source, LiveSource) and source.live and source.duration_s is None
            with pytest.warns(UserWarning, match="stopped after"):
                frames = list(source)
        stats = source.stats()
    finally:
        server.kill()
        server.wait()
    # FFmpeg reads a live HTTP stream whose sender closes the connection as an I/O error: the source ends with a
    # message naming it, after the frames the decoder still held
    assert source.stopped_reason.startswith(f"live source {url} stopped after ")
    assert "the sender closed the connection" in source.stopped_reason
    for frame in frames:
        assert_gray_level(frame)
    times = [frame.time_s for frame in frames]
    assert times == sorted(times) and times[0] >= 0
    assert stats.received == stats.delivered + stats.dropped and 40 <= stats.received <= 45


def test_a_file_frame_is_converted_to_rgb_only_when_used(tmp_path):
    """FileSource hands the decoded picture on; the engine converts only the frames a target frame takes (30 fps
    into 10 fps: one in three), with the same results as pushing every frame's RGB image."""
    from unittest import mock

    from checkpoint_fakes import BILSTM, make_checkpoint

    from riskvision.inference import stream as stream_module
    from riskvision.inference.predictor import Predictor
    from riskvision.inference.stream import StreamEngine

    path = write_video(tmp_path / "v.mp4", seconds=0.3, fps=30, width=64, height=48)  # 9 frames -> 3 target frames
    predictor = Predictor.from_checkpoint(make_checkpoint(tmp_path / "net", BILSTM))
    with open_source(path) as source:
        frames = list(source)
    assert len(frames) == 9 and all(isinstance(frame.picture, av.VideoFrame) for frame in frames)

    def scores(pictures: list) -> list[float]:
        engine = StreamEngine(predictor)
        pushed = [r for picture, frame in zip(pictures, frames) for r in engine.push(picture, frame.time_s)]
        return [r.p_crash for r in pushed + engine.finish()]

    with mock.patch.object(stream_module, "frame_to_rgb", wraps=stream_module.frame_to_rgb) as convert:
        lazy = scores([frame.picture for frame in frames])
    assert convert.call_count == 3  # target frames 0, 1, 2 take native frames 0, 3, 6
    assert lazy == scores([frame.image for frame in frames]) and len(lazy) == 3
    assert all(frame.picture is frame.image for frame in frames)  # read once: the RGB image from then on
