"""Issue 31: the new data sets' files as outside input: non-ASCII digit ids and a forged probe cache."""

from __future__ import annotations

import json

import pytest
from data.test_nexar import write_nexar_tree

from riskvision.data.probe import CACHE_NAME, ProbeCache
from riskvision.data.sources.nexar import build_nexar_index, video_lookup

pytestmark = pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")


def test_a_superscript_video_id_does_not_stop_the_nexar_index(tmp_path, video_writer):
    root = write_nexar_tree(
        tmp_path / "nexar", video_writer, rows=["00001,1.5,0.8,1", "00003,,,0"], videos=("00001", "00003")
    )
    video_writer(root / "train" / "²³.mp4", 30, fps=30, size=(48, 32))
    assert "23" not in video_lookup(sorted((root / "train").iterdir()))
    records = build_nexar_index(root, test_fraction=0.0, issues=[])
    assert [r.video_id for r in records] == ["00001", "00003"]


@pytest.mark.parametrize("cache", ["a-list", "list-entries", "short-entries", "impossible-count", "nan-fps"])
def test_a_forged_probe_cache_is_probed_again(tmp_path, video_writer, cache):
    video = video_writer(tmp_path / "a.mp4", 28, fps=30, size=(48, 32))
    stat = video.stat()
    entries = {
        "a-list": [1, 2],
        "list-entries": [[stat.st_size, stat.st_mtime_ns, 30.0, 28]],
        "short-entries": {"a.mp4": [stat.st_size, stat.st_mtime_ns]},
        "impossible-count": {"a.mp4": [stat.st_size, stat.st_mtime_ns, 30.0, 100_000]},
        "nan-fps": {"a.mp4": [stat.st_size, stat.st_mtime_ns, float("nan"), 28]},
    }[cache]
    (tmp_path / CACHE_NAME).write_text(json.dumps(entries))
    probes = ProbeCache(tmp_path)
    assert probes.get(video) is None  # not believed: the video is probed again
    probes.put(video, 30.0, 28)
    assert probes.get(video) == (30.0, 28)


@pytest.mark.parametrize("case", ["ccd-without-root", "nexar-header", "utf16-ccd-list"])
def test_check_data_prints_one_clear_line_without_a_traceback(tmp_path, case):
    """check_data.py on a missing mandatory root, a wrong Nexar header and a UTF-16 CCD list."""
    import subprocess
    import sys
    from pathlib import Path

    if case == "ccd-without-root":
        args, expected = ["data=ccd"], "Error: data.root is not set, and this data config needs it"
    elif case == "nexar-header":
        (tmp_path / "train").mkdir()
        (tmp_path / "train.csv").write_text("ID,event,alert,label\n1,2,3,1\n")
        args, expected = ["data=nexar", f"data.root={tmp_path}"], "has the header ID,event,alert,label (line 1)"
    else:
        (tmp_path / "videos" / "Crash-1500").mkdir(parents=True)
        (tmp_path / "videos" / "Crash-1500.txt").write_text("000001,[0,1]\n", encoding="utf-16")
        args, expected = ["data=ccd", f"data.root={tmp_path}"], "Crash-1500.txt is not UTF-8 text"
    proc = subprocess.run(
        [sys.executable, "scripts/check_data.py", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert expected in proc.stderr
