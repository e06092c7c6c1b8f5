"""Issue 31: predict_video.py / riskvision-predict settings: one clear line per bad value, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from riskvision.inference.cli import main
from riskvision.inference.settings import check_predict_settings
from riskvision.utils import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"alarm.smoothing.time_constant_s": "abc"},
            r"alarm.smoothing.time_constant_s='abc' is not a number. Fix: e.g. ",
        ),
        ({"alarm.smoothing.time_constant_s": -1.0}, r"alarm.smoothing.time_constant_s=-1.0 must be >= 0. Fix: "),
        ({"alarm_threshold": 1.5}, r"alarm_threshold=1.5 is a threshold of P\(crash\), between 0 and 1"),
        ({"alarm_threshold": "high"}, r"alarm_threshold='high' is not a number"),
        ({"alarm.rule.off_ratio": 1.5}, r"alarm.rule.off_ratio=1.5 is a threshold of P\(crash\), between 0 and 1"),
        ({"alarm.rule.min_on_s": -1}, r"alarm.rule.min_on_s=-1 must be >= 0"),
        ({"step": 0}, r"step=0 must be a whole number >= 1. Fix: step=1"),
        ({"step": "abc"}, r"step='abc' is not a whole number"),
        ({"threads": 0}, r"threads=0 must be a whole number >= 1. Fix: threads=1"),
        ({"threads": "many"}, r"threads='many' is not a whole number"),
        ({"format": "xml"}, r"format='xml' is not one of \['csv', 'jsonl'\]. Fix: format=csv"),
        ({"videos": []}, r"videos=\[\] names no source. Fix: videos=\[a.mp4,b.mov\]"),
        ({"backend": "tensorrt"}, r"backend='tensorrt' is not one of \['auto', 'torch', 'onnxruntime'\]"),
        ({"device": "gpu0"}, r"device='gpu0' is not a torch device"),
    ],
)
def test_each_bad_setting_is_one_line_naming_it(values, message):
    with pytest.raises(ConfigError, match=message):
        check_predict_settings(values)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_named():
    with pytest.raises(ConfigError, match=r"device='cuda' but CUDA is not available on this machine. Fix: device=cpu"):
        check_predict_settings({"device": "cuda"})


def test_the_console_command_refuses_a_negative_time_constant_like_the_script(tmp_path, capsys):
    assert main(["missing.ckpt", "x.mp4", "--out", str(tmp_path / "out"), "--time-constant", "-1"]) == 2
    assert "Error: --time-constant -1.0 must be >= 0. Fix: --time-constant 0 (none)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was loaded or claimed


def test_the_script_says_the_bad_value_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/predict_video.py",
            "ckpt_path=missing.ckpt",
            "videos=[x.mp4]",
            "alarm=hysteresis",
            "alarm.smoothing.time_constant_s=abc",
            f"hydra.run.dir={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "Error: alarm.smoothing.time_constant_s='abc' is not a number" in proc.stderr
