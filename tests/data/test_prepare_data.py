"""scripts/prepare_data.py: layout, sizes, frame rate, annotations, resumability, failures."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_data.py"


@pytest.fixture(scope="module")
def prep():
    spec = importlib.util.spec_from_file_location("prepare_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["prepare_data"] = module  # worker processes unpickle jobs by module name
    spec.loader.exec_module(module)
    return module


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
    label = {"frame_id": 0, "image_path": "frames/aaaaaaaaaaa_000001/images/000000.jpg",
             "objects": [{"obj_track_id": 1, "bbox": [32, 18, 64, 36], "category": "car"}]}
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
def prepared(tmp_path, prep):
    dota, bdd, out = _raw_dota(tmp_path / "raw_dota"), _raw_bdd(tmp_path / "raw_bdd"), tmp_path / "out"
    argv = ["--dota-root", str(dota), "--bdd-root", str(bdd), "--out", str(out), "--short-side", "16",
            "--workers", "2", "--bdd-splits", "val"]
    assert prep.main(argv) == 0
    return dota, bdd, out, argv


def test_short_side_size(prep):
    assert prep.short_side_size(720, 1280, 256) == (256, 455)
    assert prep.short_side_size(1280, 720, 256) == (455, 256)
    assert prep.short_side_size(200, 300, 256) == (200, 300)


def test_dota_layout_sizes_and_metadata(prepared):
    _, _, out, _ = prepared
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
    _, _, out, _ = prepared
    frames = sorted((out / "bdd/frames/100k/val/cafe0001-beef0001").iterdir())
    assert [p.name for p in frames] == [f"{i:06d}.jpg" for i in range(11)]  # 31 native frames at 30 fps -> 11 at 10
    for i, path in enumerate(frames):
        with Image.open(path) as image:
            assert image.size == (21, 16)
            assert round(np.asarray(image).mean() / 8) == 3 * i  # target frame i is native frame 3i
    assert json.loads((out / "bdd/prepared.json").read_text())["fps"] == 10


def test_rerun_redoes_half_written_video_and_skips_finished_ones(prepared, prep):
    _, _, out, argv = prepared
    clip_a = out / "dota/frames/aaaaaaaaaaa_000001"
    finished_b = _mtimes(out / "dota/frames/bbbbbbbbbbb_000002")
    finished_bdd = _mtimes(out / "bdd/frames")
    # simulate an interruption while clip A was being written: its temp folder holds one junk frame
    (out / "dota/frames/aaaaaaaaaaa_000001").rename(out / "dota/.tmp/aaaaaaaaaaa_000001")
    (out / "dota/.tmp/aaaaaaaaaaa_000001/images/000009.jpg").write_bytes(b"junk")
    assert prep.main(argv[:-4] + ["--workers", "1", "--bdd-splits", "val"]) == 0
    assert sorted(p.name for p in (clip_a / "images").iterdir()) == [f"{i:06d}.jpg" for i in range(5)]
    assert not (out / "dota/.tmp/aaaaaaaaaaa_000001").exists()
    assert _mtimes(out / "dota/frames/bbbbbbbbbbb_000002") == finished_b
    assert _mtimes(out / "bdd/frames") == finished_bdd


def test_corrupt_video_is_reported_and_others_finish(tmp_path, prep, capsys):
    bdd = _raw_bdd(tmp_path / "raw_bdd", frames=4)
    (bdd / "videos/100k/val/dead0000-dead0000.mov").write_bytes(b"\x00" * 64)
    code = prep.main(["--bdd-root", str(bdd), "--out", str(tmp_path / "out"), "--workers", "1", "--bdd-splits", "val"])
    assert code == 1
    assert "dead0000-dead0000.mov" in capsys.readouterr().err
    assert (tmp_path / "out/bdd/frames/100k/val/cafe0001-beef0001").is_dir()
    assert not (tmp_path / "out/bdd/frames/100k/val/dead0000-dead0000").exists()


def test_missing_layout_names_path_and_expected_layout(tmp_path, prep):
    with pytest.raises(SystemExit, match="no frames/ folder.*frames/<clip>/images"):
        prep.main(["--dota-root", str(tmp_path), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="videos/100k/train"):
        prep.main(["--bdd-root", str(tmp_path), "--out", str(tmp_path / "out")])


def test_corrupt_dota_frame_is_substituted_with_warning(tmp_path, prep):
    dota = _raw_dota(tmp_path / "raw")
    (dota / "frames/aaaaaaaaaaa_000001/images/000002.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match="000002.jpg"):
        prep.prepare(dota, None, tmp_path / "out", prep.Settings(short_side=16))
    with Image.open(tmp_path / "out/dota/frames/aaaaaaaaaaa_000001/images/000002.jpg") as image:
        assert abs(np.asarray(image).mean() - 50) < 3  # frame 1 (nearest, earlier on a tie)
