"""riskvision.inference (and scripts/predict_video.py over it): per-frame scores of a checkpoint on a user's own
video files (CPU, no downloads).

The checkpoints and videos come from ``tests/checkpoint_fakes.py`` (tiny nets, random weights, a non-default
tuned threshold, in the format train.py writes); no training.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from checkpoint_fakes import BILSTM, R3D101, make_checkpoint, write_video

from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.inference import Predictor, predict_videos
from riskvision.inference.inputs import decode_video, find_videos, output_names
from riskvision.inference.outputs import display_size
from riskvision.inference.scoring import score_windows

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "predict_video.py"


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def median_window_probability(clip: Path) -> Callable[[torch.nn.Module], float]:
    """A threshold between the middle two P(crash) of the clip's windows: about half of them raise the alarm."""
    def threshold(module: torch.nn.Module) -> float:
        frames = decode_all(clip)
        with torch.no_grad():
            video = torch.cat([hand_window(frames, end, 4, 3, 32, "imagenet") for end in range(30)])
            probs = np.sort(torch.sigmoid(module.eval()(video).reshape(-1)).numpy())
        return float(probs[14] + probs[15]) / 2
    return threshold


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("predict_video")
    bad = root / "bad.mp4"
    bad.write_text("this is a text file, not a video\n")
    clip = write_video(root / "clip.mp4", seconds=3, fps=30, width=96, height=64)  # 90 frames -> 30 at 10 fps
    return {
        "binary": make_checkpoint(root / "binary", BILSTM, median_window_probability(clip)),
        "multiclass": make_checkpoint(root / "multiclass", R3D101),
        "clip": clip,
        "odd": write_video(root / "odd.mp4", seconds=33 / 25, fps=25, width=70, height=46),  # 33 frames -> 13
        "bad": bad,
        "root": root,
    }


def stored_threshold(ckpt: Path) -> float:
    return torch.load(ckpt, weights_only=True)["state_dict"]["threshold"].item()


@pytest.fixture(scope="module")
def binary_run(files) -> tuple[subprocess.CompletedProcess, Path]:
    """The command line on two good videos, an undecodable one and a missing one, with the overlay."""
    out = files["root"] / "binary_out"
    videos = [files["clip"], files["odd"], files["bad"], files["root"] / "missing.mov"]
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), f"ckpt_path={files['binary']}", f"videos=[{','.join(map(str, videos))}]",
         f"hydra.run.dir={out}", "overlay=true", "batch_size=4"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    return proc, out


def hand_window(frames: list[np.ndarray], end: int, num_frames: int, native_per_target: int, size: int,
                preset: str) -> torch.Tensor:
    """The window ending at target frame ``end``, built without the script: native frame ``3 * i`` (30 -> 10
    fps), frame 0 repeated before the start, antialiased bilinear resize, ``(x * scale - mean) / std``."""
    scale, mean, std = NORMALIZATION_PRESETS[preset]
    clip = []
    for k in range(num_frames):
        i = max(0, end - num_frames + 1 + k)
        chw = torch.from_numpy(frames[i * native_per_target]).permute(2, 0, 1)[None]  # uint8, as training reads
        chw = F.interpolate(chw, size=(size, size), mode="bilinear", antialias=True, align_corners=False).float()
        clip.append((chw[0] * scale - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])
    return torch.stack(clip)[None]


