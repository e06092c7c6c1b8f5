"""riskvision.inference.stream (with .backends and .smoothing): frames pushed one at a time with their timestamps.

The reference is the offline path (tests/offline_reference.py): ``decode_video`` (``timebase.to_target`` +
``VideoFileReader``) and ``score_windows`` (eval.py's sliding windows). Checkpoints and videos come from
``tests/checkpoint_fakes.py`` (tiny nets, random weights); no training.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from checkpoint_fakes import BILSTM, R3D101, make_checkpoint, write_video
from offline_reference import decode_video, score_windows

from riskvision.data.readers import resize_frame
from riskvision.data.timebase import native_index, target_num_frames
from riskvision.inference import Predictor
from riskvision.inference.backends import Backend, TorchBackend
from riskvision.inference.smoothing import (
    Alarm,
    AlarmEvent,
    ClassLevels,
    ExponentialSmoother,
    MovingAverage,
    NoSmoothing,
    ProbabilityBands,
    default_levels,
)
from riskvision.inference.stream import StreamEngine, TimestampResampler
from riskvision.tasks import BinaryCrash, RiskLevels


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stream")
    return {
        "bilstm": make_checkpoint(root / "bilstm", BILSTM),  # 4 frames of 32x32
        "resnet3d101": make_checkpoint(root / "r3d", R3D101),  # 10 frames of 32x32, 3 classes
        "clip": write_video(root / "clip.mp4", seconds=3, fps=30, width=96, height=64),  # 90 frames -> 30
        "odd": write_video(root / "odd.mp4", seconds=33 / 25, fps=25, width=70, height=46),  # 33 frames -> 13
    }


@pytest.fixture(scope="module")
def predictors(files) -> dict[str, Predictor]:
    return {name: Predictor.from_checkpoint(files[name], batch_size=3) for name in ("bilstm", "resnet3d101")}


def decoded(path: Path) -> list[tuple[np.ndarray, float]]:
    """Every frame of ``path`` as PyAV decodes it, with its presentation time ``pts * time_base`` (seconds)."""
    with av.open(str(path)) as container:
        return [(f.to_ndarray(format="rgb24"), float(f.pts * f.time_base)) for f in container.decode(video=0)]


def stream_all(engine: StreamEngine, frames) -> list:
    results = [r for image, time_s in frames for r in engine.push(image, time_s)]
    return results + engine.finish()


def table(results, predictor: Predictor) -> np.ndarray:
    """The results' probability columns as ``score_windows`` returns them: ``[W]`` binary, ``[W, K]`` classes."""
    values = np.array([[r.probs[c] for c in predictor.task.prob_columns] for r in results])
    return values[:, 0] if values.shape[1] == 1 else values


# ---------------------------------------------------------------------- the offline reference, both models
@pytest.mark.parametrize(
    ("model", "video", "step"),
    [
        ("bilstm", "clip", 1),
        ("bilstm", "odd", 1),
        ("bilstm", "clip", 7),
        ("resnet3d101", "clip", 1),
        ("resnet3d101", "odd", 2),
    ],
)
def test_stream_equals_score_windows(files, predictors, model, video, step):
    """Without smoothing the stream gives eval.py's sliding scores of the decoded file: same end frames and
    probabilities (1e-5), the frame count of timebase.to_target included."""
    predictor = predictors[model]
    offline = decode_video(files[video], predictor.frame_size, predictor.target_fps)
    ends, values = score_windows(predictor, offline, step=step)
    results = stream_all(StreamEngine(predictor, step=step, smoothing=NoSmoothing()), decoded(files[video]))
    assert [r.frame for r in results] == ends.tolist()
    np.testing.assert_allclose(table(results, predictor), values, atol=1e-5)
    p_crash = predictor.task.crash_probability(values)
    np.testing.assert_allclose([r.p_crash for r in results], p_crash, atol=1e-5)
    np.testing.assert_allclose([r.smoothed for r in results], [r.p_crash for r in results])
    assert [r.time_s for r in results] == pytest.approx(ends / predictor.target_fps)


