"""The Nexar source (collision prediction) on tiny trees in its real layout: records, alert labels, bad rows,
training."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskvision.data.config import FrameConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.labels import DANGER, NORMAL, WARNING
from riskvision.data.layout import DataFileError, DataLayoutError
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.nexar import NexarSource, build_nexar_index
from riskvision.evaluation.table import find_predictions, read_predictions

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")

HEADER = "id,time_of_event,time_of_alert,target"
ROWS = ["00001,1.5,0.8,1", "00002,2.0,,1", "00003,,,0", "00004,,,0", "00005,2.5,1.2,1", "00006,,,0"]


def write_nexar_tree(
    root: Path, video_writer, rows=ROWS, videos=("00001", "00002", "00003", "00004", "00005", "00006"), frames: int = 90
) -> Path:
    """A Nexar tree: ``train.csv`` with ``rows``, ``videos`` of ``frames`` frames of 48x32 at 30 fps (3 s), and an
    unlabelled test set."""
    for video_id in videos:
        video_writer(root / "train" / f"{video_id}.mp4", frames, fps=30, size=(48, 32))
    (root / "train.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    video_writer(root / "test" / "00100.mp4", 30, fps=30, size=(48, 32))
    (root / "test.csv").write_text("id\n00100\n")
    return root


@pytest.fixture(scope="module")
def nexar_root(tmp_path_factory, video_writer) -> Path:
    return write_nexar_tree(tmp_path_factory.mktemp("nexar") / "nexar", video_writer)


def test_records_carry_the_event_as_anomaly_and_the_alert_time(nexar_root):
    issues = []
    records = {r.video_id: r for r in build_nexar_index(nexar_root, test_fraction=0.34, issues=issues)}
    assert list(records) == ["00001", "00002", "00003", "00004", "00005", "00006"]  # test/ is not indexed
    first = records["00001"]
    assert (first.source, first.kind, first.native_fps, first.num_frames) == ("nexar", "video", 30.0, 90)
    assert (first.anomaly_start, first.anomaly_end, first.alert_start, first.category) == (45, 90, 24, "collision")
    assert (first.ego, first.night, first.group) == (False, False, "00001")
    assert records["00002"].alert_start is None and records["00003"].anomaly_start is None
    assert sorted(r.subset for r in records.values() if r.has_anomaly) == ["train", "train", "val"]
    assert sorted(r.subset for r in records.values() if not r.has_anomaly) == ["train", "train", "val"]
    again = {r.video_id: r.subset for r in build_nexar_index(nexar_root, test_fraction=0.34)}
    assert again == {k: r.subset for k, r in records.items()}  # a seeded draw: the same test videos every run
    (issue,) = issues
    assert (issue.kind, issue.fatal) == ("missing_alert", False)
    assert issue.message.startswith(
        f"{nexar_root / 'train.csv'}, line 3: gives video 00002 (target 1) no time_of_alert"
    )


def test_warning_runs_from_the_alert_and_danger_from_the_event_at_10_fps(nexar_root):
    dm = RiskDataModule(
        {"nexar": NexarSource(nexar_root, test_fraction=0.0)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        split=lambda records: {"test": records},
        frames=FrameConfig(size=(8, 8)),
    )
    dm.setup("test")
    videos = {v.record.video_id: v for v in dm.videos["test"]}
    first = videos["00001"]  # alert 0.8 s -> target 8, event 1.5 s -> 15, end 30
    assert (first.alert_start, first.anomaly_start, first.anomaly_end) == (8, 15, 30)
    assert [dm.labels.risk_at(first, t) for t in (7, 8, 14, 15, 29)] == [NORMAL, WARNING, WARNING, DANGER, DANGER]
    second = videos["00002"]  # no alert: Warning the 2 s (20 frames) before the event at 20
    assert [dm.labels.risk_at(second, t) for t in (0, 19, 20)] == [WARNING, WARNING, DANGER]


def test_event_span_s_ends_the_danger(nexar_root):
    records = {r.video_id: r for r in build_nexar_index(nexar_root, test_fraction=0.0, event_span_s=0.5)}
    assert (records["00001"].anomaly_start, records["00001"].anomaly_end) == (45, 60)


def test_malformed_rows_and_ids_without_video_are_reported_by_file_and_line(tmp_path, video_writer):
    rows = [
        "00001,1.5,0.8,1",
        "00007,4.0,1.0,1",  # 3: the event past the 3 s video
        "00008,1.0,2.0,1",  # 4: alert after the event
        "00009,1.0,0.5,2",  # 5: target not 0/1
        "00010,abc,0.5,1",  # 6: not a number
        "00011,1.0,0.5",  # 7: a field missing
        "00099,1.0,0.5,1",  # 8: no video
        "00001,1.5,0.8,1",  # 9: a repeat
        "12,1.0,0.5,1",  # 10: the number of 00012.mp4
        "00013,1.0,0.5,0",  # 11: target 0 with times: kept without them
        "00014,1.0,3.5,1",
    ]  # 12: an alert past the end is after the event
    videos = ("00001", "00007", "00008", "00009", "00010", "00011", "00012", "00013", "00014")
    root = write_nexar_tree(tmp_path / "nexar", video_writer, rows=rows, videos=videos)
    issues = []
    records = {r.video_id: r for r in build_nexar_index(root, test_fraction=0.0, issues=issues)}
    assert sorted(records) == ["00001", "00012", "00013"]
    assert records["00012"].anomaly_start == 30 and records["00013"].anomaly_start is None
    path = root / "train.csv"
    messages = {int(i.message.split(", line ")[1].split(":")[0]): i for i in issues}
    expected = {
        3: "video 00007's time_of_event 4 s is past the video's end (3 s: 90 frames at 30 fps)",
        4: "video 00008 has time_of_alert 2 s after time_of_event 1 s",
        5: "video 00009 has target '2', not 1 (collision or near-miss) or 0",
        6: "video 00010: time 'abc' is not a number of seconds",
        7: "has 3 fields where the header has 4 (id,time_of_event,time_of_alert,target)",
        8: f"names video 00099, which has no file in {root / 'train'}",
        9: "repeats video 00001.mp4 of line 2",
        11: "gives video 00013 (target 0) the times '1.0', '0.5'",
        12: "video 00014 has time_of_alert 3.5 s after time_of_event 1 s",
    }
    assert {line: issue.message.split(": ", 1)[1].split(";")[0] for line, issue in messages.items()} == expected
    assert all(issue.message.startswith(f"{path}, line ") and "Fix:" in issue.message for issue in issues)
    assert {line for line, issue in messages.items() if not issue.fatal} == {11}
    assert messages[8].kind == "missing_video"


def test_a_time_past_a_shorter_videos_end_drops_it(tmp_path, video_writer):
    root = write_nexar_tree(tmp_path / "nexar", video_writer, rows=["00001,1.5,1.2,1"], videos=("00001",), frames=40)
    issues = []
    assert build_nexar_index(root, test_fraction=0.0, issues=issues) == []
    (issue,) = issues
    assert "time_of_event 1.5 s is past the video's end (1.33333 s: 40 frames at 30 fps)" in issue.message


def test_roots_without_the_layout_are_clear_errors(tmp_path, video_writer):
    with pytest.raises(DataLayoutError, match=r"Nexar root .* has no train.csv.*Fix: set data.root"):
        build_nexar_index(tmp_path)
    root = write_nexar_tree(tmp_path / "nexar", video_writer, videos=("00001",))
    (root / "train.csv").write_text("id,time_of_event,target\n00001,1.0,1\n")
    with pytest.raises(
        DataFileError,
        match=r"train.csv has the header id,time_of_event,target \(line 1\), which lacks "
        r"the column\(s\) time_of_alert",
    ):
        build_nexar_index(root)
    with pytest.raises(ValueError, match="test_fraction=1.0"):
        NexarSource(root, test_fraction=1.0)


def test_train_py_trains_and_evaluates_data_nexar(nexar_root, tmp_path, train_py):
    metrics = train_py(
        "nexar",
        nexar_root,
        tmp_path,
        "data.test_fraction=0.34",
        "data.split.val_fraction=0.5",
        "model.inputs.num_frames=3",
    )
    assert metrics["counts"]["sources"] == {"nexar": 2} and metrics["counts"]["crash_videos"] == 1
    video_ids = read_predictions(find_predictions(tmp_path))["video_id"]
    assert video_ids.str.startswith("0000").sum() == 2 * 6  # 30 target frames, step 5