def test_command_line_scores_good_videos_and_fails_on_bad_ones(binary_run, files):
    proc, out = binary_run
    assert proc.returncode != 0, "a bad video must make the run exit non-zero"
    assert "2 of 4 video(s) failed" in proc.stderr
    bad_line = next(line for line in proc.stderr.splitlines() if "bad.mp4:" in line)
    assert "cannot be used" in bad_line and "Invalid data" in bad_line and "Fix: check that it is a video" in bad_line
    assert any("missing.mov" in line and "does not exist" in line for line in proc.stderr.splitlines())
    for stem in ("clip", "odd"):  # the good ones are still written, completely
        assert (out / f"{stem}.csv").is_file() and (out / f"{stem}_timeline.png").stat().st_size > 1000
    assert not list(out.glob(".*.tmp")) and not (out / "bad.csv").exists()
    summary = [line for line in proc.stdout.splitlines() if line.startswith("clip.mp4: max P(crash)")]
    threshold = stored_threshold(files["binary"])
    assert len(summary) == 1 and f"(alarm: P(crash) >= {threshold:.2f})" in summary[0], proc.stdout
    first = pd.read_csv(out / "clip.csv").query("alarm")["time_s"].iloc[0]
    assert f"first alarm at {first:.1f} s" in summary[0]
    log = (out / "predict_video.log").read_text()
    assert "clip.mp4: 90 frames at 30 fps (3.0 s of video, 96x64) -> 30 frames at 10 fps" in log
    assert "30 windows scored" in log and "frames/s" in log


def test_binary_csv_rows_times_padding_and_alarm(binary_run, files):
    _, out = binary_run
    table = pd.read_csv(out / "clip.csv")
    assert list(table.columns) == ["video", "frame", "time_s", "padded_frames", "prob_crash", "p_crash", "alarm"]
    assert table["frame"].tolist() == list(range(30))  # 3 s at the checkpoint's 10 fps
    assert (table["video"] == "clip.mp4").all()
    np.testing.assert_allclose(table["time_s"], table["frame"] / 10.0)
    assert table["padded_frames"].tolist()[:5] == [3, 2, 1, 0, 0] and (table["padded_frames"][3:] == 0).all()
    assert table["prob_crash"].between(0, 1).all() and (table["p_crash"] == table["prob_crash"]).all()
    alarm = table["prob_crash"] >= stored_threshold(files["binary"])
    assert (table["alarm"] == alarm).all() and 10 <= alarm.sum() <= 20  # the tuned threshold, not 0.5
    odd = pd.read_csv(out / "odd.csv")  # 33 frames at 25 fps: target i <-> native round(2.5 i) < 33
    assert odd["frame"].tolist() == list(range(13))


def test_window_scores_equal_the_models_forward_on_hand_built_windows(binary_run, files):
    _, out = binary_run
    table = pd.read_csv(out / "clip.csv").set_index("frame")
    predictor = Predictor.from_checkpoint(files["binary"])
    assert predictor.cache_features and predictor.threshold == pytest.approx(stored_threshold(files["binary"]))
    frames = decode_all(files["clip"])
    ends = [0, 2, 3, 17, 29]
    with torch.no_grad():
        video = torch.cat([hand_window(frames, end, 4, 3, 32, "imagenet") for end in ends])
        expected = torch.sigmoid(predictor.module(video).reshape(-1)).numpy()
    np.testing.assert_allclose(table.loc[ends, "prob_crash"], expected, atol=2e-4)
    assert np.ptp(expected) > 1e-4, "windows must differ, or the comparison proves nothing"
    # the full forward per window (eval.py's way) gives the same numbers as the per-frame feature cache,
    # also when step > num_frames leaves frames out of every window
    decoded = decode_video(files["clip"], (32, 32), 10.0)
    for step in (1, 5):
        scores = {}
        for cache in (True, False):
            predictor.cache_features = cache
            scores[cache] = score_windows(predictor, decoded.frames, step=step)
            assert scores[cache][0].tolist() == list(range(0, 30, step))
            np.testing.assert_allclose(scores[cache][1], table.loc[scores[cache][0], "prob_crash"], atol=1e-5)