def test_frames_change_size_mid_stream(predictors):
    """Each frame is resized on its own: a stream whose frames change size scores like the resized frames."""
    predictor = predictors["bilstm"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 60, 3) if i < 6 else (25, 31, 3), dtype=np.uint8) for i in range(12)]
    images[3] = torch.from_numpy(images[3]).permute(2, 0, 1).contiguous()  # a torch [3, H, W] frame too
    engine = StreamEngine(predictor, smoothing=NoSmoothing())
    results = stream_all(engine, [(im, i / 10) for i, im in enumerate(images)])
    frames = torch.stack([resize_frame(im, predictor.frame_size) for im in images])
    ends, values = score_windows(predictor, frames)
    assert [r.frame for r in results] == ends.tolist()
    np.testing.assert_allclose(table(results, predictor), values, atol=1e-5)


def test_bad_images_are_refused_by_name(predictors):
    engine = StreamEngine(predictors["bilstm"])
    with pytest.raises(TypeError, match=r"uint8 RGB numpy \[H, W, 3\].*float32 \(8, 8, 3\)"):
        engine.push(np.zeros((8, 8, 3), np.float32), 0.0)
    with pytest.raises(TypeError, match=r"torch \[3, H, W\]"):
        engine.push(torch.zeros(8, 8, 3, dtype=torch.uint8), 0.0)


# ---------------------------------------------------------------------- the time base
def assigned(times: list[float], target_fps: float) -> list[int]:
    """Target frame -> index of the pushed frame it takes, from a TimestampResampler."""
    resampler, out = TimestampResampler(target_fps), {}
    for n, t in enumerate(times):
        previous, current = resampler.push(t)
        out.update({i: n - 1 for i in previous} | {i: n for i in current})
    out.update({i: len(times) - 1 for i in resampler.finish()})
    assert sorted(out) == list(range(len(out)))
    return [out[i] for i in range(len(out))]


@pytest.mark.parametrize("native_fps", [30, 25, Fraction(30000, 1001), 10, 5, 24, 12.5, 7, 60])
@pytest.mark.parametrize("target_fps", [10, 7.5, 30])
def test_timestamps_reproduce_timebase(native_fps, target_fps):
    """A constant-rate stream picks timebase's native frames, round(i * native / target) (halves up), and
    as many target frames as target_num_frames; the origin is the first frame's time, whatever it is."""
    nf, tf = float(native_fps), float(target_fps)
    for n in (2, 3, 17, 301):
        want = [native_index(i, nf, tf) for i in range(target_num_frames(n, nf, tf))]
        assert assigned([float(k / Fraction(native_fps)) for k in range(n)], tf) == want
        assert assigned([1234.5 + k / nf for k in range(n)], tf) == want


def test_timestamps_of_a_variable_rate_stream():
    """Each target time takes the nearest pushed frame (a tie: the later one): a stall holds the picture
    until half way, a burst of frames is thinned; times not after the previous are dropped."""
    times = [0.0, 0.1, 0.2, 0.65, 0.7, 0.72, 0.74, 0.76, 0.9, 1.2]
    # targets 0.0 .. 1.3: 0.3 -> 0.2 (nearest), 0.4 -> 0.2 (0.4 < midpoint 0.425), 0.5 -> 0.65, 0.6 -> 0.65,
    # 0.7 -> 0.7, 0.8 -> 0.76, 0.9 -> 0.9, 1.0 -> 0.9 (< 1.05), 1.1 -> 1.2, 1.2 -> 1.2, 1.3 -> 1.2 (< 1.35)
    assert assigned(times, 10) == [0, 1, 2, 2, 2, 3, 3, 4, 7, 8, 8, 9, 9, 9]
    resampler = TimestampResampler(10)
    assert resampler.push(5.0) == ([], [0])
    assert resampler.push(5.0) is None and resampler.push(4.9) is None  # not after 5.0: dropped
    assert resampler.push(5.1) == ([], [1])


def test_engine_drops_frames_out_of_time_order(predictors):
    engine = StreamEngine(predictors["bilstm"], smoothing=NoSmoothing())
    image = np.zeros((8, 8, 3), np.uint8)
    assert [r.frame for r in engine.push(image, 0.0)] == [0]
    with pytest.warns(UserWarning, match="not after the previous frame's; dropped"):
        assert engine.push(image, 0.0) == []
    assert [r.frame for r in engine.push(image, 0.1)] == [1] and engine.dropped == 1


