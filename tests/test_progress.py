"""The shared progress line (riskvision.progress) and the headline a scoring run ends with."""

from __future__ import annotations

import io
import re

from riskvision.evaluation.summary import headline
from riskvision.progress import ProgressLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_with_count_percentage_rate_and_eta_then_the_total_time():
    stream = io.StringIO()
    progress = ProgressLine("scoring test windows", 400, "windows", stream, log_every_s=0.0)
    progress.advance(100)
    progress.update(300, "2 alarm(s)")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"scoring test windows: 100 / 400 windows \(25%\), [0-9.]+ windows/s, ETA \d+ s", lines[0])
    assert lines[1].startswith("scoring test windows: 300 / 400 windows (75%)") and lines[1].endswith("2 alarm(s)")
    assert re.fullmatch(
        r"scoring test windows: 300 / 400 windows, [0-9.]+ windows/s, [0-9.]+ s, 2 alarm\(s\)", lines[2]
    )


def test_a_terminal_line_is_rewritten_in_place_and_ended_once():
    stream = Terminal()
    progress = ProgressLine("generating synthetic data", None, "clips", stream, every_s=0.0)
    for _ in range(3):
        progress.advance()
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 1 and text.endswith("\n")
    assert "3 clips" in text.split("\r")[-1] and "ETA" not in text  # no total: no percentage, no ETA


def test_lines_are_rate_limited_off_a_terminal():
    stream = io.StringIO()
    progress = ProgressLine("x", 10, "items", stream)
    for _ in range(10):
        progress.advance()
    assert stream.getvalue() == ""  # nothing due within 60 s off a terminal
    progress.close()
    assert stream.getvalue().startswith("x: 10 / 10 items")


def test_a_log_line_waits_for_one_percent_of_a_long_job_and_a_minute_of_a_short_one(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("riskvision.progress.time.perf_counter", lambda: now[0])
    long_job, short_job = io.StringIO(), io.StringIO()
    slow = ProgressLine("extracting", 10_000, "videos", long_job)  # 1 video a minute: 1% = 100 minutes
    fast = ProgressLine("scoring", 10_000, "windows", short_job)  # 50 windows a second: 1% = 2 s
    for minute in range(1, 301):
        now[0] = 60.0 * minute
        slow.advance()
        fast.update(min(10_000, 3000 * minute))
    assert len(long_job.getvalue().splitlines()) == 3  # at 100, 200 and 300 minutes: every 1%
    assert len(short_job.getvalue().splitlines()) == 4  # one a minute while the job runs (4 minutes)


def test_a_quick_step_closes_quietly_only_when_asked_and_no_line_was_shown(monkeypatch):
    quick, asked = io.StringIO(), io.StringIO()
    ProgressLine("indexing DoTA clips", 12, "clips", quick).close()
    ProgressLine("indexing DoTA clips", 12, "clips", asked).close(min_elapsed_s=60.0)
    assert quick.getvalue().startswith("indexing DoTA clips: 0 / 12 clips") and asked.getvalue() == ""
    shown = io.StringIO()
    progress = ProgressLine("indexing DoTA clips", 12, "clips", shown, log_every_s=0.0)
    progress.advance(6)  # a line was shown: the step ends with its last line, however quick
    progress.close(min_elapsed_s=60.0)
    assert len(shown.getvalue().splitlines()) == 2


def test_indexing_a_bdd_tree_shows_its_progress_once_it_is_slow(tmp_path, monkeypatch, capfd):
    from riskvision.data import probe
    from riskvision.data.sources import bdd

    for name in ("a", "b", "c"):
        path = tmp_path / "videos" / "100k" / "train" / f"{name}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not probed: probe_video is replaced")
    monkeypatch.setattr(probe, "probe_video", lambda path: (30.0, 90))
    monkeypatch.setattr(probe, "INDEX_PROGRESS_S", 0.0)  # as if the probing had taken long
    records = bdd.build_bdd_index(tmp_path, write_cache=False)
    assert len(records) == 3
    assert re.search(r"indexing BDD100K videos in .*: 3 / 3 videos, [0-9.]+ videos/s", capfd.readouterr().err)
    monkeypatch.setattr(probe, "INDEX_PROGRESS_S", 60.0)
    bdd.build_bdd_index(tmp_path, write_cache=False)
    assert capfd.readouterr().err == ""  # a quick index says nothing


def test_headline_names_split_counts_f1_and_the_cis():
    ci = {"value": 0.9, "low": 0.8, "high": 0.95}
    metrics = {
        "run": {"name": "ResNet3D-101", "split": "test"},
        "counts": {"windows": 1234, "videos": 50, "crash_videos": 25},
        "own_task": {"f1_macro": 0.61234, "f1": None},
        "anticipation": {"mtta": 1.5},
        "ci": {"window_auroc": ci, "video_auroc": ci, "frame_auc": {"value": None}},
    }
    line = headline(metrics)
    assert line.startswith(
        "ResNet3D-101 on the test split: 1,234 windows of 50 videos (25 crash) | window macro-F1 0.612 |"
    )
    metrics["run"].update(scoring="clips", threshold=0.45)
    metrics["own_task"] = {"f1": 0.469, "precision": 0.9, "recall": 0.31}
    binary = headline(metrics)  # the unit, and what a low F1 is made of
    assert "1,234 clips of 50 videos" in binary
    assert "| clip F1 0.469 (precision 0.900, recall 0.310 at threshold 0.45) |" in binary
    assert "window AUROC 0.900 [0.800, 0.950]" in line and "frame AUC n/a" in line and "mTTA 1.50 s" in line
