"""The CCD source (Car Crash Dataset) on tiny trees in its real layout: records, bad lines, splits, training."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.layout import DataLayoutError
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.base import EventFilter
from riskvision.data.sources.ccd import CcdSource, build_ccd_index, parse_split_entry
from riskvision.evaluation.table import find_predictions, read_predictions

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")


def labels(first_positive: int, count: int = 50) -> str:
    return "[" + ", ".join("1" if i >= first_positive else "0" for i in range(count)) + "]"


#: The real first line of Crash-1500.txt (its labels: 1 from frame 34 on), then lines of the same shape.
LINES = {
    "000001": f"000001,{labels(34)},285,KxpqG9QjKCs,Day,Normal,Yes",
    "000002": f"000002,{labels(20)},1520,KxpqG9QjKCs,Night,Rainy,No",
    "000003": f"000003,{labels(41)},97,Zq3v5iT0x1M,Day,Snowy,Yes",
    "000004": f"000004,{labels(10)},12,Zq3v5iT0x1M,Night,Normal,No",
}
TRAIN_LIST = [
    "positive/000001.npz 1",
    "positive/000002.npz 1",
    "positive/000003.npz 1",
    "negative/000001.npz 0",
    "negative/000002.npz 0",
    "negative/000003.npz 0",
]
TEST_LIST = ["Crash-1500/000004.mp4", "Normal/000004.mp4"]


def write_ccd_tree(root: Path, video_writer, lines=LINES, train=TRAIN_LIST, test=TEST_LIST, frames: int = 50) -> Path:
    """A CCD tree: crash and normal clips 000001-000004 (``frames`` frames of 32x32 at 10 fps), the annotation file
    with ``lines`` and the split lists (``None``: no lists)."""
    for number in ("000001", "000002", "000003", "000004"):
        video_writer(root / "videos" / "Crash-1500" / f"{number}.mp4", frames)
        video_writer(root / "videos" / "Normal" / f"{number}.mp4", frames)
    (root / "videos" / "Crash-1500.txt").write_text("".join(f"{line}\n" for line in lines.values()))
    if train is not None:
        (root / "vgg16_features").mkdir(parents=True, exist_ok=True)
        (root / "vgg16_features" / "train.txt").write_text("".join(f"{e}\n" for e in train))
        (root / "vgg16_features" / "test.txt").write_text("".join(f"{e}\n" for e in test))
    return root


@pytest.fixture(scope="module")
def ccd_root(tmp_path_factory, video_writer) -> Path:
    return write_ccd_tree(tmp_path_factory.mktemp("ccd") / "CarCrash", video_writer)


def test_records_carry_the_lines_labels_night_ego_groups_and_subsets(ccd_root):
    issues = []
    records = {r.video_id: r for r in build_ccd_index(ccd_root, issues=issues)}
    assert list(records) == [
        "crash_000001",
        "crash_000002",
        "crash_000003",
        "crash_000004",
        "normal_000001",
        "normal_000002",
        "normal_000003",
        "normal_000004",
    ]
    crash = records["crash_000001"]
    assert (crash.source, crash.kind, crash.native_fps, crash.num_frames) == ("ccd", "video", 10.0, 50)
    assert (crash.anomaly_start, crash.anomaly_end, crash.category) == (34, 50, "crash")
    assert (crash.ego, crash.night, crash.group, crash.subset) == (True, False, "KxpqG9QjKCs", "train")
    assert crash.path == ccd_root / "videos" / "Crash-1500" / "000001.mp4"
    night = records["crash_000002"]
    assert (night.anomaly_start, night.ego, night.night, night.group) == (20, False, True, "KxpqG9QjKCs")
    assert records["crash_000004"].subset == "val" and records["normal_000004"].subset == "val"  # test.txt
    normal = records["normal_000001"]
    assert (normal.anomaly_start, normal.ego, normal.night, normal.group) == (None, False, False, "normal_000001")
    assert [i.kind for i in issues] == []
    assert (ccd_root / ".riskvision_index.json").is_file()  # probed once, cached next to the videos


def test_the_datamodule_resamples_and_labels_ccd_windows(ccd_root):
    dm = RiskDataModule(
        {"ccd": CcdSource(ccd_root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
        loader=LoaderConfig(eval_batch_size=200),
    )
    dm.setup("test")
    assert [v.record.video_id for v in dm.videos["test"]] == ["crash_000004", "normal_000004"]
    split = dm.describe()["splits"]["test"]
    # crash_000004: anomaly [10, 50) -> 40 Danger frames, Warning 2 s = 20 frames before it (only 10 exist)
    assert split["risk_frames"] == {"normal": 50, "warning": 10, "danger": 40}


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("positive/000001.npz 1", "crash_000001"),
        ("negative/000123.npz 0", "normal_000123"),
        ("vgg16_features/Crash-1500/000001.npz", "crash_000001"),
        ("Normal/000007.mp4", "normal_000007"),
        ("000009.npz 1", "crash_000009"),
        ("000009 0", "normal_000009"),
        ("crash_000002", "crash_000002"),
    ],
)
def test_split_entries_name_a_clip_by_folder_label_or_id(entry, expected):
    assert parse_split_entry(entry) == expected


@pytest.mark.parametrize(
    "entry, message",
    [
        ("000009.npz", "names no class"),
        ("positive/000001.npz 0", "lies in a crash folder but has the label 0"),
        ("positive/abc.npz 1", "does not end in a clip number"),
    ],
)
def test_bad_split_entries_say_why(entry, message):
    with pytest.raises(ValueError, match=message):
        parse_split_entry(entry)


def test_malformed_lines_are_reported_by_file_and_line_and_their_clips_dropped(tmp_path, video_writer):
    lines = {
        "000001": LINES["000001"],
        "000002": f"000002,{labels(20, count=49)},1520,KxpqG9QjKCs,Night,Rainy,No",  # 49 labels
        "000003": f"000003,{labels(41)},97,Zq3v5iT0x1M,Day",  # fields missing
        "000004": f"000004,{labels(10)},12,Zq3v5iT0x1M,Dusk,Normal,No",  # timing not Day/Night
        "000009": f"000009,{labels(10)},12,Zq3v5iT0x1M,Day,Normal,No",  # no video
    }
    root = write_ccd_tree(tmp_path / "ccd", video_writer, lines=lines, train=None)
    issues = []
    records = build_ccd_index(root, issues=issues)
    assert [r.video_id for r in records if r.has_anomaly] == ["crash_000001"]
    path = root / "videos" / "Crash-1500.txt"
    by_line = {int(i.message.split(", line ")[1].split(":")[0]): i for i in issues if i.message.startswith(str(path))}
    assert "clip 000002 has 49 frame labels; a CCD clip has 50" in by_line[2].message and by_line[2].fatal
    assert "clip 000003 has 3 fields after its labels; expected 5" in by_line[3].message
    assert "clip 000004 has timing 'Dusk'; expected Day | Night" in by_line[4].message
    assert by_line[5].kind == "missing_video" and "has no video" in by_line[5].message
    assert all("Fix:" in issue.message for issue in by_line.values())
    dropped = {i.video_id for i in issues if i.kind == "missing_annotation"}
    assert dropped == {"crash_000002", "crash_000003", "crash_000004"}  # each crash video without a usable line
    assert "missing_split" in {i.kind for i in issues} and {r.subset for r in records} == {None}


def test_a_video_shorter_than_its_labels_is_clipped_and_reported(tmp_path, video_writer):
    root = write_ccd_tree(tmp_path / "ccd", video_writer, frames=30)
    issues = []
    records = {r.video_id: r for r in build_ccd_index(root, issues=issues)}
    assert (records["crash_000001"].anomaly_start, records["crash_000001"].anomaly_end) == (29, 30)
    assert (records["crash_000002"].anomaly_start, records["crash_000002"].anomaly_end) == (20, 30)
    kinds = {(i.kind, i.video_id) for i in issues}
    assert ("label_count", "crash_000001") in kinds and ("span_clipped", "crash_000001") in kinds


def test_split_lists_decide_the_clips_and_bad_entries_are_reported(tmp_path, video_writer):
    train = ["positive/000001.npz 1", "something odd", "negative/000001.npz 0", "positive/000042.npz 1"]
    root = write_ccd_tree(tmp_path / "ccd", video_writer, train=train, test=["Crash-1500/000001.mp4"])
    issues = []
    records = build_ccd_index(root, issues=issues)
    assert [(r.video_id, r.subset) for r in records] == [("crash_000001", "train"), ("normal_000001", "train")]
    messages = {i.kind: i.message for i in issues}
    assert (
        f"{root / 'vgg16_features' / 'train.txt'}, line 2: 'something' does not end in a clip number"
        in messages["bad_line"]
    )
    assert "crash_000042 is in the split lists" in messages["missing_video"]
    assert "test.txt, line 1: lists crash_000001, which train.txt line 1 lists too" in messages["duplicate_split"]
    assert "6 CCD videos under" in messages["unlisted_video"]


def test_an_empty_split_names_the_source_and_its_filters(tmp_path, video_writer):
    root = write_ccd_tree(tmp_path / "ccd", video_writer, test=["Crash-1500/000004.mp4"])  # not ego-involved
    dm = RiskDataModule(
        {"ccd": CcdSource(root, filters=EventFilter(ego=True))},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
    )
    with pytest.raises(
        ValueError,
        match=r"split 'test' has zero clips after the filters of .*CcdSource\(root=.*"
        r"filters=EventFilter\(ego=True, skip_night=False\)",
    ):
        dm.setup("test")


def test_roots_without_the_layout_are_clear_errors(tmp_path, video_writer):
    with pytest.raises(DataLayoutError, match=r"CCD root .* has no videos/Crash-1500/ or videos/Normal/ folder"):
        build_ccd_index(tmp_path)
    video_writer(tmp_path / "videos" / "Normal" / "000001.mp4", 5)
    with pytest.raises(DataLayoutError, match=r"has no videos/Crash-1500.txt .*Fix: set data.root"):
        build_ccd_index(tmp_path)
    with pytest.raises(DataLayoutError, match=r"data.root \(data.sources.ccd.root\)=.* does not exist"):
        build_ccd_index(tmp_path / "nothing")


def test_train_py_trains_and_evaluates_data_ccd(ccd_root, tmp_path, train_py):
    metrics = train_py("ccd", ccd_root, tmp_path, "data.split.val_fraction=0.5")
    assert metrics["counts"]["sources"] == {"ccd": 2} and metrics["counts"]["crash_videos"] == 1
    video_ids = read_predictions(find_predictions(tmp_path))["video_id"]
    assert video_ids.str.startswith("crash_000004").sum() == 10  # 50 frames, step 5


def test_eval_py_scores_a_checkpoint_on_another_data_group(ccd_root, tmp_path):
    """Cross-dataset evaluation: ``scripts/eval.py ckpt_path=... data=ccd`` builds the named data group (the
    checkpoint's input settings, the new data's labels) and says so in metrics.json and the run's name."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]),
        "CI": "true",
    }

    def run(*command: str) -> None:
        proc = subprocess.run(
            [sys.executable, *command],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]

    run(
        "train.py",
        "data=ccd",
        f"data.root={ccd_root}",
        "data.split.val_fraction=0.5",
        "model=bilstm",
        "model.inputs.frame_size=16",
        "model.inputs.num_frames=4",
        "model.inputs.batch_size=2",
        "model.net.hidden_size=4",
        "model.pretrained.source=null",
        "data.loader.num_workers=0",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        "logger=none",
        "extras.print_config=false",
        f"hydra.run.dir={tmp_path / 'train'}",
    )
    run(
        "scripts/eval.py",
        f"ckpt_path={tmp_path / 'train' / 'checkpoints' / 'last.ckpt'}",
        "data=ccd",
        f"data.root={ccd_root}",
        "data.loader.num_workers=0",
        "settings.step=5",
        "settings.n_boot=10",
        "settings.latency_repeats=0",
        "settings.probes=[none]",
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["run"]["data"] == "data=ccd" and metrics["run"]["name"] == "ResNetBiLSTM-resnet18 on ccd"
    assert metrics["counts"]["sources"] == {"ccd": 2}
