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
from offline_reference import decode_video, score_windows

from riskvision.data.layout import DataFileError
from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.inference import (
    AlarmConfig,
    InputConfig,
    OutputConfig,
    Predictor,
    RuntimeConfig,
    predict_videos,
)
from riskvision.inference.annotations import read_anomaly_spans, span_for
from riskvision.inference.inputs import output_names
from riskvision.inference.outputs import ALARM_COLOUR, LEVEL_COLOURS, display_size
from riskvision.inference.sources import FileSource
from riskvision.inference.videos import find_sources

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
    """The command line on two good videos, an undecodable one and a missing one, with the overlay; the alarm
    turns on and off exactly at the tuned threshold (no hysteresis band, no minimum time)."""
    out = files["root"] / "binary_out"
    videos = [files["clip"], files["odd"], files["bad"], files["root"] / "missing.mov"]
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    threshold = stored_threshold(files["binary"])
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"ckpt_path={files['binary']}",
            f"videos=[{','.join(map(str, videos))}]",
            f"hydra.run.dir={out}",
            "overlay=true",
            "batch_size=4",
            "threads=1",
            "alarm=hysteresis",
            "alarm.rule.off_ratio=1.0",
            "alarm.rule.min_on_s=0",
            f"alarm_threshold={threshold}",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, out


def hand_window(
    frames: list[np.ndarray], end: int, num_frames: int, native_per_target: int, size: int, preset: str
) -> torch.Tensor:
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
    assert "2 source(s) failed (2 scored" in proc.stderr
    assert "threads: 1 for the net (torch / onnxruntime intra-op; threads=)" in proc.stdout + proc.stderr  # applied
    bad_line = next(line for line in proc.stderr.splitlines() if "bad.mp4" in line and "Fix" in line)
    assert "cannot be opened" in bad_line and "Invalid data" in bad_line and "Fix: check that it is a video" in bad_line
    assert any("missing.mov" in line and "does not exist" in line for line in proc.stderr.splitlines())
    for stem in ("clip", "odd"):  # the good ones are still written, completely
        assert (out / f"{stem}.csv").is_file() and (out / f"{stem}_timeline.png").stat().st_size > 1000
    assert not list(out.glob(".*.tmp")) and not list(out.glob("*.partial")) and not list(out.glob("bad*"))
    # one summary table at the end (a row per source, the failures last), not lines per source along the way
    lines = (proc.stdout + proc.stderr).splitlines()
    start = next(k for k, line in enumerate(lines) if "Summary: 2 source(s) scored, 2 failed; alarm" in line)
    threshold = stored_threshold(files["binary"])
    assert f"alarm on when smoothed P(crash) >= {threshold:.2f} for 0 s, off below {threshold:.2f}" in lines[start]
    assert lines[start + 1].split()[:3] == ["source", "results", "seconds"]
    row = next(line for line in lines[start + 2 : start + 4] if line.startswith("clip.mp4 "))
    table = pd.read_csv(out / "clip.csv")
    first = table.query("alarm")["time_s"].iloc[0]
    best = table["p_crash"].idxmax()
    assert row.split()[1:3] == ["30", "2.9"] and f"{first:.1f}" in row.split()
    assert f"{table['p_crash'][best]:.3f} at {table['time_s'][best]:.1f} s" in row
    assert sum("FAILED" in line and "bad.mp4" in line for line in lines[start:]) == 1
    assert not [line for line in lines if "clip.mp4: 30 results over" in line]  # no per-source summary line
    log = (out / "predict_video.log").read_text()
    assert "clip.mp4: 90 frames received (30 fps) -> 30 results at 10 fps, 2.9 s of video scored" in log
    assert "x real time" in log and "0 frames dropped" in log


