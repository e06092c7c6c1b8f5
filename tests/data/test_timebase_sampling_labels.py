"""Frame-rate mapping, clip samplers and the label policy on hand-checked cases."""

from pathlib import Path

import pytest
import torch

from riskvision.data.labels import DANGER, NORMAL, WARNING, LabelPolicy
from riskvision.data.records import VideoRecord
from riskvision.data.sampling import UniformSampler, WindowSampler
from riskvision.data.timebase import native_index, target_num_frames, to_target


def record(num_frames, fps=10.0, span=(None, None), source="dota"):
    return VideoRecord("abc_000001", source, Path("x"), "frames", fps, num_frames, *span)


def test_bdd_30fps_maps_every_third_frame():
    assert [native_index(i, 30.0, 10.0) for i in range(4)] == [0, 3, 6, 9]
    assert target_num_frames(1200, 30.0, 10.0) == 400  # 40 s BDD video
    assert target_num_frames(1201, 30.0, 10.0) == 401
    assert target_num_frames(26, 10.0, 10.0) == 26


def test_anomaly_span_converted_and_never_emptied():
    video = to_target(record(300, fps=30.0, span=(31, 32)), 10.0)  # 1 native frame, between targets
    assert (video.num_frames, video.anomaly_start, video.anomaly_end) == (100, 11, 12)
    assert to_target(record(26, span=(0, 26)), 10.0).anomaly_end == 26
    video = to_target(record(90, fps=30.0, span=(30, 60)), 10.0)
    assert (video.anomaly_start, video.anomaly_end) == (10, 20)
    assert video.native_indices([0, 10, 29]) == [0, 30, 87]


def test_uniform_spreads_long_and_pads_short_videos_like_the_seed():
    sampler = UniformSampler(4)
    assert sampler.frames(10, 9) == [0, 3, 6, 9]
    assert sampler.frames(3, 2) == [0, 1, 2, 2]  # repeats the LAST frame, does not stretch
    assert list(sampler.train_anchors(10)) == list(sampler.eval_anchors(10)) == [9]


def test_uniform_jitter_draws_one_frame_per_segment_for_training_clips_only():
    sampler = UniformSampler(4, jitter=True)
    torch.manual_seed(0)
    draws = [sampler.frames(40, 39, random=True) for _ in range(200)]
    for frames in draws:
        assert [f // 10 for f in frames] == [0, 1, 2, 3]  # segments [0, 10), [10, 20), ...
    assert len({tuple(d) for d in draws}) > 100  # a different clip almost every epoch
    assert {f for d in draws for f in d} == set(range(40))  # every frame can be drawn
    assert sampler.frames(40, 39) == [0, 13, 26, 39]  # evaluation clips: evenly spread, fixed
    assert UniformSampler(4).frames(40, 39, random=True) == [0, 13, 26, 39]  # jitter off: the seed
    assert sampler.frames(3, 2, random=True) == [0, 1, 2, 2]  # short videos pad as before
    torch.manual_seed(1)
    first = sampler.frames(40, 39, random=True)
    torch.manual_seed(1)
    assert sampler.frames(40, 39, random=True) == first  # torch's RNG, seeded per worker by Lightning


def test_window_repeats_frame_zero_before_the_start():
    sampler = WindowSampler(4, eval_step=3)
    assert sampler.frames(10, 1) == [0, 0, 0, 1]
    assert sampler.frames(10, 9) == [6, 7, 8, 9]
    assert list(sampler.eval_anchors(10)) == [0, 3, 6, 9]
    assert list(sampler.train_anchors(3)) == [0, 1, 2]
    with pytest.raises(ValueError, match="eval_step"):
        WindowSampler(4, eval_step=0)


def test_risk_levels_at_the_boundaries():
    video = to_target(record(100, span=(40, 50)), 10.0)
    policy = LabelPolicy(warning_horizon_s=2.0)
    expected = {19: NORMAL, 20: WARNING, 39: WARNING, 40: DANGER, 49: DANGER, 50: NORMAL}
    assert {t: policy.risk(video, [0, t]) for t in expected} == expected
    bdd = to_target(record(100, source="bdd"), 10.0)
    assert policy.risk(bdd, [45]) == NORMAL and policy.crash(bdd, [45]) == 0


def test_crash_modes():
    video = to_target(record(100, span=(40, 50)), 10.0)
    assert LabelPolicy("video").crash(video, [0, 1]) == 1
    assert LabelPolicy("overlap").crash(video, [0, 1]) == 0
    assert LabelPolicy("overlap").crash(video, [38, 39, 40]) == 1
    assert LabelPolicy("overlap").crash(video, [50, 51]) == 0
    with pytest.raises(ValueError, match="crash_mode"):
        LabelPolicy("frame")


@pytest.mark.parametrize(
    "sampler",
    [WindowSampler(4, eval_step=3), WindowSampler(16), UniformSampler(5), UniformSampler(5, jitter=True)],
    ids=["window-step3", "window16", "uniform", "jitter"],
)
@pytest.mark.parametrize("length", [1, 3, 12, 40])
def test_frames_used_holds_every_frame_a_clip_can_take(sampler, length):
    """What a feature cache stores: the union of every clip's frames (random draws included for training)."""
    torch.manual_seed(0)
    for train in (True, False):
        anchors = sampler.train_anchors(length) if train else sampler.eval_anchors(length)
        drawn = {t for end in anchors for _ in range(30) for t in sampler.frames(length, end, random=train)}
        used = sampler.frames_used(length, train)
        assert used == sorted(set(used)) and drawn <= set(used)
        if not (train and getattr(sampler, "jitter", False)):
            assert set(used) == drawn  # nothing more than the clips take
