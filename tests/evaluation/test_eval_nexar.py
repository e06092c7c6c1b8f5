"""The Nexar challenge's mean AP at 0.5 / 1.0 / 1.5 s on a hand-made predictions table, and its submission CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskvision.evaluation.nexar import horizon_scores, last_window_scores, nexar_metrics, write_submission


def rows(video_id, frames, scores, start=-1, num_frames=30, crash_from=None, probe="none") -> list[dict]:
    """Windows of one video at 10 fps; ``crash_from``: windows ending there or later are labelled crash
    (crash_mode=overlap), ``None``: every window of a video with an anomaly."""
    crash = [int(start >= 0 and (crash_from is None or f >= crash_from)) for f in frames]
    return [
        {
            "video_id": video_id,
            "source": "dota" if start >= 0 else "bdd",
            "category": "x",
            "ego": False,
            "night": False,
            "fps": 10.0,
            "num_frames": num_frames,
            "anomaly_start": start,
            "anomaly_end": start + 5 if start >= 0 else -1,
            "end_frame": f,
            "crash": c,
            "risk": 0,
            "probe": probe,
            "p_crash": p,
        }
        for f, p, c in zip(frames, scores, crash)
    ]


# P1: anomaly at frame 20, labelled as crash_mode=overlap does; windows every 5th frame
# P2: anomaly at frame 12; nothing ends 1.0 s (frame 2) or 1.5 s before it
# N1: normal, 30 frames, last frame 29;  U: a crash video without span (no event time): never takes part
TABLE = pd.DataFrame(
    rows("p1", [4, 9, 14, 19, 24], [0.2, 0.4, 0.6, 0.8, 0.9], start=20, crash_from=20)
    + rows("p2", [4, 9, 14], [0.3, 0.7, 0.95], start=12)
    + rows("n1", [9, 19, 29], [0.5, 0.35, 0.1])
    + [{**r, "anomaly_start": -1, "anomaly_end": -1, "crash": 1} for r in rows("u", [9], [0.0], start=5)]
    + rows("n1", [9, 19, 29], [0.99, 0.99, 0.99], probe="shuffled")  # a probe: ignored
)


def test_horizon_scores_take_the_last_window_before_the_cut():
    # 0.5 s: p1 cut 15 -> window 14 (.6); p2 cut 7 -> 4 (.3); n1 cut 29 - 5 = 24 -> 19 (.35)
    half = horizon_scores(TABLE, 0.5)
    assert half.to_dict("list") == {"video_id": ["n1", "p1", "p2"], "crash": [0, 1, 1], "score": [0.35, 0.6, 0.3]}
    # 1.5 s: p1 cut 5 -> 4 (.2); p2 has nothing at or before frame -3; n1 cut 14 -> 9 (.5)
    late = horizon_scores(TABLE, 1.5)
    assert late.to_dict("list") == {"video_id": ["n1", "p1"], "crash": [0, 1], "score": [0.5, 0.2]}


def test_nexar_map_by_hand():
    out = nexar_metrics(TABLE)
    # 0.5 s: .6 (pos), .35 (neg), .3 (pos) -> AP = 1/2 * 1 + 1/2 * 2/3
    assert out["ap_500ms"] == pytest.approx(0.5 + 1 / 3)
    # 1.0 s: p1 cut 10 -> 9 (.4), n1 cut 19 -> 19 (.35): the positive first -> 1
    assert out["ap_1000ms"] == pytest.approx(1.0)
    # 1.5 s: n1 .5 above p1 .2 -> precision 1/2 at the only positive
    assert out["ap_1500ms"] == pytest.approx(0.5)
    assert out["map"] == pytest.approx((0.5 + 1 / 3 + 1.0 + 0.5) / 3)
    assert (out["n_positive_500ms"], out["n_negative_500ms"], out["n_positive_1500ms"]) == (2, 1, 1)


def test_nexar_map_is_nan_when_a_subset_has_no_positive():
    out = nexar_metrics(TABLE, horizons_s=(0.5, 3.0))  # 3 s before p1 is frame -10
    assert np.isnan(out["ap_3000ms"]) and np.isnan(out["map"])


def test_submission_csv_keeps_ids_and_order(tmp_path):
    path = write_submission({"00204": 0.25, "00030": 1.0, "01000": 0.0}, tmp_path / "submission.csv")
    assert path.read_text() == "id,score\n00204,0.25\n00030,1.0\n01000,0.0\n"
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]  # written atomically: no temporary left
    scores = last_window_scores(TABLE)  # the score of an already-cut test video: its last window
    assert scores.to_dict() == {"n1": 0.1, "p1": 0.9, "p2": 0.95, "u": 0.0}
    back = pd.read_csv(write_submission(scores, tmp_path / "s2.csv"), dtype={"id": str})
    assert back["id"].tolist() == ["n1", "p1", "p2", "u"]


@pytest.mark.parametrize(
    "scores, message",
    [
        (pd.Series([0.1, 0.2], index=["7", "7"]), r"ids \['7'\] appear more than once"),
        ({"a": 1.5}, r"\('a', 1\.5\).*not probabilities in \[0, 1\]"),
        ({"a": float("nan")}, r"not probabilities"),
        ({"": 0.5}, r"an empty id"),
    ],
)
def test_bad_submission_is_refused(tmp_path, scores, message):
    with pytest.raises(ValueError, match=message):
        write_submission(scores, tmp_path / "submission.csv")
    assert not (tmp_path / "submission.csv").exists()