def test_binary_csv_rows_times_padding_decision_smoothing_and_alarm(binary_run, files):
    _, out = binary_run
    table = pd.read_csv(out / "clip.csv")
    assert list(table.columns) == [
        "video",
        "frame",
        "time_s",
        "padded_frames",
        "prob_crash",
        "p_crash",
        "decision",
        "smoothed",
        "level",
        "alarm",
        "latency_ms",
    ]
    assert table["frame"].tolist() == list(range(30))  # 3 s at the checkpoint's 10 fps
    assert (table["video"] == "clip.mp4").all()
    np.testing.assert_allclose(table["time_s"], table["frame"] / 10.0)
    assert table["padded_frames"].tolist()[:5] == [3, 2, 1, 0, 0] and (table["padded_frames"][3:] == 0).all()
    assert table["prob_crash"].between(0, 1).all() and (table["p_crash"] == table["prob_crash"]).all()
    threshold = stored_threshold(files["binary"])
    decision = table["prob_crash"] >= threshold
    assert (table["decision"] == decision).all() and 10 <= decision.sum() <= 20  # the tuned threshold, not 0.5
    # smoothing by hand: exponential, time constant 0.5 s, 0.1 s apart, starting at the first value
    alpha, smoothed = 1 - np.exp(-0.1 / 0.5), [table["p_crash"][0]]
    for p in table["p_crash"][1:]:
        smoothed.append(smoothed[-1] + alpha * (p - smoothed[-1]))
    np.testing.assert_allclose(table["smoothed"], smoothed, atol=1e-9)
    alarm = np.asarray(smoothed) >= threshold  # on = off = threshold, no minimum time: the alarm is the comparison
    assert (table["alarm"] == alarm).all() and 0 < alarm.sum() < 30, "the alarm must turn on and off here"
    bands = np.where(alarm, "high", np.where(np.asarray(smoothed) >= 0.5 * threshold, "medium", "low"))
    assert (table["level"] == bands).all()
    assert (table["latency_ms"] >= 0).all()
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
            scores[cache] = score_windows(predictor, decoded, step=step)
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
    colours = {name: np.array(LEVEL_COLOURS[name]) for name in ("low", "medium", "high")}
    for frame, level in zip(frames, table["level"]):  # the banner's colour is the level's
        banner = frame[2:6, 40:].reshape(-1, 3).mean(0)
        assert min(colours, key=lambda name: np.abs(colours[name] - banner).sum()) == level
    edge = np.stack([f[100:300, 1:3].reshape(-1, 3).mean(0) for f in frames])  # the left border, below the banner
    red = (np.abs(edge - np.array(ALARM_COLOUR)) < 40).all(axis=1)
    assert (red == table["alarm"].to_numpy()).all()  # a red border while the alarm is on
    with av.open(str(out / "odd_overlay.mp4")) as container:
        odd = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(odd) == 13 and odd[0].shape == (360, 548, 3)  # 70x46 -> even sides


