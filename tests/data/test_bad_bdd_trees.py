"""Index-time robustness of the BDD100K source in tiny trees: bad roots, symlink loops, unreadable folders,
unreadable videos and a bad prepared.json, reported as the DoTA source reports them (tests/data/test_bad_trees.py).

A bad video or frame folder is dropped with a fatal DataIssue naming its path (check_data fails) and the rest
of the index is built; a root that is not a folder (tested with DoTA's in test_bad_trees.py), or a
prepared.json the whole layout needs, is a DataLayoutError naming the setting or file, the problem and the fix.
"""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from riskvision.data.check import check
from riskvision.data.config import FrameConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.layout import DataLayoutError
from riskvision.data.records import DataIssue
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.bdd import BddSource, build_bdd_index, detect_bdd_layout
from riskvision.data.splits import RandomSplit
from riskvision.video_io import encode_mp4

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")
root_only = pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 folders")


def frames_tree(root: Path, frame_writer, clips: dict[str, list[str]]) -> Path:
    """``frames/100k/<split>/<id>/`` with 6 JPEGs per clip id and a prepared.json at 10 fps."""
    for subset, ids in clips.items():
        for video_id in ids:
            frame_writer(root / "frames" / "100k" / subset / video_id, 6)
    (root / "frames" / "100k" / "prepared.json").write_text(json.dumps({"fps": 10}))
    return root