def test_overlay_video_has_one_frame_per_target_frame(binary_run):
    _, out = binary_run
    with av.open(str(out / "clip_overlay.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == pytest.approx(10.0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 30 and frames[0].shape == (360, 540, 3)  # short side 64 -> 360
    table = pd.read_csv(out / "clip.csv")
    banner = np.stack([f[2:6, :, :].reshape(-1, 3).mean(0) for f in frames])  # the bar's colour per frame
    red = banner[:, 0] > banner[:, 1] + 40
    assert (red == table["alarm"].to_numpy()).all() and 0 < red.sum() < 30  # red when the alarm is on, else green
    with av.open(str(out / "odd_overlay.mp4")) as container:
        odd = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(odd) == 13 and odd[0].shape == (360, 548, 3)  # 70x46 -> even sides


def test_multiclass_checkpoint_with_step(files, tmp_path):
    report = predict_videos(files["multiclass"], [files["clip"]], tmp_path, step=3, batch_size=4)
    assert not report.failures and len(report.results) == 1
    table = pd.read_csv(tmp_path / "clip.csv")
    assert list(table.columns) == ["video", "frame", "time_s", "padded_frames", "prob_normal", "prob_warning",
                                   "prob_danger", "p_crash", "alarm"]
    assert table["frame"].tolist() == list(range(0, 30, 3))
    assert table["padded_frames"].tolist() == [max(0, 9 - f) for f in range(0, 30, 3)]  # 10-frame windows
    probs = table[["prob_normal", "prob_warning", "prob_danger"]].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(table["p_crash"], 1 - table["prob_normal"], atol=1e-9)
    assert (table["alarm"] == np.array(["Normal", "Warning", "Danger"])[probs.argmax(axis=1)]).all()
    assert (tmp_path / "clip_timeline.png").is_file() and not (tmp_path / "clip_overlay.mp4").exists()
    predictor = Predictor.from_checkpoint(files["multiclass"])
    assert predictor.normalization == "kinetics" and not predictor.cache_features
    frames = decode_all(files["clip"])
    with torch.no_grad():
        video = torch.cat([hand_window(frames, end, 10, 3, 32, "kinetics") for end in (3, 21)])
        expected = torch.softmax(predictor.module(video), dim=1).numpy()
    np.testing.assert_allclose(probs[[1, 7]], expected, atol=2e-4)


def test_bad_inputs_are_clear_errors(files, tmp_path):
    no_config = tmp_path / "weights_only.ckpt"
    torch.save({"state_dict": {}}, no_config)
    with pytest.raises(ValueError, match="weights_only.ckpt is not a checkpoint of riskvision's train.py: it holds a "
                       "checkpoint without riskvision's run config"):
        Predictor.from_checkpoint(no_config)
    old = tmp_path / "old.ckpt"  # a run config of the version before riskvision.tasks
    torch.save({"state_dict": {}, "riskvision_cfg": {"model": {"task": "binary"}}}, old)
    with pytest.raises(ValueError, match=r"old.ckpt was written by an older riskvision .*model.task='binary'.*Fix"):
        Predictor.from_checkpoint(old)
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt does not exist. Fix: pass a .ckpt"):
        Predictor.from_checkpoint(tmp_path / "nowhere.ckpt")
    with pytest.raises(ValueError, match="step=0 must be >= 1"):
        predict_videos(files["binary"], [files["clip"]], tmp_path, step=0)
    empty = tmp_path / "empty.mp4"  # a container with a declared stream and no frame
    with av.open(str(empty), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    folder = tmp_path / "no_videos"
    folder.mkdir()
    report = predict_videos(files["binary"], [empty, folder], tmp_path / "out")
    assert not report.results and [Path(v).name for v, _ in report.failures] == ["no_videos", "empty.mp4"]
    assert "holds no video files" in report.failures[0][1]
    assert "empty.mp4" in report.failures[1][1] and "Fix" in report.failures[1][1]


def test_folder_input_and_colliding_stems(files, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "a.mov", "notes.txt"):
        (folder / name).write_bytes(files["odd"].read_bytes() if name != "notes.txt" else b"x")
    paths, problems = find_videos(str(folder))
    assert [p.name for p in paths] == ["a.mov", "a.mp4"] and not problems
    assert output_names(paths) == ["a_mov", "a_mp4"]
    assert display_size(720, 1280) == (360, 640) and display_size(1080, 606) == (642, 360)