def test_multiclass_checkpoint_with_step(files, tmp_path):
    report = predict_videos(
        files["multiclass"],
        [files["clip"]],
        tmp_path,
        step=3,
        runtime=RuntimeConfig(batch_size=4),
        outputs=OutputConfig(fmt="jsonl"),
    )
    assert not report.failures and len(report.results) == 1
    table = pd.read_json(tmp_path / "clip.jsonl", lines=True)
    assert list(table.columns) == [
        "video",
        "frame",
        "time_s",
        "padded_frames",
        "prob_normal",
        "prob_warning",
        "prob_danger",
        "p_crash",
        "decision",
        "smoothed",
        "level",
        "alarm",
        "latency_ms",
    ]
    assert table["frame"].tolist() == list(range(0, 30, 3))
    assert table["padded_frames"].tolist() == [max(0, 9 - f) for f in range(0, 30, 3)]  # 10-frame windows
    probs = table[["prob_normal", "prob_warning", "prob_danger"]].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(table["p_crash"], 1 - table["prob_normal"], atol=1e-9)
    names = np.array(["Normal", "Warning", "Danger"])[probs.argmax(axis=1)]
    assert (table["decision"] == names).all() and (table["level"] == names).all()  # a class task's level: its class
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
    with pytest.raises(
        ValueError,
        match="weights_only.ckpt is not a checkpoint of riskvision's train.py: it holds a "
        "checkpoint without riskvision's run config",
    ):
        Predictor.from_checkpoint(no_config)
    old = tmp_path / "old.ckpt"  # a run config of the version before riskvision.tasks
    torch.save({"state_dict": {}, "riskvision_cfg": {"model": {"task": "binary"}}}, old)
    with pytest.raises(ValueError, match=r"old.ckpt was written by an older riskvision .*model.task='binary'.*Fix"):
        Predictor.from_checkpoint(old)
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt does not exist. Fix: pass a .ckpt"):
        Predictor.from_checkpoint(tmp_path / "nowhere.ckpt")
    with pytest.raises(ValueError, match="step=0 must be >= 1"):
        predict_videos(files["binary"], [files["clip"]], tmp_path, step=0)
    with pytest.raises(ValueError, match=r"alarm_threshold=1.5 is not a probability in \(0, 1\). Fix: set"):
        predict_videos(files["binary"], [files["clip"]], tmp_path, alarm=AlarmConfig(threshold=1.5))
    empty = tmp_path / "empty.mp4"  # a container with a declared stream and no frame
    with av.open(str(empty), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    folder = tmp_path / "no_videos"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    broken = tmp_path / "broken_frames"  # a frame folder whose only frame does not decode: no frame to score
    broken.mkdir()
    (broken / "000000.jpg").write_text("not a picture")
    with pytest.warns(UserWarning, match="skipping frame 0"):
        report = predict_videos(files["binary"], [empty, folder, broken], tmp_path / "out")
    assert not report.results
    assert [Path(v).name for v, _ in report.failures] == ["no_videos", "empty.mp4", "broken_frames"]
    assert "holds no video files" in report.failures[0][1]
    assert "empty.mp4 has no video stream. Fix" in report.failures[1][1]
    assert "broken_frames gave no frame to score. Fix" in report.failures[2][1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["run.json"], (
        "a source without frames leaves no file"
    )


class FailingSource(FileSource):
    """A video file whose decoding raises after ``fail_after`` frames (a disk error midway)."""

    def __init__(self, path: Path, fail_after: int) -> None:
        super().__init__(path)
        self.fail_after = fail_after

    def read(self):
        if self._received == self.fail_after:
            raise OSError(f"read error in {self.path} (simulated)")
        return super().read()


def test_a_source_failing_midway_keeps_its_complete_rows_under_a_partial_name(files, tmp_path, monkeypatch):
    import riskvision.inference.videos as videos

    opened = videos.open_source
    monkeypatch.setattr(
        videos,
        "open_source",
        lambda spec, **kw: FailingSource(Path(spec), 45) if Path(spec).name == "clip.mp4" else opened(spec, **kw),
    )
    report = predict_videos(
        files["binary"], [files["clip"], files["odd"]], tmp_path, outputs=OutputConfig(overlay=True)
    )
    assert [Path(v).name for v, _ in report.failures] == ["clip.mp4"] and "simulated" in report.failures[0][1]
    assert [r.name for r in report.results] == ["odd"]  # the next source still ran
    assert not (tmp_path / "clip.csv").exists() and not (tmp_path / "clip_overlay.mp4").exists()
    partial = pd.read_csv(tmp_path / "clip.csv.partial")  # complete rows only: 45 native frames = 15 target frames
    assert partial["frame"].tolist() == list(range(len(partial))) and 13 <= len(partial) <= 15
    assert partial.notna().all().all()
    with av.open(str(tmp_path / "clip_overlay.mp4.partial")) as container:  # fragmented: what was written plays
        assert 10 <= sum(1 for _ in container.decode(video=0)) <= 15


def test_a_frame_folder_with_a_dota_annotation_and_the_timeline_span(files, tmp_path):
    clip = tmp_path / "frames" / "0RJPQ_97dcs_000199" / "images"
    clip.mkdir(parents=True)
    for i, frame in enumerate(decode_all(files["clip"])[::3]):  # 30 frames at 10 fps
        av.VideoFrame.from_ndarray(frame, format="rgb24").to_image().save(clip / f"{i:06d}.jpg", quality=95)
    annotation = ROOT / "tests" / "fixtures" / "dota" / "annotations" / "0RJPQ_97dcs_000199.json"
    spans = read_anomaly_spans(annotation.parent)
    assert spans["0RJPQ_97dcs_000199"] == (4.0, 7.0)  # frames [40, 70) at 10 fps
    assert span_for(spans, clip) == (4.0, 7.0) and span_for(spans, tmp_path / "other.mp4") is None
    report = predict_videos(
        files["binary"], [clip.parent.parent], tmp_path / "out", inputs=InputConfig(annotations=annotation)
    )
    assert not report.failures and [r.name for r in report.results] == ["0RJPQ_97dcs_000199"]  # frames/<clip>/images
    table = pd.read_csv(tmp_path / "out" / "0RJPQ_97dcs_000199.csv")
    assert table["frame"].tolist() == list(range(30)) and (table["video"] == "0RJPQ_97dcs_000199").all()
    assert (tmp_path / "out" / "0RJPQ_97dcs_000199_timeline.png").stat().st_size > 1000
    csv_spans = tmp_path / "spans.csv"
    csv_spans.write_text("video,anomaly_start_s,anomaly_end_s\ndrive.mp4,1.5,2.5\n")
    assert read_anomaly_spans(csv_spans) == {"drive": (1.5, 2.5)}
    csv_spans.write_text("video,start\ndrive.mp4,1.5\n")
    with pytest.raises(DataFileError, match=r"spans.csv lacks the column\(s\) \['anomaly_start_s', 'anomaly_end_s'\]"):
        read_anomaly_spans(csv_spans)
    with pytest.raises(FileNotFoundError, match="annotations=.*nowhere.json does not exist"):
        predict_videos(
            files["binary"], [clip], tmp_path / "never", inputs=InputConfig(annotations=tmp_path / "nowhere.json")
        )


def test_folder_input_and_colliding_stems(files, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "a.mov", "notes.txt"):
        (folder / name).write_bytes(files["odd"].read_bytes() if name != "notes.txt" else b"x")
    sources, problems = find_sources(str(folder))
    assert [Path(p).name for p in sources] == ["a.mov", "a.mp4"] and not problems
    assert output_names(sources) == ["a_mov", "a_mp4"]
    live = ["rtsp://camera.local:8554/front", "/dev/video7"]
    assert find_sources(live) == (live, [])  # live sources are kept as given (opened, or refused, when scored)
    assert output_names(live) == ["rtsp_camera_local_8554_front", "dev_video7"]
    assert display_size(720, 1280) == (360, 640) and display_size(1080, 606) == (642, 360)


def test_a_malformed_training_clip_span_is_refused(files, tmp_path):
    checkpoint = torch.load(files["binary"], weights_only=True)
    checkpoint["riskvision_train_clip_span_s"] = {"min": 5.0, "median": 2.0, "max": 9.0}
    forged = tmp_path / "forged.ckpt"
    torch.save(checkpoint, forged)
    with pytest.raises(ValueError, match=r"forged.ckpt: stored riskvision_train_clip_span_s=.* is not .*in order"):
        Predictor.from_checkpoint(forged)
    checkpoint["riskvision_train_clip_span_s"] = {"min": 0.3, "median": 0.4, "max": 0.5}
    torch.save(checkpoint, forged)
    assert Predictor.from_checkpoint(forged).train_clip_span_s["median"] == 0.4


@pytest.mark.parametrize(
    "choice, expected",
    [("exponential", "ExponentialSmoother"), ("moving_average", "MovingAverage"), ("none", "NoSmoothing")],
)
def test_the_smoothing_choices_of_the_script_config(choice, expected):
    import hydra
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "predict_video",
            overrides=["ckpt_path=x.ckpt", "videos=a.mp4", "alarm=hysteresis", f"smoothing@alarm.smoothing={choice}"],
        )
    smoother = hydra.utils.instantiate(cfg.alarm).smoother()
    assert type(smoother).__name__ == expected
    assert smoother.update(0.8, 0.0) == pytest.approx(0.8)  # every smoother starts at the first value
