"""A crash video is a crash video by its annotated span, not by its window labels (issue 27's reproducer)."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_fakes import task_of

from riskvision.evaluation.summary import RunInfo, compute_metrics
from riskvision.evaluation.table import crash_video_rows

# 10 fps, 100-frame videos, 10-frame windows ending at 0, 8, ..., 96 (settings.step = 8)
FRAMES = range(0, 97, 8)
SPANS = {"crashA": (40, 60), "crashB": (97, 100), "normal": (-1, -1)}
SCORES = {
    "crashA": lambda f: 0.2 + 0.006 * f,
    "crashB": lambda f: 0.3 + 0.005 * f,
    "normal": lambda f: 0.45 if f in (80, 88) else 0.1,
}


def table(crash_mode: str) -> pd.DataFrame:
    """``crash_mode=overlap`` labels crash only the windows overlapping the anomaly: none of crashB's."""
    rows = []
    for video, (start, end) in SPANS.items():
        for f in FRAMES:
            overlaps = start >= 0 and f >= start and f - 9 < end
            crash = int(start >= 0) if crash_mode == "video" else int(overlaps)
            rows.append(
                {
                    "video_id": video,
                    "source": "dota" if start >= 0 else "bdd",
                    "category": "x",
                    "ego": False,
                    "night": False,
                    "fps": 10.0,
                    "num_frames": 100,
                    "risk": 0,
                    "probe": "none",
                    "end_frame": f,
                    "anomaly_start": start,
                    "anomaly_end": end,
                    "crash": crash,
                    "p_crash": SCORES[video](f),
                }
            )
    return pd.DataFrame(rows).assign(prob_crash=lambda t: t["p_crash"])


def test_overlap_mode_keeps_a_crash_video_without_crash_windows():
    overlap = table("overlap")
    assert overlap.loc[overlap["video_id"] == "crashB", "crash"].sum() == 0  # the reproducer's premise
    assert crash_video_rows(overlap).tolist() == [v != "normal" for v in overlap["video_id"]]


@pytest.mark.parametrize("crash_mode", ["video", "overlap"])
def test_video_level_views_agree_between_crash_modes(crash_mode):
    # before the fix, overlap mode gave crash_videos 1, anticipation.ap 0.333, nexar.map 0.333, 2 negative videos
    metrics = compute_metrics(table(crash_mode), RunInfo("m", task_of("binary")), n_boot=5)
    assert metrics["counts"]["crash_videos"] == 2
    assert metrics["anticipation"]["ap"] == pytest.approx(0.917, abs=5e-4)
    assert metrics["nexar"]["map"] == pytest.approx(0.833, abs=5e-4)
    assert metrics["deployment"]["n_negative_videos"] == 1