# ---------------------------------------------------------------------- work and memory
class CountingBackend:
    """A TorchBackend that counts the frames its backbone sees and the windows it scores."""

    def __init__(self, predictor: Predictor) -> None:
        self.inner = TorchBackend(predictor)
        self.per_frame = self.inner.per_frame
        self.frames = self.windows = 0

    def features(self, frames):
        self.frames += len(frames)
        return self.inner.features(frames)

    def sequence(self, features):
        self.windows += len(features)
        return self.inner.sequence(features)

    def window(self, video):
        self.windows += len(video)
        return self.inner.window(video)


def test_bilstm_backbone_runs_once_per_target_frame(predictors):
    """30 fps pushed at a 10 fps target: 90 frames, 30 target frames, the backbone sees 30 frames, the
    sequence head runs once per result; a repeated frame (5 fps pushed) is not run twice."""
    predictor = predictors["bilstm"]
    backend = CountingBackend(predictor)
    assert isinstance(backend, Backend) and backend.per_frame
    image = np.zeros((16, 16, 3), np.uint8)
    results = stream_all(StreamEngine(predictor, backend=backend), [(image, k / 30) for k in range(90)])
    assert len(results) == 30 and backend.frames == 30 and backend.windows == 30
    slow = CountingBackend(predictor)
    results = stream_all(StreamEngine(predictor, backend=slow), [(image, k / 5) for k in range(10)])
    assert len(results) == 19 and slow.frames == 10 and slow.windows == 19


def test_resnet3d_backend_is_one_window_per_result(predictors):
    backend = TorchBackend(predictors["resnet3d101"])
    assert not backend.per_frame
    with pytest.raises(TypeError, match="no per-frame part"):
        backend.features(torch.zeros(1, 3, 32, 32))


class MeanBackend:
    """A stand-in net (any Backend works): a frame's feature is its channel means, a window's logit their sum."""

    def __init__(self, per_frame: bool) -> None:
        self.per_frame = per_frame

    def features(self, frames):
        return frames.mean(dim=(2, 3))  # [N, 3]

    def sequence(self, features):
        return features.sum(dim=(1, 2))[:, None]  # [B, 1]

    def window(self, video):
        return video.mean(dim=(3, 4)).sum(dim=(1, 2))[:, None]


@pytest.mark.parametrize("per_frame", [True, False])
def test_buffers_are_bounded_by_the_window(predictors, per_frame):
    """500 pushed frames: the ring buffer never holds more than num_frames entries, the engine no image but
    the latest, and a result comes for every target frame."""
    predictor = predictors["bilstm"]
    engine = StreamEngine(predictor, backend=MeanBackend(per_frame))
    image = np.full((12, 12, 3), 128, np.uint8)
    count = 0
    for k in range(500):
        count += len(engine.push(image, k / 10))
        assert engine.buffered <= predictor.num_frames and len(engine.indices) <= predictor.num_frames
    assert count == 500 and engine.buffered == predictor.num_frames
    shapes = {tuple(x.shape) for x in engine.buffer}
    assert shapes == ({(3,)} if per_frame else {(3, *predictor.frame_size)})


@pytest.mark.parametrize("per_frame", [True, False])
def test_latest_only_never_falls_behind_a_source_that_drops_frames(predictors, per_frame):
    """A live source that dropped frames jumps in time: with latest_only a push scores only its newest result
    (the same numbers as scoring them all), and the others are counted as skipped."""
    predictor = predictors["bilstm"]
    times = [0.0, 0.1, 0.2, 1.0, 1.1, 2.5, 2.6]  # at 10 fps: gaps of 0.8 s and 1.4 s
    every = StreamEngine(predictor, backend=MeanBackend(per_frame))
    newest = StreamEngine(predictor, backend=MeanBackend(per_frame), latest_only=True)
    generator = np.random.default_rng(0)
    scored, kept = 0, 0
    for time_s in times:
        image = generator.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        all_results, latest = every.push(image, time_s), newest.push(image, time_s)
        assert len(latest) == min(1, len(all_results))
        if latest:
            assert latest[0].frame == all_results[-1].frame
            assert latest[0].probs == pytest.approx(all_results[-1].probs, abs=1e-6)
        scored, kept = scored + len(all_results), kept + len(latest)
    assert scored == 27 and kept == len(times) and newest.skipped == scored - kept  # frames 0..26 (0 to 2.6 s)


