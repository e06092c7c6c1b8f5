"""Index-time robustness: bad clips, bad files, loops, unreadable folders and bad roots in tiny DoTA trees
(roots that are not folders: DoTA and BDD100K alike; the rest of BDD's: tests/data/test_bad_bdd_trees.py).

A bad clip is dropped from the index with a fatal DataIssue naming it (check_data fails) while the rest of
the data still trains; a file the whole layout needs, or a root that is not a folder, is a DataLayoutError
naming the file or setting, the problem and the fix.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from riskvision.data.check import check
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.layout import DataLayoutError
from riskvision.data.prepare import prepare
from riskvision.data.records import DataIssue, DataWarning
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.bdd import BddSource, build_bdd_index
from riskvision.data.sources.dota import DotaSource, build_dota_index
from riskvision.data.splits import SubsetSplit

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")

BAD = "pWZSG2cUdEo_003797"  # real: official val, 26 frames, anomaly [19, 26)
GOOD = "WWyeuvpHmfc_004101"  # real: official val, 31 frames
TRAIN = ["0RJPQ_97dcs_000199", "88LcRU7uEFE_003534"]  # real: official train, two source videos
root_only = pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 folders and files")


def annotation(root: Path, clip: str = BAD) -> Path:
    return root / "annotations" / f"{clip}.json"


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def build(root: Path) -> tuple[list[str], list]:
    issues = []
    records = build_dota_index(root, issues=issues)
    return [r.video_id for r in records], issues


def only_fatal(issues: list[DataIssue]) -> DataIssue:
    (issue,) = [i for i in issues if i.fatal]
    return issue


# ----------------------------------------------------------------------------- 1. clips without their frames


def no_frames_in_annotation(root):
    edit_json(annotation(root), lambda d: d.update(num_frames=0))


def empty_frame_folder(root):
    for path in (root / "frames" / BAD / "images").iterdir():
        path.unlink()


def fewer_frames_than_num_frames(root):
    for path in sorted((root / "frames" / BAD / "images").iterdir())[3:]:
        path.unlink()


@pytest.mark.parametrize(
    "damage, kind, says",
    [
        (no_frames_in_annotation, "bad_clip_file", "says num_frames=0"),
        (empty_frame_folder, "missing_folder", "holds no images"),
        (fewer_frames_than_num_frames, "too_few_frames", "has 3 frames, its metadata says num_frames=26"),
    ],
)
def test_clip_without_its_frames_is_dropped_fails_check_and_the_rest_trains(make_official_tree, damage, kind, says):
    root = make_official_tree([BAD, GOOD, *TRAIN])
    damage(root)
    dm = RiskDataModule(
        {"dota": DotaSource(root)},
        samplers={"window": WindowSampler(4)},
        sampler="window",
        split=SubsetSplit(val_fraction=0.5),
        frames=FrameConfig(size=(8, 8)),
        loader=LoaderConfig(batch_size=64),
    )
    summary, problems = check(dm, frames=False)
    issue = only_fatal(problems)  # no empty split or other fatal problem: this clip is the reason
    assert (issue.kind, issue.video_id) == (kind, BAD) and says in issue.message and "Fix:" in issue.message
    assert summary["splits"]["test"]["clips"] == 1
    dm.setup("fit")
    dm.setup("test")
    assert BAD not in {v.record.video_id for split in dm.videos.values() for v in split}
    (batch,) = list(dm.test_dataloader())  # every window of the remaining clip reads
    assert set(batch["video_id"]) == {GOOD} and batch["video"].shape == (31, 4, 3, 8, 8)
    assert next(iter(dm.train_dataloader()))["video"].shape[1:] == (4, 3, 8, 8)


def test_num_frames_zero_reported_by_check_data_script_function_once(make_official_tree):
    root = make_official_tree([BAD, GOOD, *TRAIN])
    no_frames_in_annotation(root)
    dm = RiskDataModule(
        {"dota": DotaSource(root)},
        samplers={"window": WindowSampler(4)},
        sampler="window",
        split=SubsetSplit(val_fraction=0.5),
    )
    dm.setup("test")
    _, problems = check(dm, frames=False)  # check rebuilds the index: the problem is listed once
    assert [p.video_id for p in problems if p.fatal] == [BAD]


# ----------------------------------------------------------------------------- 2. bad metadata / annotation files


def utf16(path: Path) -> None:
    path.write_bytes(path.read_text().encode("utf-16"))


def latin1(path: Path) -> None:
    path.write_bytes(path.read_text().replace('"AnAn"', '"Ann\u00e9e"').encode("latin-1"))


def metadata_entry(root: Path, change) -> None:
    edit_json(root / "metadata_val.json", lambda d: change(d, d[BAD]))


@pytest.mark.parametrize(
    "damage, file, says",
    [
        (
            lambda r: utf16(annotation(r)),
            "annotation",
            "not UTF-8 text: byte 0xff at offset 0 (it starts with a UTF-16",
        ),
        (lambda r: latin1(annotation(r)), "annotation", "not UTF-8 text: byte 0xe9"),
        (lambda r: annotation(r).write_text("[1, 2]"), "annotation", "holds a list where a JSON object is expected"),
        (lambda r: annotation(r).write_text('{"num_frames": 26,'), "annotation", "is not valid JSON"),
        (lambda r: edit_json(annotation(r), lambda d: d.pop("num_frames")), "annotation", "has no 'num_frames' field"),
        (
            lambda r: edit_json(annotation(r), lambda d: d.update(num_frames="26")),
            "annotation",
            "has num_frames='26' in the annotation of clip pWZSG2cUdEo_003797, which is a string, not an integer",
        ),
        (lambda r: edit_json(annotation(r), lambda d: d.update(night="false")), "annotation", "night='false'"),
        (
            lambda r: edit_json(annotation(r), lambda d: d.update(anomaly_start=20, anomaly_end=10)),
            "annotation",
            "says anomaly_start=20 > anomaly_end=10",
        ),
        (
            lambda r: metadata_entry(r, lambda d, e: e.update(anomaly_start=20, anomaly_end=10)),
            "metadata",
            "says anomaly_start=20 > anomaly_end=10 for the entry of clip pWZSG2cUdEo_003797",
        ),
        (lambda r: metadata_entry(r, lambda d, e: e.pop("anomaly_end")), "metadata", "has no 'anomaly_end' field"),
        (lambda r: metadata_entry(r, lambda d, e: e.update(anomaly_start=1.5)), "metadata", "anomaly_start=1.5"),
        (
            lambda r: metadata_entry(r, lambda d, e: d.update({BAD: [26, 19, 26]})),
            "metadata",
            "holds a list for the entry of clip pWZSG2cUdEo_003797 where a JSON object is expected",
        ),
    ],
)
def test_bad_clip_file_drops_only_that_clip(make_official_tree, damage, file, says):
    root = make_official_tree([BAD, GOOD])
    damage(root)
    with pytest.warns(DataWarning, match=BAD):
        kept, issues = build(root)
    assert kept == [GOOD]
    issue = only_fatal(issues)
    path = annotation(root) if file == "annotation" else root / "metadata_val.json"
    assert (issue.kind, issue.video_id, issue.path) == ("bad_clip_file", BAD, str(path))
    assert issue.message.startswith(f"DoTA clip {BAD} dropped: {path} ") and says in issue.message
    assert "Fix:" in issue.message


def test_a_fixed_clip_is_read_again(make_official_tree):
    root = make_official_tree([BAD, GOOD, *TRAIN])
    path = annotation(root)
    good = path.read_text()
    utf16(path)
    dm = RiskDataModule({"dota": DotaSource(root)}, samplers={"window": WindowSampler(4)}, sampler="window")
    assert BAD not in {r.video_id for r in dm.build_records()} and dm.issues[0].video_id == BAD
    path.write_text(good)  # nothing about the bad read is kept: the next build reads the file again
    assert BAD in {r.video_id for r in dm.build_records()} and not any(i.fatal for i in dm.issues)


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda p: p.write_text("[]"), "holds a list where a JSON object is expected"),
        (utf16, "is not UTF-8 text"),
        (lambda p: p.write_text("{"), "is not valid JSON"),
    ],
)
def test_broken_metadata_file_is_a_layout_error_naming_it(make_official_tree, damage, says):
    root = make_official_tree([BAD, GOOD])
    damage(root / "metadata_val.json")
    with pytest.raises(DataLayoutError, match=rf"{root / 'metadata_val.json'} {says}.*Fix: "):
        build_dota_index(root)


def test_split_file_in_utf16_is_a_layout_error_naming_it(make_official_tree):
    root = make_official_tree([BAD, GOOD])
    utf16(root / "val_split.txt")
    with pytest.raises(DataLayoutError, match=rf"{root / 'val_split.txt'} is not UTF-8 text.*Fix: re-save"):
        build_dota_index(root)


# ----------------------------------------------------------------------------- 3. loops and unreadable entries


def test_symlink_loops_drop_their_clip(make_official_tree):
    root = make_official_tree([BAD, GOOD, *TRAIN])
    shutil.rmtree(root / "frames" / BAD)
    (root / "frames" / BAD).symlink_to(root / "frames" / BAD)  # the clip folder points at itself
    annotation(root, TRAIN[0]).unlink()
    annotation(root, TRAIN[0]).symlink_to(annotation(root, TRAIN[0]))
    kept, issues = build(root)
    assert sorted(kept) == sorted([GOOD, TRAIN[1]])
    by_clip = {i.video_id: i for i in issues if i.fatal}
    assert by_clip[BAD].kind == "unreadable_folder" and "Too many levels of symbolic links" in by_clip[BAD].message
    assert by_clip[TRAIN[0]].kind == "bad_clip_file" and str(annotation(root, TRAIN[0])) in by_clip[TRAIN[0]].message


@root_only
def test_unreadable_frame_folder_and_annotation_drop_their_clip(make_official_tree):
    root = make_official_tree([BAD, GOOD, *TRAIN])
    (root / "frames" / BAD).chmod(0)
    annotation(root, TRAIN[0]).chmod(0)
    try:
        kept, issues = build(root)
    finally:
        (root / "frames" / BAD).chmod(0o755)
        annotation(root, TRAIN[0]).chmod(0o644)
    assert sorted(kept) == sorted([GOOD, TRAIN[1]])
    by_clip = {i.video_id: i for i in issues if i.fatal}
    assert by_clip[BAD].kind == "unreadable_folder" and "Permission denied" in by_clip[BAD].message
    assert by_clip[TRAIN[0]].kind == "bad_clip_file" and "cannot be read" in by_clip[TRAIN[0]].message


# ----------------------------------------------------------------------------- 4. roots that are not folders

ROOTS = [
    pytest.param(DotaSource, build_dota_index, "data.dota_root", "official", id="dota"),
    pytest.param(BddSource, build_bdd_index, "data.bdd_root", "frames", id="bdd"),
]


@pytest.mark.parametrize("source, build_index, key, layout", ROOTS)
def test_root_that_is_a_file_or_missing_names_the_setting_and_the_fix(tmp_path, source, build_index, key, layout):
    file = tmp_path / "data.zip"
    file.write_bytes(b"PK")
    with pytest.raises(
        DataLayoutError,
        match=rf"{key}={file} is a file, not a folder\. Fix: set "
        rf"{key} to the folder that holds",
    ):
        source(file).build([])
    with pytest.raises(DataLayoutError, match=rf"{key}={tmp_path / 'nowhere'} does not exist.*Fix: "):
        build_index(tmp_path / "nowhere", layout=layout)


@root_only
@pytest.mark.parametrize("source, build_index, key, layout", ROOTS)
def test_unreadable_root_says_so(tmp_path, source, build_index, key, layout):
    (tmp_path / "data").mkdir(mode=0)
    try:
        with pytest.raises(DataLayoutError, match=rf"{key}=.*cannot be read \(Permission denied\)"):
            build_index(tmp_path / "data")
    finally:
        (tmp_path / "data").chmod(0o755)


def test_prepare_names_a_root_that_is_a_file(tmp_path):
    (tmp_path / "raw").write_text("")
    with pytest.raises(DataLayoutError, match=rf"--dota-root={tmp_path / 'raw'} is a file, not a folder"):
        prepare(tmp_path / "raw", None, tmp_path / "out")
    with pytest.raises(DataLayoutError, match=rf"--bdd-root={tmp_path / 'raw'} is a file, not a folder"):
        prepare(None, tmp_path / "raw", tmp_path / "out")


def test_prepare_lists_a_bad_annotation_and_prepares_the_rest(make_official_tree, tmp_path):
    raw = make_official_tree([BAD, GOOD])
    utf16(annotation(raw))
    failures = prepare(raw, None, tmp_path / "out")
    assert len(failures) == 1 and failures[0].startswith(f"{annotation(raw)} is not UTF-8 text")
    kept, issues = build(tmp_path / "out" / "dota")  # copied unchanged: the prepared tree reports it too
    assert kept == [GOOD] and only_fatal(issues).video_id == BAD
