"""``--help`` of every Hydra entry point opens with riskvision's usage text and lists the config groups (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def help_text(script: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, script, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_train_help_shows_the_commands_and_every_config_group_with_its_options():
    lines = help_text("train.py")
    assert lines[0].startswith("riskvision train.py:"), lines[:3]
    assert any(line.strip().startswith("python train.py model=bilstm") for line in lines)
    groups = dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(" "))
    for group in ("model", "data", "experiment", "trainer", "logger", "debug", "callbacks", "data/augment"):
        assert group in groups, f"config group {group} missing from --help"
    assert {"bilstm", "resnet3d101"} <= set(groups["model"].split(", "))
    assert {"quickstart", "seed_bilstm", "seed_resnet3d101"} <= set(groups["experiment"].split(", "))
    assert len(lines) < 60, "the whole config belongs to --cfg job, not --help"
    assert any("--cfg job" in line for line in lines)


@pytest.mark.parametrize(
    "script",
    [
        "scripts/eval.py",
        "scripts/compare.py",
        "scripts/predict_video.py",
        "scripts/export.py",
        "scripts/check_data.py",
        "scripts/review.py",
    ],
)
def test_every_entry_point_help_opens_with_its_own_usage(script):
    lines = help_text(script)
    assert lines[0].startswith(f"riskvision {script}:"), lines[:3]
    assert any(line.strip().startswith(f"python {script}") for line in lines)
    assert len(lines) < 60


@pytest.mark.parametrize(
    "script",
    [
        "train.py",
        "scripts/eval.py",
        "scripts/compare.py",
        "scripts/predict_video.py",
        "scripts/export.py",
        "scripts/check_data.py",
    ],
)
def test_help_imports_neither_torch_nor_lightning(script):
    """--help answers after Hydra composes the config: the heavy imports wait for a run (33 s -> ~2 s at load 5)."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{script!r}, '--help']\n"
        f"try: runpy.run_path({script!r}, run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(name for name in ('torch', 'lightning') if name in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout[-2000:] + proc.stderr[-2000:]