# ---------------------------------------------------------------------- smoothing, levels, alarm
def test_exponential_smoother_is_exact_for_irregular_steps():
    smoother = ExponentialSmoother(time_constant_s=0.5)
    assert smoother.update(0.2, 0.0) == 0.2
    expected = 0.2 + (1 - math.exp(-0.3 / 0.5)) * (1.0 - 0.2)
    assert smoother.update(1.0, 0.3) == pytest.approx(expected)
    one, two = ExponentialSmoother(0.5), ExponentialSmoother(0.5)
    one.update(0.0, 0.0), two.update(0.0, 0.0)
    two.update(1.0, 0.1)
    assert one.update(1.0, 0.2) == pytest.approx(two.update(1.0, 0.2))  # one step of 0.2 s == two of 0.1 s
    assert ExponentialSmoother(0).update(0.7, 0.0) == 0.7
    with pytest.raises(ValueError, match="time_constant_s"):
        ExponentialSmoother(-1)


def test_moving_average_and_no_smoothing():
    average = MovingAverage(3)
    values = [average.update(v, i / 10) for i, v in enumerate([0.3, 0.6, 0.9, 0.0])]
    assert values == pytest.approx([0.3, 0.45, 0.6, 0.5])
    average.reset()
    assert average.update(1.0, 5.0) == 1.0
    assert NoSmoothing().update(0.42, 1.0) == 0.42


def test_levels():
    bands = default_levels(BinaryCrash(), 0.6)
    assert isinstance(bands, ProbabilityBands) and (bands.medium, bands.high) == (0.3, 0.6)
    assert [bands.level(np.array([0.0]), p) for p in (0.29, 0.3, 0.59, 0.6)] == ["low", "medium", "medium", "high"]
    classes = default_levels(RiskLevels(("Normal", "Warning", "Danger")), 0.5)
    assert isinstance(classes, ClassLevels)
    assert classes.level(np.array([0.2, 0.3, 0.5]), 0.0) == "Danger"
    assert classes.level(np.array([0.4, 0.35, 0.25]), 0.9) == "Normal"


def test_alarm_hysteresis_on_a_hand_made_series():
    """on 0.6, off 0.4, min_on_s 0.3, outputs every 0.1 s: on once 0.3 s of >= 0.6 are seen, not off in
    [0.4, 0.6), off below 0.4; a dip below on restarts the count."""
    alarm = Alarm(on=0.6, off=0.4, min_on_s=0.3)
    series = [0.7, 0.7, 0.5, 0.7, 0.7, 0.7, 0.7, 0.5, 0.3, 0.7, 0.7, 0.7]
    events, states = [], []
    for i, value in enumerate(series):
        events += alarm.update(value, i / 10, i)
        states.append(alarm.active)
    assert events == [AlarmEvent("on", 0.6, 6), AlarmEvent("off", 0.8, 8)]
    assert states == [False] * 6 + [True, True] + [False] * 4
    immediate = Alarm(on=0.5, min_on_s=0)
    assert immediate.off == 0.4 and immediate.update(0.5, 0.0, 0) == [AlarmEvent("on", 0.0, 0)]
    with pytest.raises(ValueError, match="off <= on"):
        Alarm(on=0.5, off=0.6)


def test_engine_smooths_levels_and_alarms(predictors):
    """The engine's defaults: smoothed = ExponentialSmoother(0.5 s) of p_crash at the result times, the
    alarm at the predictor's threshold; its events appear on the results and match alarm flips."""
    predictor = predictors["bilstm"]
    rng = np.random.default_rng(1)
    frames = [(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), k / 10) for k in range(40)]
    engine = StreamEngine(predictor, alarm=Alarm(on=0.5, off=0.45, min_on_s=0.2))
    results = stream_all(engine, frames)
    smoother = ExponentialSmoother(0.5)
    assert [r.smoothed for r in results] == pytest.approx([smoother.update(r.p_crash, r.time_s) for r in results])
    alarm = Alarm(on=0.5, off=0.45, min_on_s=0.2)
    assert [r.events for r in results] == [alarm.update(r.smoothed, r.time_s, r.frame) for r in results]
    assert all(r.level in ("low", "medium", "high") and r.latency_ms >= 0 for r in results)
    flips = [r.frame for prev, r in zip(results, results[1:]) if r.alarm != prev.alarm]
    assert flips == [e.frame for r in results for e in r.events if r.frame > 0]
    assert StreamEngine(predictor).alarm.on == predictor.threshold
