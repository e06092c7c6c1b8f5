"""BDD100K trees (real MP4 files written with PyAV, frame folders) and bad input handling."""

import json
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.layout import DataLayoutError
from riskvision.data.records import DataWarning
from riskvision.data.sampling import UniformSampler, WindowSampler
from riskvision.data.sources.bdd import BddSource, build_bdd_index, detect_bdd_layout
from riskvision.data.sources.dota import DotaFilter, DotaSource, build_dota_index
from riskvision.data.splits import RandomSplit, SubsetSplit

pytestmark = pytest.mark.filterwarnings("ignore:DoTA annotation", "ignore:DoTA root")

CLIP = "pWZSG2cUdEo_003797"  # real: 26 frames, anomaly [19, 26)


def write_mp4(path: Path, num_frames: int, fps: int = 30) -> None:
    """An H.264 video whose native frame ``i`` is uniformly grey ``4 * i``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 4 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def bdd_module(root, **kwargs):
    return RiskDataModule(
        {"bdd": BddSource(root)},
        samplers={"window": WindowSampler(3)},
        sampler="window",
        split=kwargs.pop("split", SubsetSplit(val_fraction=0.5)),
        frames=FrameConfig(size=(8, 8), normalization="activitynet"),
        loader=LoaderConfig(eval_batch_size=64),
        **kwargs,
    )


def test_bdd_mp4_30fps_loads_at_10fps(tmp_path):
    root = tmp_path / "bdd"
    write_mp4(root / "videos/100k/train/aaaa-0001.mp4", 45)
    write_mp4(root / "videos/100k/train/aaaa-0002.mp4", 46)
    write_mp4(root / "videos/100k/val/bbbb-0001.mov", 30)
    assert detect_bdd_layout(root) == "videos"
    records = {r.video_id: r for r in build_bdd_index(root)}
    assert {k: (r.native_fps, r.num_frames, r.subset) for k, r in records.items()} == {
        "aaaa-0001": (30.0, 45, "train"),
        "aaaa-0002": (30.0, 46, "train"),
        "bbbb-0001": (30.0, 30, "val"),
    }
    assert (root / ".riskvision_index.json").is_file()  # probe cache written next to the data
    dm = bdd_module(root)
    dm.setup("test")
    (batch,) = list(dm.test_dataloader())
    assert batch["num_frames"].tolist() == [10] * 10 and batch["end_frame"].tolist() == list(range(10))
    assert set(batch["source"]) == {"bdd"} and batch["risk"].eq(0).all() and batch["crash"].eq(0).all()
    # activitynet = 0-255 minus mean: recover grey levels; target frame j must be native frame 3j
    grey = batch["video"][:, -1].mean(dim=(1, 2, 3)) + float(np.mean([114.7748, 107.7354, 99.4750]))
    np.testing.assert_allclose(grey.numpy(), [4 * 3 * j for j in range(10)], atol=3)
    for split in ("train", "val"):
        dm.setup("fit")
        assert dm.videos[split][0].num_frames in (15, 16)  # 45 or 46 native frames at 30 fps -> 10 fps


def test_bdd_frame_folders_take_fps_from_prepared_json(tmp_path, frame_writer):
    root = tmp_path / "bdd"
    frame_writer(root / "frames/100k/train/cccc-0001", 12)
    (root / "frames/100k/prepared.json").write_text(json.dumps({"fps": 10}))
    (record,) = build_bdd_index(root)
    assert (record.kind, record.native_fps, record.num_frames) == ("frames", 10.0, 12)
    (root / "frames/100k/prepared.json").unlink()
    with pytest.raises(DataLayoutError, match="bdd_frames_fps"):
        build_bdd_index(root)
    assert build_bdd_index(root, frames_fps=5)[0].native_fps == 5.0


def test_unreadable_video_is_dropped_with_a_warning(tmp_path):
    root = tmp_path / "bdd"
    write_mp4(root / "videos/100k/train/good-0001.mp4", 9)
    (root / "videos/100k/train/bad-0001.mov").write_bytes(b"not a video")
    issues = []
    with pytest.warns(DataWarning, match="bad-0001.mov"):
        records = build_bdd_index(root, issues=issues)
    assert [r.video_id for r in records] == ["good-0001"]
    assert [i.kind for i in issues] == ["unreadable_video"]


def test_unknown_bdd_layout_shows_both(tmp_path):
    with pytest.raises(DataLayoutError, match=r"(?s)videos/100k.*frames/100k"):
        detect_bdd_layout(tmp_path)


def test_corrupt_and_empty_jpegs_are_substituted_and_counted(make_official_tree):
    root = make_official_tree([CLIP])
    folder = root / "frames" / CLIP / "images"
    (folder / "000003.jpg").write_bytes(b"")
    (folder / "000005.jpg").write_bytes((folder / "000005.jpg").read_bytes()[:40])
    dm = RiskDataModule(
        {"dota": DotaSource(root)},
        samplers={"window": WindowSampler(8)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
        loader=LoaderConfig(eval_batch_size=64),
    )
    dm.setup("test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (batch,) = list(dm.test_dataloader())
    messages = " ".join(str(w.message) for w in caught)
    assert "000003.jpg" in messages and "000005.jpg" in messages
    # windows ending at 3..10 hold frame 3 (5..12 hold frame 5): one count per bad frame per window
    expected = [int(t - 7 <= 3 <= t) + int(t - 7 <= 5 <= t) for t in range(26)]
    assert batch["substituted"].tolist() == expected


def test_missing_frame_folder_is_dropped_and_gaps_filled(make_official_tree):
    root = make_official_tree([CLIP, "WWyeuvpHmfc_004101"])
    for f in (root / "frames/WWyeuvpHmfc_004101/images").iterdir():
        f.unlink()
    (root / "frames" / CLIP / "images" / "000004.jpg").unlink()
    issues = []
    with pytest.warns(DataWarning, match="WWyeuvpHmfc_004101"):
        (record,) = build_dota_index(root, issues=issues)
    kinds = sorted(i.kind for i in issues)
    assert kinds == ["missing_folder", "missing_frames"]
    assert record.num_frames == 26 and record.frame_files[4] in ("000003.jpg", "000005.jpg")


def test_zero_clip_split_names_split_and_filters(make_official_tree):
    root = make_official_tree([CLIP])  # "ego: moving_ahead_or_waiting"
    dm = RiskDataModule(
        {"dota": DotaSource(root, filters=DotaFilter(categories=["LA"]))},
        samplers={"window": WindowSampler(8)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
    )
    with pytest.raises(ValueError, match=r"(?s)split 'test' has zero clips.*categories=\['lateral'\]"):
        dm.setup("test")


def test_seed_layout_is_detected_and_read(tmp_path, fixtures_dir, frame_writer):
    seed_files = fixtures_dir / "seed-project"
    meta = json.loads((seed_files / "final_metadata_val.json").read_text())
    dota = [c for c, m in meta.items() if m["anomaly_class"] == "turning"][:2]
    bdd = [c for c, m in meta.items() if m["anomaly_class"] == "normal"][:2]
    root = tmp_path / "seed"
    root.mkdir()
    for name in ("final_metadata_val.json", "metadata_val_bdd.json"):
        (root / name).write_text((seed_files / name).read_text())
    (root / "final_train_split.txt").write_text(f"{dota[0]}\n{bdd[0]}\n")
    (root / "final_val_split.txt").write_text(f"{dota[1]}\n{bdd[1]}\n")
    for clip in dota:
        frame_writer(root / "DoTA/DoTA_Frames" / clip / "images", meta[clip]["num_frames"])
    for clip in bdd:
        frame_writer(root / "BDD100K/BDD_Frames" / clip, 7, first=1)  # numbered from 1
    records = {r.video_id: r for r in build_dota_index(root)}
    assert {k: (r.source, r.subset) for k, r in records.items()} == {
        dota[0]: ("dota", "train"),
        bdd[0]: ("bdd", "train"),
        dota[1]: ("dota", "val"),
        bdd[1]: ("bdd", "val"),
    }
    assert records[dota[0]].category == "turning" and records[dota[0]].anomaly_start == meta[dota[0]]["anomaly_start"]
    assert records[bdd[0]].num_frames == 7 and records[bdd[0]].frame_files[0] == "000001.jpg"
    assert records[bdd[0]].native_fps == 10.0 and not records[bdd[0]].has_anomaly


def test_unknown_dota_layout_shows_both(tmp_path):
    (tmp_path / "frames").mkdir()
    with pytest.raises(DataLayoutError, match=r"(?s)metadata_\{train,val\}\.json.*DoTA/DoTA_Frames"):
        build_dota_index(tmp_path)


def test_dota_and_bdd_together_share_one_frame_rate(make_official_tree, tmp_path):
    dota = make_official_tree([CLIP])
    write_mp4(tmp_path / "bdd/videos/100k/val/dddd-0001.mp4", 60)
    dm = RiskDataModule(
        [DotaSource(dota), BddSource(tmp_path / "bdd")],
        samplers={"uniform": UniformSampler(4)},
        sampler="uniform",
        split=RandomSplit({"test": 1.0}),
        frames=FrameConfig(size=(8, 8)),
    )
    dm.setup("test")
    (batch,) = list(dm.test_dataloader())
    assert dict(zip(batch["source"], batch["fps"].tolist())) == {"dota": 10.0, "bdd": 10.0}
    assert dict(zip(batch["source"], batch["num_frames"].tolist())) == {"dota": 26, "bdd": 20}
