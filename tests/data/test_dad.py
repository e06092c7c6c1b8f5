"""The DAD source (Dashcam Accident Dataset) on tiny trees in its real layout: records, labels, bad input, training."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskvision.data.config import FrameConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.layout import DataLayoutError
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.base import EventFilter
from riskvision.data.sources.dad import DadSource, build_dad_index
from riskvision.evaluation.table import find_predictions, read_predictions

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")

#: ``{(phase, class): [(file stem, frames)]}``: 100 frames at 20 fps as released, one short positive.
CLIPS = {
    ("training", "positive"): [("000001", 100), ("000002", 100)],
    ("training", "negative"): [("000001", 100), ("000002", 100)],
    ("testing", "positive"): [("000456", 100), ("000457", 60)],
    ("testing", "negative"): [("000830", 100)],
}


def write_dad_tree(root: Path, video_writer, clips=CLIPS) -> Path:
    for (phase, kind), videos in clips.items():
        for stem, frames in videos:
            video_writer(root / "videos" / phase / kind / f"{stem}.mp4", frames, fps=20)
    return root


@pytest.fixture(scope="module")
def dad_root(tmp_path_factory, video_writer) -> Path:
    return write_dad_tree(tmp_path_factory.mktemp("dad") / "DAD", video_writer)


def test_records_have_the_accident_at_frame_90_and_the_releases_subsets(dad_root):
    issues = []
    records = {r.video_id: r for r in build_dad_index(dad_root, issues=issues)}
    assert list(records) == [
        "training_positive_000001",
        "training_positive_000002",
        "training_negative_000001",
        "training_negative_000002",
        "testing_positive_000456",
        "testing_positive_000457",
        "testing_negative_000830",
    ]
    positive = records["training_positive_000001"]
    assert (positive.source, positive.native_fps, positive.num_frames) == ("dad", 20.0, 100)
    assert (positive.anomaly_start, positive.anomaly_end, positive.category, positive.subset) == (
        90,
        100,
        "accident",
        "train",
    )
    assert (positive.ego, positive.night, positive.group) == (False, False, "training_positive_000001")
    negative = records["testing_negative_000830"]
    assert (negative.anomaly_start, negative.category, negative.subset) == (None, "normal", "val")
    short = records["testing_positive_000457"]  # 60 frames: the accident cannot start at 90
    assert (short.anomaly_start, short.anomaly_end) == (59, 60)
    assert [(i.kind, i.video_id) for i in issues] == [("span_clipped", "testing_positive_000457")]


def test_at_10_fps_the_accident_is_the_last_half_second_and_warning_the_2_s_before(dad_root):
    dm = RiskDataModule(
        {"dad": DadSource(dad_root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
    )
    dm.setup("test")
    video = next(v for v in dm.videos["test"] if v.record.video_id == "testing_positive_000456")
    assert (video.num_frames, video.anomaly_start, video.anomaly_end) == (50, 45, 50)
    assert [dm.labels.risk_at(video, t) for t in (24, 25, 44, 45, 49)] == [0, 1, 1, 2, 2]


def test_a_different_accident_frame_and_the_layout_without_videos_folder(tmp_path, video_writer):
    write_dad_tree(tmp_path / "DAD", video_writer, {("testing", "positive"): [("000001", 40)]})
    (tmp_path / "DAD" / "videos" / "testing" / "positive" / "notes.txt").write_text("not a video")
    issues = []
    (record,) = build_dad_index(tmp_path / "DAD" / "videos", accident_frame=30, issues=issues)
    assert (record.anomaly_start, record.anomaly_end, record.subset) == (30, 40, "val")
    assert [i.kind for i in issues] == ["skipped_file"] and "notes.txt" in issues[0].message


def test_unreadable_videos_are_dropped_and_named(tmp_path, video_writer):
    root = write_dad_tree(tmp_path / "DAD", video_writer, {("training", "negative"): [("000001", 20)]})
    (root / "videos" / "training" / "negative" / "000002.mp4").write_bytes(b"not a video")
    issues = []
    assert [r.video_id for r in build_dad_index(root, issues=issues)] == ["training_negative_000001"]
    (issue,) = issues
    assert (issue.kind, issue.fatal, issue.video_id) == ("unreadable_video", True, "000002")
    assert issue.message.startswith(f"DAD video {root / 'videos/training/negative/000002.mp4'} cannot be read")


def test_roots_without_the_layout_and_empty_splits_are_clear_errors(tmp_path, dad_root):
    with pytest.raises(
        DataLayoutError,
        match=r"DAD root .* has no videos/training/ or videos/testing/ folder.*"
        r"Fix: set data.root \(data.sources.dad.root\)",
    ):
        build_dad_index(tmp_path)
    dm = RiskDataModule(
        {"dad": DadSource(dad_root, filters=EventFilter(ego=True))},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        split=lambda records: {"train": [], "val": [], "test": [r for r in records if r.has_anomaly]},
        frames=FrameConfig(size=(8, 8)),
    )
    with pytest.raises(
        ValueError,
        match=r"split 'test' has zero clips after the filters of .*DadSource\(.*"
        r"EventFilter\(ego=True",
    ):
        dm.setup("test")  # DAD annotates no ego involvement: ego=True keeps no positive clip
    with pytest.raises(ValueError, match="accident_frame=-1"):
        DadSource(dad_root, accident_frame=-1)


def test_train_py_trains_and_evaluates_data_dad(dad_root, tmp_path, train_py):
    metrics = train_py("dad", dad_root, tmp_path, "data.split.val_fraction=0.5")
    assert metrics["counts"]["sources"] == {"dad": 3} and metrics["counts"]["crash_videos"] == 2
    video_ids = read_predictions(find_predictions(tmp_path))["video_id"]
    assert video_ids.str.startswith("testing_positive_000456").sum() == 10  # 50 frames, step 5