def write_video(path: Path, num_frames: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_mp4(path, (np.full((16, 16, 3), 9 * i, np.uint8) for i in range(num_frames)), (16, 16), 30, 20)
    return path


def build(root: Path) -> tuple[list[str], list[DataIssue]]:
    issues: list[DataIssue] = []
    return [r.video_id for r in build_bdd_index(root, issues=issues)], issues


def only_fatal(issues: list[DataIssue]) -> DataIssue:
    (issue,) = [i for i in issues if i.fatal]
    return issue


def refuse_listing(monkeypatch, folder: Path) -> None:
    """``Path.iterdir`` of ``folder`` raises PermissionError (what a chmod 000 folder does to a non-root user)."""
    iterdir = Path.iterdir

    def guarded(self):
        if self == folder:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return iterdir(self)

    monkeypatch.setattr(Path, "iterdir", guarded)


# ----------------------------------------------------------------------------- 1. the root (and test_bad_trees.py)


def test_layout_detection_checks_the_root_first(tmp_path):
    (tmp_path / "bdd100k.zip").write_bytes(b"PK")
    with pytest.raises(DataLayoutError, match=r"data.bdd_root=.*bdd100k.zip is a file, not a folder"):
        detect_bdd_layout(tmp_path / "bdd100k.zip")


# ----------------------------------------------------------------------------- 2. frame folders


def test_symlink_loop_and_broken_link_among_frame_folders_are_reported(tmp_path, frame_writer):
    root = frames_tree(tmp_path / "bdd", frame_writer, {"train": ["good-0001"]})
    split = root / "frames" / "100k" / "train"
    (split / "loop-0001").symlink_to(split / "loop-0001")
    (split / "gone-0001").symlink_to(tmp_path / "nowhere")
    (split / "notes.txt").write_text("a stray file is not a clip")
    kept, issues = build(root)
    assert kept == ["good-0001"]
    by_id = {i.video_id: i for i in issues if i.fatal}
    assert set(by_id) == {"loop-0001", "gone-0001"}
    loop = by_id["loop-0001"]
    assert (loop.kind, loop.path) == ("unreadable_folder", str(split / "loop-0001"))
    assert "Too many levels of symbolic links" in loop.message and "Fix:" in loop.message
    assert by_id["gone-0001"].kind == "missing_folder"


def test_unlistable_split_folder_is_reported_and_the_other_split_indexed(tmp_path, frame_writer, monkeypatch):
    root = frames_tree(tmp_path / "bdd", frame_writer, {"train": ["aaaa-0001"], "val": ["bbbb-0001"]})
    refuse_listing(monkeypatch, root / "frames" / "100k" / "train")
    kept, issues = build(root)
    assert kept == ["bbbb-0001"]
    issue = only_fatal(issues)
    assert (issue.kind, issue.path) == ("unreadable_folder", str(root / "frames" / "100k" / "train"))
    assert "cannot be read (Permission denied)" in issue.message and "Fix: make it a readable folder" in issue.message


def test_split_folder_that_is_a_symlink_loop_is_reported(tmp_path, frame_writer):
    root = frames_tree(tmp_path / "bdd", frame_writer, {"val": ["bbbb-0001"]})
    train = root / "frames" / "100k" / "train"
    train.symlink_to(train)
    kept, issues = build(root)
    assert kept == ["bbbb-0001"] and only_fatal(issues).path == str(train)


@root_only
def test_chmod_000_split_folder_is_reported(tmp_path, frame_writer):
    root = frames_tree(tmp_path / "bdd", frame_writer, {"train": ["aaaa-0001"], "val": ["bbbb-0001"]})
    train = root / "frames" / "100k" / "train"
    train.chmod(0)
    try:
        kept, issues = build(root)
    finally:
        train.chmod(0o755)
    assert kept == ["bbbb-0001"] and "Permission denied" in only_fatal(issues).message


@pytest.mark.parametrize(
    "text, says",
    [
        ("{", "is not valid JSON"),
        ("[10]", "holds a list where a JSON object is expected"),
        ('{"fps": "ten"}', "has fps='ten', which is not a positive number. Fix: set fps"),
    ],
)
def test_bad_prepared_json_is_a_layout_error_naming_it(tmp_path, frame_writer, text, says):
    root = frames_tree(tmp_path / "bdd", frame_writer, {"train": ["aaaa-0001"]})
    prepared = root / "frames" / "100k" / "prepared.json"
    prepared.write_text(text)
    with pytest.raises(DataLayoutError, match=rf"{prepared} {says}"):
        build_bdd_index(root)


# ----------------------------------------------------------------------------- 3. video files


def test_unlistable_video_folder_is_reported_and_the_other_split_indexed(tmp_path, monkeypatch):
    root = tmp_path / "bdd"
    write_video(root / "videos/100k/train/aaaa-0001.mp4")
    write_video(root / "videos/100k/val/bbbb-0001.mp4")
    refuse_listing(monkeypatch, root / "videos" / "100k" / "val")
    kept, issues = build(root)
    assert kept == ["aaaa-0001"]
    issue = only_fatal(issues)
    assert (issue.kind, issue.path) == ("unreadable_folder", str(root / "videos" / "100k" / "val"))


def test_looping_video_link_is_a_fatal_unreadable_video(tmp_path):
    root = tmp_path / "bdd"
    write_video(root / "videos/100k/train/aaaa-0001.mp4")
    loop = root / "videos/100k/train/loop-0001.mp4"
    loop.symlink_to(loop)
    kept, issues = build(root)
    assert kept == ["aaaa-0001"]
    issue = only_fatal(issues)
    assert (issue.kind, issue.path) == ("unreadable_video", str(loop)) and "Fix: re-download" in issue.message


def test_unreadable_video_fails_check_data_and_the_rest_trains(tmp_path):
    root = tmp_path / "bdd"
    for k in range(4):
        write_video(root / f"videos/100k/train/good-{k:04d}.mp4")
    (root / "videos/100k/train/bad-0001.mov").write_bytes(b"not a video")
    dm = RiskDataModule(
        {"bdd": BddSource(root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        split=RandomSplit({"train": 0.5, "val": 0.25, "test": 0.25}),
        frames=FrameConfig(size=(8, 8)),
    )
    _, problems = check(dm, frames=False)
    issue = only_fatal(problems)  # no other fatal problem: the broken video is why check_data fails
    assert (issue.kind, issue.video_id) == ("unreadable_video", "bad-0001")
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["video"].shape[1:] == (2, 3, 8, 8)
