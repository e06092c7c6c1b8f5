"""riskvision.data.prepare (and scripts/prepare_data.py over it): layout, sizes, frame rate, annotations,
resumability, failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from riskvision.data.layout import DataLayoutError
from riskvision.data.prepare import Settings, prepare, short_side_size

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_data.py"


def _grey(level: int, size: tuple[int, int]) -> np.ndarray:
    return np.full((*size, 3), level, np.uint8)


def _raw_dota(root: Path) -> Path:
    """Two 64x36 clips: A in frames/<clip>/images/, B in frames/<clip>/ (re-extracted layout)."""
    for clip, frames, images in (("aaaaaaaaaaa_000001", 5, True), ("bbbbbbbbbbb_000002", 3, False)):
        folder = root / "frames" / clip / ("images" if images else "")
        folder.mkdir(parents=True)
        for i in range(frames):
            Image.fromarray(_grey(30 * i + 20, (36, 64))).save(folder / f"{i:06d}.jpg", quality=95)
    (root / "annotations").mkdir()
    label = {
        "frame_id": 0,
        "image_path": "frames/aaaaaaaaaaa_000001/images/000000.jpg",
        "objects": [{"obj_track_id": 1, "bbox": [32, 18, 64, 36], "category": "car"}],
    }
    (root / "annotations" / "aaaaaaaaaaa_000001.json").write_text(json.dumps({"num_frames": 5, "labels": [label]}))
    (root / "metadata_val.json").write_text(json.dumps({"aaaaaaaaaaa_000001": {"num_frames": 5}}))
    (root / "val_split.txt").write_text("aaaaaaaaaaa_000001\n")
    return root


def _raw_bdd(root: Path, frames: int = 31) -> Path:
    """One 64x48 H.264 MP4 at 30 fps; native frame i is grey level 8 * i."""
    folder = root / "videos" / "100k" / "val"
    folder.mkdir(parents=True)
    with av.open(str(folder / "cafe0001-beef0001.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(_grey(8 * i, (48, 64)), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return root


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*.jpg"))}


@pytest.fixture()
def prepared(tmp_path):
    dota, bdd, out = _raw_dota(tmp_path / "raw_dota"), _raw_bdd(tmp_path / "raw_bdd"), tmp_path / "out"
    assert prepare(dota, bdd, out, Settings(short_side=16), workers=2, bdd_splits=("val",)) == []
    return dota, bdd, out


def test_short_side_size():
    assert short_side_size(720, 1280, 256) == (256, 455)
    assert short_side_size(1280, 720, 256) == (455, 256)
    assert short_side_size(200, 300, 256) == (200, 300)


def test_dota_layout_sizes_and_metadata(prepared):
    _, _, out = prepared
    a = sorted((out / "dota/frames/aaaaaaaaaaa_000001/images").iterdir())
    b = sorted((out / "dota/frames/bbbbbbbbbbb_000002/images").iterdir())
    assert [p.name for p in a] == [f"{i:06d}.jpg" for i in range(5)] and len(b) == 3
    for i, path in enumerate(a):
        with Image.open(path) as image:
            assert image.size == (28, 16)
            assert abs(np.asarray(image).mean() - (30 * i + 20)) < 3  # frame order kept
    assert (out / "dota/val_split.txt").read_text() == "aaaaaaaaaaa_000001\n"
    assert json.loads((out / "dota/metadata_val.json").read_text()) == {"aaaaaaaaaaa_000001": {"num_frames": 5}}
    annotation = json.loads((out / "dota/annotations/aaaaaaaaaaa_000001.json").read_text())
    assert annotation["labels"][0]["objects"][0]["bbox"] == [14.0, 8.0, 28.0, 16.0]
    info = json.loads((out / "dota/prepared.json").read_text())
    assert info["fps"] == 10 and info["short_side"] == 16 and info["jpeg_quality"] == 90
    assert not any((out / "dota/.tmp").iterdir())


def test_bdd_resampled_to_10_fps_with_short_side(prepared):
    _, _, out = prepared
    frames = sorted((out / "bdd/frames/100k/val/cafe0001-beef0001").iterdir())
    assert [p.name for p in frames] == [f"{i:06d}.jpg" for i in range(11)]  # 31 native frames at 30 fps -> 11 at 10
    for i, path in enumerate(frames):
        with Image.open(path) as image:
            assert image.size == (21, 16)
            assert round(np.asarray(image).mean() / 8) == 3 * i  # target frame i is native frame 3i
    assert json.loads((out / "bdd/prepared.json").read_text())["fps"] == 10


def test_rerun_redoes_half_written_video_and_skips_finished_ones(prepared):
    dota, bdd, out = prepared
    clip_a = out / "dota/frames/aaaaaaaaaaa_000001"
    finished_b = _mtimes(out / "dota/frames/bbbbbbbbbbb_000002")
    finished_bdd = _mtimes(out / "bdd/frames")
    # simulate an interruption while clip A was being written: its temp folder holds one junk frame
    (out / "dota/frames/aaaaaaaaaaa_000001").rename(out / "dota/.tmp/aaaaaaaaaaa_000001")
    (out / "dota/.tmp/aaaaaaaaaaa_000001/images/000009.jpg").write_bytes(b"junk")
    assert prepare(dota, bdd, out, Settings(short_side=16), workers=1, bdd_splits=("val",)) == []
    assert sorted(p.name for p in (clip_a / "images").iterdir()) == [f"{i:06d}.jpg" for i in range(5)]
    assert not (out / "dota/.tmp/aaaaaaaaaaa_000001").exists()
    assert _mtimes(out / "dota/frames/bbbbbbbbbbb_000002") == finished_b
    assert _mtimes(out / "bdd/frames") == finished_bdd


def test_corrupt_video_is_reported_and_others_finish(tmp_path):
    bdd = _raw_bdd(tmp_path / "raw_bdd", frames=4)
    (bdd / "videos/100k/val/dead0000-dead0000.mov").write_bytes(b"\x00" * 64)
    command = [
        sys.executable,
        str(SCRIPT),
        "--bdd-root",
        str(bdd),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "1",
        "--bdd-splits",
        "val",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 1
    assert "dead0000-dead0000.mov" in proc.stderr
    assert (tmp_path / "out/bdd/frames/100k/val/cafe0001-beef0001").is_dir()
    assert not (tmp_path / "out/bdd/frames/100k/val/dead0000-dead0000").exists()


def test_missing_layout_names_path_and_expected_layout(tmp_path):
    with pytest.raises(DataLayoutError, match="no frames/ folder.*frames/<clip>/images"):
        prepare(tmp_path, None, tmp_path / "out")
    with pytest.raises(DataLayoutError, match="videos/100k/train"):
        prepare(None, tmp_path, tmp_path / "out")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--bdd-root", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 2 and "videos/100k/train" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_dota_frame_is_substituted_with_warning(tmp_path):
    dota = _raw_dota(tmp_path / "raw")
    (dota / "frames/aaaaaaaaaaa_000001/images/000002.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match="000002.jpg"):
        prepare(dota, None, tmp_path / "out", Settings(short_side=16))
    with Image.open(tmp_path / "out/dota/frames/aaaaaaaaaaa_000001/images/000002.jpg") as image:
        assert abs(np.asarray(image).mean() - 50) < 3  # frame 1 (nearest, earlier on a tie)
