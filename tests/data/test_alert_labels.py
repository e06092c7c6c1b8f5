"""Annotated alert times (issue 15): the label policy's Warning phase from a record's alert frame, and the consensus
alert labels laid over DoTA and DAD records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from riskvision.data.config import FrameConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.labels import DANGER, NORMAL, WARNING, LabelPolicy
from riskvision.data.layout import DataFileError, DataLayoutError
from riskvision.data.records import VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.dad import DadSource
from riskvision.data.sources.dota import DotaSource
from riskvision.data.splits import SubsetSplit
from riskvision.data.timebase import frame_at, to_target

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")


def record(num_frames=100, fps=10.0, span=(40, 50), alert=None, video_id="abc_000001"):
    return VideoRecord(video_id, "dota", Path("x"), "video", fps, num_frames, *span, alert_start=alert)


def test_an_alert_frame_starts_the_warning_instead_of_the_fixed_horizon():
    policy = LabelPolicy(warning_horizon_s=2.0)
    with_alert = to_target(record(alert=33), 10.0)
    expected = {32: NORMAL, 33: WARNING, 39: WARNING, 40: DANGER, 49: DANGER, 50: NORMAL}
    assert {t: policy.risk_at(with_alert, t) for t in expected} == expected
    fixed = to_target(record(), 10.0)  # no alert: H = 2 s before the anomaly, as before
    assert [policy.risk_at(fixed, t) for t in (19, 20, 39, 40)] == [NORMAL, WARNING, WARNING, DANGER]
    ignoring = LabelPolicy(warning_horizon_s=2.0, record_alerts=False)
    assert [ignoring.risk_at(with_alert, t) for t in (20, 32)] == [WARNING, WARNING]


def test_an_alert_long_before_the_anomaly_widens_the_warning_and_one_after_it_empties_it():
    policy = LabelPolicy(warning_horizon_s=1.0)
    early = to_target(record(alert=5), 10.0)
    assert [policy.risk_at(early, t) for t in (4, 5, 29, 39)] == [NORMAL, WARNING, WARNING, WARNING]
    late = to_target(record(alert=45), 10.0)
    assert [policy.risk_at(late, t) for t in (30, 39, 45)] == [NORMAL, NORMAL, DANGER]


def test_the_alert_frame_is_resampled_like_the_anomaly():
    video = to_target(record(num_frames=300, fps=30.0, span=(150, 300), alert=100), 10.0)
    assert (video.alert_start, video.anomaly_start, video.anomaly_end) == (34, 50, 100)  # first target >= native
    assert to_target(record(num_frames=300, fps=30.0, span=(150, 300), alert=99), 10.0).alert_start == 33
    assert to_target(record(span=(None, None)), 10.0).alert_start is None


def test_seconds_become_the_first_frame_at_or_after_them():
    assert [frame_at(t, 30.0) for t in (0.0, 1.0, 1.01, 18.3, 4.5)] == [0, 30, 31, 549, 135]
    assert frame_at(4.5, 20.0) == 90


# ----------------------------------------------------------------------------- the consensus alert labels overlay

HEADER = (
    "id,batch,Event-type,Nexar-vehicle-involved,min_support,Time-of-alert,Time-of-collision,Diff,article_category,"
    "ego_discrepancy"
)
ROWS = [
    "0RJPQ_97dcs_000199.mp4,1,collision,no,3,2.5,4.1,1.6,other,yes",  # 2: alert 25 < anomaly 40; ego re-annotated no
    "88LcRU7uEFE_003534.mp4,1,collision,yes,3,3.0,3.2,0.2,ego,",  # 3: alert 30 >= anomaly start 28
    "pWZSG2cUdEo_003797.mp4,1,collision,yes,3,1.0,3.0,2.0,ego,",  # 4: collision past the 2.6 s clip
    "WWyeuvpHmfc_004101.mp4,1,collision,yes,3,2.0,1.5,-0.5,ego,",  # 5: collision before the alert
    "000456.mp4,2,collision,yes,3,3.9,4.5,0.6,ego,",  # 6: a DAD clip, by its file name
    "0RJPQ_97dcs_000199.mp4,1,collision,yes,3,1.0,4.1,3.1,ego,",  # 7: a repeat
    "images_001.mp4,3,collision,yes,2,1.0,2.0,1.0,ego,",  # 8: a DADA-2000 clip: no record
    "XYZ_000001.mp4,3,collision,maybe,2,1.0,2.0,1.0,ego,",  # 9: no record (its ego is not checked)
]
DOTA_CLIPS = ["0RJPQ_97dcs_000199", "88LcRU7uEFE_003534", "pWZSG2cUdEo_003797", "WWyeuvpHmfc_004101"]


@pytest.fixture
def trees(tmp_path, make_official_tree, video_writer):
    """A DoTA tree (4 real clips at 10 fps), a DAD tree (a positive and a negative at 20 fps) and the CSV."""
    dota = make_official_tree(DOTA_CLIPS)
    dad = tmp_path / "DAD"
    video_writer(dad / "videos" / "testing" / "positive" / "000456.mp4", 100, fps=20)
    video_writer(dad / "videos" / "testing" / "negative" / "000830.mp4", 100, fps=20)
    csv = tmp_path / "consensus.csv"
    csv.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return dota, dad, csv


def module(dota, dad, split=None, **labels):
    sources = {"dota": DotaSource(dota)} | ({"dad": DadSource(dad)} if dad else {})
    return RiskDataModule(
        sources,
        samplers={"window": WindowSampler(2)},
        sampler="window",
        labels=LabelPolicy(**labels),
        split=split or SubsetSplit(val_fraction=0.5),
        frames=FrameConfig(size=(8, 8)),
    )


def test_listed_records_take_the_alert_and_ego_of_the_csv_and_bad_rows_are_reported(trees):
    dota, dad, csv = trees
    dm = module(dota, dad, alerts=csv)
    records = {r.video_id: r for r in dm.build_records()}
    assert (records["0RJPQ_97dcs_000199"].alert_start, records["0RJPQ_97dcs_000199"].ego) == (25, False)
    assert (records["88LcRU7uEFE_003534"].alert_start, records["88LcRU7uEFE_003534"].ego) == (30, True)
    assert (records["testing_positive_000456"].alert_start, records["testing_positive_000456"].ego) == (78, True)
    for dropped in ("pWZSG2cUdEo_003797", "WWyeuvpHmfc_004101"):  # their rows are dropped: the source's own labels
        assert (records[dropped].alert_start, records[dropped].ego) == (None, True)
    assert records["testing_negative_000830"] == replace(
        records["testing_negative_000830"], alert_start=None, ego=False
    )
    by_line = {
        int(i.message.split(", line ")[1].split(":")[0]): i
        for i in dm.issues
        if i.path == str(csv) and i.kind != "unmatched_alert"
    }
    assert {line: (i.kind, i.fatal) for line, i in by_line.items()} == {
        3: ("alert_after_anomaly", False),
        4: ("bad_line", True),
        5: ("bad_line", True),
        7: ("bad_line", True),
    }
    assert "Time-of-collision 3 s is past the video's end (2.6 s: 26 frames at 10 fps)" in by_line[4].message
    assert "Time-of-collision 1.5 s is before Time-of-alert 2 s" in by_line[5].message
    assert "repeats video 0RJPQ_97dcs_000199 of line 2" in by_line[7].message
    assert "at or after its anomaly's start (frame 28)" in by_line[3].message
    (unmatched,) = [i for i in dm.issues if i.kind == "unmatched_alert"]
    assert not unmatched.fatal
    assert "2 rows match no record (line 8: images_001.mp4, line 9: XYZ_000001.mp4)" in unmatched.message


def test_the_alert_replaces_the_fixed_horizon_in_the_labels(trees):
    dota, _, csv = trees
    for labels, warning_from in (({"alerts": csv}, 25), ({}, 20), ({"alerts": csv, "record_alerts": False}, 20)):
        dm = module(dota, None, **labels)
        dm.setup()
        video = next(v for split in dm.videos.values() for v in split if v.record.video_id == "0RJPQ_97dcs_000199")
        risks = [dm.labels.risk_at(video, t) for t in range(video.num_frames)]
        assert risks.index(WARNING) == warning_from and risks.index(DANGER) == 40


def test_the_ego_filter_and_listed_only_keep_the_reannotated_clips(trees):
    dota, dad, csv = trees
    everything = lambda records: {"train": records, "val": [], "test": []}  # noqa: E731
    not_ego = module(dota, dad, everything, alerts=csv, alerts_ego=False)
    assert [r.video_id for r in not_ego.build_splits()["train"]] == ["0RJPQ_97dcs_000199", "testing_negative_000830"]
    listed = module(dota, dad, everything, alerts=csv, alerts_listed_only=True)
    assert [r.video_id for r in listed.build_splits()["train"]] == [
        "0RJPQ_97dcs_000199",
        "88LcRU7uEFE_003534",
        "testing_positive_000456",
        "testing_negative_000830",
    ]
    with pytest.raises(ValueError, match="alerts is null; set data.labels.alerts=PATH"):
        LabelPolicy(alerts_ego=True)


def test_an_empty_split_names_the_alert_filter(trees):
    dota, _, csv = trees
    dm = module(dota, None, alerts=csv, alerts_ego=False)  # DoTA's val clips are ego-involved
    with pytest.raises(
        ValueError,
        match=r"split 'test' has zero clips after the filters of .*DotaSource.* labels "
        r"LabelPolicy\(.*alerts=AlertLabels\('.*consensus.csv', ego=False",
    ):
        dm.setup("test")


def test_a_missing_or_headless_csv_is_a_clear_error(trees, tmp_path):
    dota, _, csv = trees
    with pytest.raises(DataLayoutError, match=r"data.labels.alerts=.*nothing.csv is not a file"):
        module(dota, None, alerts=tmp_path / "nothing.csv").build_records()
    csv.write_text("id,Time-of-collision\n0RJPQ_97dcs_000199.mp4,4.1\n")
    with pytest.raises(DataFileError, match=r"lacks the column\(s\) Time-of-alert"):
        module(dota, None, alerts=csv).build_records()


def test_train_py_trains_and_evaluates_dad_with_the_alert_labels(tmp_path, trees, train_py, video_writer):
    _, dad, csv = trees
    video_writer(dad / "videos" / "training" / "positive" / "000001.mp4", 100, fps=20)
    for stem in ("000001", "000002"):
        video_writer(dad / "videos" / "training" / "negative" / f"{stem}.mp4", 100, fps=20)
    run = tmp_path / "run"
    metrics = train_py("dad", dad, run, f"data.labels.alerts={csv}", "data.split.val_fraction=0.5")
    assert metrics["counts"]["sources"] == {"dad": 2}
    stored = (run / ".hydra" / "config.yaml").read_text()
    assert f"alerts: {csv}" in stored
