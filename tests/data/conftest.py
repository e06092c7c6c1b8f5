"""Tiny data trees for the data-layer tests, built in ``tmp_path`` from the real DoTA files copied
to tests/fixtures/dota/ (never from /work/shared)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "dota"
FRAME_SIZE = (18, 32)  # (H, W) of generated frames


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def official_metadata() -> dict[str, dict]:
    """Real official metadata, train and val merged."""
    out = {}
    for subset in ("train", "val"):
        out.update(json.loads((FIXTURES / "official" / f"metadata_{subset}.json").read_text()))
    return out


def write_frames(folder: Path, count: int, first: int = 0, value: Callable[[int], int] | None = None) -> None:
    """``count`` 32x18 JPEGs ``%06d.jpg`` numbered from ``first``; frame ``i`` is grey ``value(i)``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        grey = value(i) if value else (i * 7) % 256
        Image.fromarray(np.full((*FRAME_SIZE, 3), grey, np.uint8)).save(folder / f"{first + i:06d}.jpg")


def write_official_tree(root: Path, metadata: dict[str, dict], clips: Iterable[str], annotations: bool = True) -> Path:
    """An official-layout DoTA tree holding ``clips`` (real metadata, tiny frames, real annotation
    files when the fixtures have them)."""
    clips = list(clips)
    for subset in ("train", "val"):
        chosen = {c: metadata[c] for c in clips if metadata[c]["subset"] == subset}
        (root / f"metadata_{subset}.json").parent.mkdir(parents=True, exist_ok=True)
        (root / f"metadata_{subset}.json").write_text(json.dumps(chosen))
        (root / f"{subset}_split.txt").write_text("".join(f"{c}\n" for c in chosen))
    for clip in clips:
        write_frames(root / "frames" / clip / "images", metadata[clip]["num_frames"])
        source = FIXTURES / "annotations" / f"{clip}.json"
        if annotations and source.is_file():
            (root / "annotations").mkdir(exist_ok=True)
            (root / "annotations" / source.name).write_text(source.read_text())
    return root


@pytest.fixture
def make_official_tree(tmp_path: Path, official_metadata: dict) -> Callable[..., Path]:
    def make(clips: Iterable[str], name: str = "dota", **kwargs) -> Path:
        return write_official_tree(tmp_path / name, official_metadata, clips, **kwargs)

    return make


@pytest.fixture(scope="session")
def frame_writer() -> Callable[..., None]:
    """:func:`write_frames` as a fixture (test modules do not import conftest)."""
    return write_frames


def write_video(path: Path, num_frames: int, fps: int = 10, size: tuple[int, int] = (32, 32)) -> Path:
    """An H.264 MP4 of ``num_frames`` frames of ``size`` (W, H) at ``fps``.

    Native frame ``i`` is grey ``(4 * i) % 256``.
    """
    from riskvision.video_io import encode_mp4

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = (np.full((size[1], size[0], 3), (4 * i) % 256, np.uint8) for i in range(num_frames))
    encode_mp4(path, frames, size, fps, qp=20)
    return path


@pytest.fixture(scope="session")
def video_writer() -> Callable[..., Path]:
    """:func:`write_video` as a fixture."""
    return write_video


def train_on(data: str, root: Path, run_dir: Path, *overrides: str) -> dict:
    """``python train.py data=DATA data.root=ROOT OVERRIDES`` with a tiny bilstm (16x16, 4 frames), fast_dev_run,
    ``test=true`` and the evaluation (every 5th window, no probes); its ``metrics.json``."""
    command = [
        sys.executable,
        "train.py",
        f"data={data}",
        f"data.root={root}",
        f"hydra.run.dir={run_dir}",
        "model=bilstm",
        "model.inputs.frame_size=16",
        "model.inputs.num_frames=4",
        "model.inputs.batch_size=2",
        "model.net.hidden_size=4",
        "model.pretrained.source=null",
        "data.loader.num_workers=0",
        "data.loader.pin_memory=false",
        "debug=fast_dev_run",
        "test=true",
        "evaluation.step=5",
        "evaluation.n_boot=10",
        "evaluation.latency_repeats=0",
        "evaluation.probes=[none]",
        "extras.print_config=false",
        *overrides,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "CI": "true",
    }
    proc = subprocess.run(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="session")
def train_py() -> Callable[..., dict]:
    """:func:`train_on` as a fixture."""
    return train_on
