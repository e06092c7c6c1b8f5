"""The typed settings of a predict run (riskvision.inference.config) and the net's threads: one ``threads`` setting
for the torch and the onnxruntime backend alike, including torch when ``backend=auto`` falls back to it, for file
input as for live input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_fakes import BILSTM, make_checkpoint, write_video

from riskvision.alarm import AlarmPolicy, NoSmoothing
from riskvision.inference import (
    AlarmConfig,
    InputConfig,
    OutputConfig,
    Predictor,
    RuntimeConfig,
    backend_factory,
    predict_videos,
)
from riskvision.inference.backend_choice import BACKEND_ENV
from riskvision.inference.backends import TorchBackend
from riskvision.inference.cli import main
from riskvision.models.resnet_bilstm import ResNetBiLSTM


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("run_config")
    return {"ckpt": make_checkpoint(root / "ckpt", BILSTM), "video": write_video(root / "drive.mp4", 0.5, 10, 48, 32)}


@pytest.fixture
def threads_seen(monkeypatch) -> list[int]:
    """torch's intra-op threads each time the bilstm's backbone runs."""
    seen: list[int] = []
    original = ResNetBiLSTM.forward_features

    def recording(net, video):
        seen.append(torch.get_num_threads())
        return original(net, video)

    monkeypatch.setattr(ResNetBiLSTM, "forward_features", recording)
    return seen


@pytest.fixture
def onnx_export_fails(monkeypatch):
    """``backend=auto`` chooses onnxruntime, and its export fails: the torch fallback runs."""
    monkeypatch.setenv(BACKEND_ENV, "onnxruntime")

    def broken(*args, **kwargs):
        raise RuntimeError("the exporter cannot trace this net")

    monkeypatch.setattr(backend_factory, "_onnx_backend", broken)


def test_the_torch_fallback_of_auto_runs_the_net_at_the_threads_asked_for(files, threads_seen, onnx_export_fails):
    assert torch.get_num_threads() == 1  # tests/inference/conftest.py
    predictor = Predictor.from_checkpoint(files["ckpt"], threads=2)
    backend = predictor.make_backend()
    assert isinstance(backend, TorchBackend)
    frames = [(np.full((32, 32, 3), 10 * i, np.uint8), i / 10) for i in range(6)]
    results = list(predictor.stream(frames, backend=backend))
    assert results and threads_seen and set(threads_seen) == {2}
    assert torch.get_num_threads() == 1  # the caller's setting, restored after each call
    list(Predictor.from_checkpoint(files["ckpt"]).stream(frames))  # no threads asked for: torch's own setting
    assert threads_seen[-1] == 1


def test_predict_videos_applies_runtime_threads_to_file_input_on_the_torch_fallback(
    files, tmp_path, threads_seen, onnx_export_fails, caplog
):
    with caplog.at_level("INFO", logger="riskvision.inference.videos"):
        report = predict_videos(
            files["ckpt"],
            [files["video"]],
            tmp_path / "out",
            runtime=RuntimeConfig(threads=2),
            outputs=OutputConfig(timeline=False),
            alarm=AlarmConfig(policy=AlarmPolicy(NoSmoothing()), threshold=0.4),
        )
    assert not report.failures and report.results[0].rows == 5
    assert threads_seen and set(threads_seen) == {2}
    assert "threads: 2 for the net" in caplog.text and ">= 0.40 " in report.alarm_rule
    assert torch.get_num_threads() == 1
    assert not (tmp_path / "out" / "drive_timeline.png").exists()


def test_the_onnx_backend_gets_the_same_threads(files, monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "onnxruntime")
    asked: list[int | None] = []

    def fake(model, export_dir, threads):
        asked.append(threads)
        return "onnx backend", None

    monkeypatch.setattr(backend_factory, "_onnx_backend", fake)
    assert Predictor.from_checkpoint(files["ckpt"], threads=3).make_backend() == "onnx backend"
    assert RuntimeConfig(threads=3).load(files["ckpt"]).make_backend() == "onnx backend"
    assert asked == [3, 3]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RuntimeConfig(backend="tensorrt"), r"backend='tensorrt' is not one of \['auto', 'torch'"),
        (lambda: RuntimeConfig(precision="fp8"), r"precision='fp8' is not one of"),
        (lambda: RuntimeConfig(threads=0), r"threads=0 must be a whole number >= 1. Fix: threads=1"),
        (lambda: RuntimeConfig(batch_size=2.5), r"batch_size=2.5 must be a whole number >= 1"),
        (lambda: OutputConfig(fmt="xml"), r"format='xml' is not one of \['csv', 'jsonl'\]"),
        (lambda: OutputConfig(overlay_short_side=1), r"overlay_short_side=1 must be a whole number >= 2"),
        (lambda: AlarmConfig(threshold=1.5), r"alarm_threshold=1.5 is not a probability in \(0, 1\)"),
        (lambda: InputConfig(frames_fps=0), r"frames_fps=0 must be a number > 0"),
    ],
)
def test_a_bad_setting_is_one_error_naming_it(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_configs_are_frozen_and_runtime_keeps_what_from_checkpoint_takes(files):
    runtime = RuntimeConfig(batch_size=3, trusted_targets=["my_package.MyNet"])
    with pytest.raises(AttributeError):
        runtime.batch_size = 4  # frozen: one run's settings
    assert runtime.trusted_targets == ("my_package.MyNet",)
    predictor = RuntimeConfig(batch_size=3, backend="torch", threads=2).load(files["ckpt"])
    assert (predictor.batch_size, predictor.backend_kind, predictor.threads) == (3, "torch", 2)


def test_console_threads_option_is_checked_before_loading(files, tmp_path, capsys):
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(tmp_path / "o"), "--threads", "0"]) == 2
    assert "--threads 0 must be a whole number >= 1" in capsys.readouterr().err
