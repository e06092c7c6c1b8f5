"""Run folders, videos and review pages for the review tests (fixtures in conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))  # the evaluation tests' fake runs
from evaluation_fakes import FPS, FRAMES, synthetic_table, task_of, write_fake_run  # noqa: E402

from riskvision.evaluation.deployment import deployment_metrics  # noqa: E402
from riskvision.evaluation.report import Run  # noqa: E402
from riskvision.video_io import encode_mp4  # noqa: E402

__all__ = [
    "FPS",
    "FRAMES",
    "browser_unavailable",
    "numbered_frame",
    "write_frame_folder",
    "write_runs",
    "write_video",
    "scale_runs",
]


def numbered_frame(index: int, size: tuple[int, int] = (160, 96)) -> np.ndarray:
    """uint8 ``[H, W, 3]`` whose brightness tells its ``index`` (``8 * index``, a bar moving right)."""
    width, height = size
    frame = np.full((height, width, 3), min(255, 8 * index), np.uint8)
    frame[height // 3 : height // 2, (3 * index) % (width - 10) : (3 * index) % (width - 10) + 10] = (255, 0, 0)
    return frame


def write_frame_folder(folder: Path, count: int) -> Path:
    """``count`` JPEGs ``000000.jpg ...`` of :func:`numbered_frame` (DoTA's ``frames/<id>/images``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(numbered_frame(i)).save(folder / f"{i:06d}.jpg", quality=95)
    return folder


def write_video(path: Path, count: int, fps: int) -> Path:
    """An MP4 of ``count`` frames at ``fps`` whose native frame ``j`` is :func:`numbered_frame` ``(j * 10 // fps)``
    (so target frame ``i`` at 10 fps shows index ``i``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_mp4(path, [numbered_frame(j * 10 // fps) for j in range(count)], (160, 96), fps, 20)
    return path


def write_runs(root: Path) -> list[Path]:
    """The evaluation tests' two run folders (binary ``bilstm``, 3-class ``resnet3d101``) under ``root/runs``: 6
    DoTA crash videos ``dota_00..05`` and 6 BDD normal videos ``bdd_06..11`` of 30 frames at 10 fps."""
    return [
        write_fake_run(root / "runs" / "bilstm", "binary", 2.0, 0),
        write_fake_run(root / "runs" / "resnet3d101", "multiclass", 1.0, 1),
    ]


def scale_runs(n_videos: int, n_runs: int, root: Path) -> list[Run]:
    """``n_runs`` runs (alternately binary and 3-class, each its own noise) of ``n_videos`` videos (half crash) of 30
    frames, in memory, with metrics.json's ``run`` and ``deployment`` entries (what the page reads)."""
    runs = []
    for r in range(n_runs):
        task = "binary" if r % 2 == 0 else "multiclass"
        table = synthetic_table(
            task, n_crash=n_videos // 2, n_normal=n_videos - n_videos // 2, skill=1.0 + r % 3, seed=r
        )
        metrics = {
            "run": {"name": f"run{r}", "threshold": 0.5, "task": task_of(task).name},
            "deployment": deployment_metrics(table, 0.5, n_boot=2),
        }
        runs.append(Run(f"run{r}", root / f"run{r}", table, metrics))
    return runs


def browser_unavailable(reason: str) -> None:
    """Skip a browser test, saying why; under ``CI=true`` (``.ci/run`` installs chromium) fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run installs it, so the browser tests may not be skipped)")
    pytest.skip(reason)
