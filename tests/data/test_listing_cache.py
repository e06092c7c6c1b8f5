"""Issue 28: BDD frame folders are listed once; later starts read the listing cache (riskvision.data.listing_cache)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from riskvision.data import layout
from riskvision.data.listing_cache import LISTING_CACHE_NAME
from riskvision.data.sources.bdd import build_bdd_index


@pytest.fixture
def bdd_frames(tmp_path, frame_writer):
    root = tmp_path / "bdd"
    frame_writer(root / "frames/100k/train/aaaa-0001", 12)
    frame_writer(root / "frames/100k/train/bbbb-0002", 9)
    frame_writer(root / "frames/100k/val/cccc-0003", 7)
    odd = root / "frames/100k/val/dddd-0004"
    frame_writer(odd, 3)
    for old, name in zip(sorted(os.listdir(odd)), ("a.jpg", "b.jpg", "c.jpg")):  # kept as names, not a pattern
        (odd / old).rename(odd / name)
    (root / "frames/100k/prepared.json").write_text(json.dumps({"fps": 10}))
    return root


def _listed(monkeypatch) -> list[str]:
    """The frame folders os.scandir lists from now on (layout.list_frames' listing)."""
    listed: list[str] = []
    real = os.scandir

    def counting(path="."):
        listed.append(os.path.basename(str(path)))
        return real(path)

    monkeypatch.setattr(layout.os, "scandir", counting)
    return listed


def _index(root):
    return {r.video_id: (r.num_frames, tuple(r.frame_files)) for r in build_bdd_index(root, layout="frames")}


def test_a_second_start_lists_no_frame_folder_and_a_changed_one_is_listed_again(bdd_frames, monkeypatch, frame_writer):
    first = _index(bdd_frames)
    assert (bdd_frames / "frames/100k" / LISTING_CACHE_NAME).is_file()
    assert first["dddd-0004"] == (3, ("a.jpg", "b.jpg", "c.jpg"))
    listed = _listed(monkeypatch)
    assert _index(bdd_frames) == first
    assert [name for name in listed if "-000" in name] == []  # no frame folder read
    shutil.rmtree(bdd_frames / "frames/100k/train/bbbb-0002")
    frame_writer(bdd_frames / "frames/100k/train/bbbb-0002", 14)  # re-extracted: a new mtime
    shorter = bdd_frames / "frames/100k/val/cccc-0003"
    (shorter / sorted(os.listdir(shorter))[-1]).unlink()  # a frame removed
    listed.clear()
    again = _index(bdd_frames)
    assert sorted(name for name in listed if "-000" in name) == ["bbbb-0002", "cccc-0003"]
    assert again["bbbb-0002"][0] == 14 and again["cccc-0003"][0] == 6
    assert again["aaaa-0001"] == first["aaaa-0001"]


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        "[1, 2]",
        # entries that lie: another count, a name outside the folder, a non-image, a wrong type
        {"train/aaaa-0001": "COUNT"},
        {"train/aaaa-0001": "ESCAPE"},
        {"train/aaaa-0001": "NOT_IMAGE"},
        {"train/aaaa-0001": "TYPE"},
    ],
)
def test_a_damaged_cache_is_ignored_and_rebuilt(bdd_frames, damage):
    first = _index(bdd_frames)
    cache = bdd_frames / "frames/100k" / LISTING_CACHE_NAME
    if isinstance(damage, str):
        cache.write_text(damage)
    else:
        entries = json.loads(cache.read_text())
        mtime, count, form = entries["train/aaaa-0001"]
        entries["train/aaaa-0001"] = {
            "COUNT": [mtime, count + 5, form],
            "ESCAPE": [mtime, 2, ["names", ["../../val/cccc-0003/000001.jpg", "000002.jpg"]]],
            "NOT_IMAGE": [mtime, count, ["pattern", "", 1, 6, ".py"]],
            "TYPE": [mtime, count, ["pattern", "", "1", 6, ".jpg"]],
        }[damage["train/aaaa-0001"]]
        cache.write_text(json.dumps(entries))
    assert _index(bdd_frames) == first
    assert json.loads(cache.read_text())["train/aaaa-0001"][1] == 12  # rewritten with the folder's own listing


def test_write_cache_false_writes_nothing(bdd_frames, tmp_path):
    build_bdd_index(bdd_frames, layout="frames", write_cache=False)
    assert not (bdd_frames / "frames/100k" / LISTING_CACHE_NAME).exists()
    build_bdd_index(bdd_frames, layout="frames", cache_dir=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"bdd_bdd{LISTING_CACHE_NAME}"]
