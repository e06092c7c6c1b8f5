"""The real DoTA files (tests/fixtures/dota): annotations, official metadata and split files."""

import json
from pathlib import Path

import pytest

from riskvision.data.records import DataWarning
from riskvision.data.sources.dota import (
    CATEGORIES,
    build_dota_index,
    parse_anomaly_class,
    read_official_splits,
    resolve_categories,
)

ANNOTATED = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "fixtures/dota/annotations").glob("*.json"))


def test_official_split_files_parse_and_do_not_overlap(fixtures_dir, official_metadata):
    subsets = read_official_splits(fixtures_dir / "official")
    assert sum(s == "train" for s in subsets.values()) == 3275
    assert sum(s == "val" for s in subsets.values()) == 1402
    assert set(subsets) == set(official_metadata)
    assert all(official_metadata[c]["subset"] == s for c, s in subsets.items())


def test_official_metadata_classes_parse(official_metadata):
    parsed = [parse_anomaly_class(m["anomaly_class"]) for m in official_metadata.values()]
    assert {category for _, category in parsed} == set(CATEGORIES)
    assert 0 < sum(ego for ego, _ in parsed) < len(parsed)
    # the real data hold 26-frame clips, anomalies from frame 0, 1-frame anomalies, and spans ending at num_frames
    spans = [(m["anomaly_start"], m["anomaly_end"], m["num_frames"]) for m in official_metadata.values()]
    assert min(n for *_, n in spans) == 26
    assert any(s == 0 for s, _, _ in spans) and any(e - s == 1 for s, e, _ in spans)
    assert any(e == n for _, e, n in spans)


def test_all_twelve_annotations_build_records(make_official_tree, official_metadata, recwarn):
    assert len(ANNOTATED) == 12
    root = make_official_tree(ANNOTATED)
    issues = []
    records = {r.video_id: r for r in build_dota_index(root, issues=issues)}
    assert sorted(records) == ANNOTATED and issues == []
    for clip in ANNOTATED:
        annotation = json.loads((root / "annotations" / f"{clip}.json").read_text())
        record = records[clip]
        assert record.num_frames == annotation["num_frames"] == len(annotation["labels"]) == len(record.frame_files)
        assert (record.anomaly_start, record.anomaly_end) == (annotation["anomaly_start"], annotation["anomaly_end"])
        assert record.ego == annotation["ego_involve"] and record.night == annotation["night"]
        assert record.category == annotation["accident_name"] == CATEGORIES[int(annotation["accident_id"]) - 1]
        assert record.subset == official_metadata[clip]["subset"] and record.source == "dota"
        assert record.group == clip.rsplit("_", 1)[0] and not record.synthetic
    assert sum(r.night for r in records.values()) == 2


def test_real_span_beyond_num_frames_is_clipped_and_reported(make_official_tree):
    root = make_official_tree(["gXezhrOijmQ_004598"])  # real: anomaly [33, 119), num_frames 114
    issues = []
    with pytest.warns(DataWarning, match=r"clipped to \[33, 114\)"):
        (record,) = build_dota_index(root, issues=issues)
    assert (record.anomaly_start, record.anomaly_end, record.num_frames) == (33, 114, 114)
    assert [i.kind for i in issues] == ["missing_annotation", "span_clipped"]  # no annotations/ here


def test_category_codes_and_names():
    assert resolve_categories(["ST", "ah", "lateral", "OC", "TC"]) == {
        "start_stop_or_stationary",
        "moving_ahead_or_waiting",
        "lateral",
        "oncoming",
        "turning",
    }
    assert resolve_categories(["OO"]) == {"leave_to_right", "leave_to_left"}
    with pytest.raises(ValueError, match="unknown DoTA category 'XX'"):
        resolve_categories(["XX"])
