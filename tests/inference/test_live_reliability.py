"""Issue 31, live and streamed input: times that restart are a discontinuity (the whole input is scored, one
warning), and the net leaves a core to a live source's decode thread (riskvision.inference.threads)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from riskvision.inference.sources import Timeline, open_source
from riskvision.inference.threads import inference_threads


def write_ts(path: Path, frames: int, fps: int = 10) -> bytes:
    """An MPEG-TS of ``frames`` frames whose times start at 0; returns its bytes."""
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("mpeg2video", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 8 * i, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()


def test_a_stream_whose_times_restart_is_read_whole_with_one_warning(tmp_path):
    joined = tmp_path / "joined.ts"  # two recordings concatenated: the second one's times restart at 0
    joined.write_bytes(write_ts(tmp_path / "a.ts", 20) + write_ts(tmp_path / "b.ts", 20))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_source(joined) as source:
            times = [frame.time_s for frame in source]
            stats = source.stats()
    assert len(times) == 40 and all(b > a for a, b in zip(times, times[1:]))  # every frame, in time order
    assert times[-1] == pytest.approx(3.9, abs=0.15) and stats.discontinuities == 1
    assert len([w for w in caught if "jump back" in str(w.message)]) == 1


def test_the_timeline_counts_each_jump_and_keeps_the_frame_interval():
    timeline = Timeline("cam", nominal_fps=10)
    with pytest.warns(UserWarning, match="cam jump back by 0.200 s"):
        out = [timeline(t) for t in (0.0, 0.1, 0.2, 0.0, 0.1, 0.05)]
    assert out == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]) and timeline.discontinuities == 2


def test_the_net_leaves_one_core_to_the_live_decode_thread():
    assert (inference_threads(live=True, cores=2).net, inference_threads(live=True, cores=16).net) == (1, 15)
    assert inference_threads(live=True, cores=1).net == 1 and inference_threads(live=False, cores=4).net == 4
    assert "1 for the net" in inference_threads(live=True, cores=2).describe()
