"""Issue 31: the new data sets' files as outside input: non-ASCII digit ids and a forged probe cache."""

from __future__ import annotations

import json

import pytest
from data.test_nexar import write_nexar_tree

from riskvision.data.probe import CACHE_NAME, ProbeCache
from riskvision.data.sources.nexar import build_nexar_index, video_lookup

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")


def test_a_superscript_video_id_does_not_stop_the_nexar_index(tmp_path, video_writer):
    root = write_nexar_tree(tmp_path / "nexar", video_writer, rows=["00001,1.5,0.8,1", "00003,,,0"],
                            videos=("00001", "00003"))
    video_writer(root / "train" / "²³.mp4", 30, fps=30, size=(48, 32))
    assert "23" not in video_lookup(sorted((root / "train").iterdir()))
    records = build_nexar_index(root, test_fraction=0.0, issues=[])
    assert [r.video_id for r in records] == ["00001", "00003"]


@pytest.mark.parametrize("cache", ["a-list", "list-entries", "short-entries", "impossible-count", "nan-fps"])
def test_a_forged_probe_cache_is_probed_again(tmp_path, video_writer, cache):
    video = video_writer(tmp_path / "a.mp4", 28, fps=30, size=(48, 32))
    stat = video.stat()
    entries = {"a-list": [1, 2], "list-entries": [[stat.st_size, stat.st_mtime_ns, 30.0, 28]],
               "short-entries": {"a.mp4": [stat.st_size, stat.st_mtime_ns]},
               "impossible-count": {"a.mp4": [stat.st_size, stat.st_mtime_ns, 30.0, 100_000]},
               "nan-fps": {"a.mp4": [stat.st_size, stat.st_mtime_ns, float("nan"), 28]}}[cache]
    (tmp_path / CACHE_NAME).write_text(json.dumps(entries))
    probes = ProbeCache(tmp_path)
    assert probes.get(video) is None  # not believed: the video is probed again
    probes.put(video, 30.0, 28)
    assert probes.get(video) == (30.0, 28)
