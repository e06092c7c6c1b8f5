"""The predictions table and metrics.json: schema, probes, source probe, breakdown, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import synthetic_table, task_of

from riskvision.evaluation.anticipation import frame_auc
from riskvision.evaluation.predict import write_evaluation
from riskvision.evaluation.summary import (
    RunInfo,
    breakdown,
    ci_statistics,
    compute_metrics,
    in_anomaly,
    jsonable,
    probe_metrics,
    source_probe,
)
from riskvision.evaluation.table import find_predictions, read_predictions, video_level, video_scores, write_predictions


def tiny(rows: list[dict]) -> pd.DataFrame:
    base = {
        "category": "x",
        "ego": False,
        "night": False,
        "fps": 10.0,
        "num_frames": 10,
        "risk": 0,
        "probe": "none",
        "anomaly_start": -1,
        "anomaly_end": -1,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_csv_round_trip_keeps_schema(tmp_path):
    table = synthetic_table("multiclass", n_crash=2, n_normal=2)
    assert {"prob_normal", "prob_warning", "prob_danger", "p_crash", "probe"} <= set(table.columns)
    assert table["p_crash"].to_numpy() == pytest.approx(1 - table["prob_normal"].to_numpy())
    back = read_predictions(write_predictions(table, tmp_path / "p.csv"))
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


def test_missing_column_is_named(tmp_path):
    path = write_predictions(synthetic_table("binary", 1, 1).drop(columns=["end_frame"]), tmp_path / "p.csv")
    with pytest.raises(ValueError, match=r"p\.csv lacks columns \['end_frame'\]"):
        read_predictions(path)


def test_in_anomaly_by_hand():
    rows = tiny(
        [{"anomaly_start": 2, "anomaly_end": 4, "end_frame": f} for f in range(5)]
        + [{"anomaly_start": -1, "anomaly_end": -1, "end_frame": 0}]
    )
    assert in_anomaly(rows).tolist() == [False, False, True, True, False, False]


def test_video_level_takes_max_score():
    table = tiny(
        [{"video_id": "a", "crash": 1, "p_crash": p, "source": "dota"} for p in (0.1, 0.7, 0.3)]
        + [{"video_id": "b", "crash": 0, "p_crash": 0.4, "source": "bdd"}]
    )
    videos = video_level(table)
    assert videos["p_crash"].tolist() == [0.7, 0.4] and videos["crash"].tolist() == [1, 0]


def test_source_probe_by_hand():
    # quiet windows: DoTA frames before the anomaly (0.6, 0.2) vs BDD (0.5, 0.1); DoTA's frame at the
    # anomaly (0.99) and the Warning-labelled frame are excluded. AUROC: .6 beats both, .2 beats .1 -> 3/4
    rows = [
        {
            "video_id": "d",
            "source": "dota",
            "crash": 1,
            "anomaly_start": 3,
            "anomaly_end": 5,
            "end_frame": f,
            "risk": r,
            "p_crash": p,
        }
        for f, r, p in [(0, 0, 0.6), (1, 0, 0.2), (2, 1, 0.95), (3, 2, 0.99)]
    ]
    rows += [
        {
            "video_id": "b",
            "source": "bdd",
            "crash": 0,
            "anomaly_start": -1,
            "anomaly_end": -1,
            "end_frame": f,
            "p_crash": p,
        }
        for f, p in [(0, 0.5), (1, 0.1)]
    ]
    out = source_probe(tiny(rows))
    assert out == {"auroc": pytest.approx(0.75), "n_dota": 2, "n_bdd": 2}


def test_breakdown_by_hand():
    rows = [
        {
            "video_id": v,
            "source": "dota",
            "crash": 1,
            "category": c,
            "anomaly_start": 1,
            "anomaly_end": 2,
            "end_frame": f,
            "p_crash": p,
        }
        for v, c, f, p in [
            ("d1", "lateral", 0, 0.2),
            ("d1", "lateral", 1, 0.9),
            ("d2", "turning", 0, 0.3),
            ("d2", "turning", 1, 0.4),
        ]
    ]
    rows += [
        {
            "video_id": "b1",
            "source": "bdd",
            "crash": 0,
            "category": "normal",
            "anomaly_start": -1,
            "anomaly_end": -1,
            "end_frame": 0,
            "p_crash": 0.6,
        }
    ]
    out = breakdown(tiny(rows), threshold=0.5, by=["category"])["category"]
    assert out["lateral"]["detection_rate"] == 1.0 and out["turning"]["detection_rate"] == 0.0
    assert out["lateral"]["video_auroc_vs_all_normals"] == 1.0  # video score .9 vs the normal's .6
    assert out["turning"]["video_auroc_vs_all_normals"] == 0.0  # .4 vs .6
    assert out["normal"]["false_alarm_rate"] == 1.0
    assert out["lateral"]["frame_auc"] == 1.0 and out["turning"]["frame_auc"] == 1.0


def test_probe_drop_is_reference_minus_probe():
    table = synthetic_table("binary", skill=3.0, probes=("none", "shuffled"))
    out = probe_metrics(table, RunInfo("m", task_of("binary")))["shuffled"]
    assert out["drop_window_auroc"] > 0.2  # the probe copy has no signal
    assert 0.3 < out["window_auroc"] < 0.7
    ci = out["drop_window_auroc_ci"]
    assert ci["value"] == pytest.approx(out["drop_window_auroc"]) and 0 < ci["low"] <= ci["value"] <= ci["high"]
    assert ci["p_above_zero"] == 1.0


def test_probe_drop_interval_is_zero_when_the_probe_changes_nothing():
    table = synthetic_table("binary", skill=3.0, probes=("none",))
    table = pd.concat([table, table.assign(probe="shuffled")], ignore_index=True)  # the probe scores = the real ones
    ci = probe_metrics(table, RunInfo("m", task_of("binary")), n_boot=200)["shuffled"]["drop_window_auroc_ci"]
    assert ci["value"] == 0.0 and ci["low"] == 0.0 == ci["high"]  # every paired resample differs by exactly 0


def test_frame_auc_statistic_matches_video_scores_definition():
    table = synthetic_table("binary")
    _, statistic = ci_statistics(table)["frame_auc"]
    spanned = table[(table["crash"] == 1)]
    assert statistic(np.ones(len(spanned))) == pytest.approx(frame_auc(video_scores(table)))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_metrics_json_end_to_end(task):
    table = synthetic_table(task, skill=3.0, probes=("none", "shuffled", "repeated"))
    metrics = compute_metrics(table, RunInfo("m", task_of(task), 0.5), n_boot=30)
    text = json.dumps(jsonable(metrics), allow_nan=False)
    assert metrics["counts"] == {"windows": 360, "videos": 12, "crash_videos": 6, "sources": {"bdd": 6, "dota": 6}}
    ci = metrics["ci"]["video_auroc"]
    assert ci["low"] <= ci["value"] <= ci["high"]
    assert metrics["common"]["window"]["auroc"] > 0.75
    assert set(metrics["probes"]) == {"shuffled", "repeated"}
    assert ("f1_macro" in metrics["own_task"]) == (task == "multiclass")
    assert "NaN" not in text


@pytest.mark.parametrize("crash_mode", ["video", "overlap"])
def test_frame_auc_uses_every_frame_of_crash_videos_in_both_crash_modes(crash_mode):
    # a crash video, anomaly [3, 5), 3-frame windows ending at frames 0..5, and a normal video. crash_mode=overlap
    # labels crash only the windows overlapping the anomaly (ending at 3, 4, 5): the frames before it must stay in
    # the AUC as negatives. Positives .7 (beats all 4 negatives) and .6 (beats .1, .3, .2) -> 7/8; the windows
    # labelled crash alone (.7, .6 vs .2) would give 1.0
    scores = [0.1, 0.65, 0.3, 0.7, 0.6, 0.2]
    overlaps = [f >= 3 and f - 2 < 5 for f in range(6)]
    rows = [
        {
            "video_id": "d",
            "source": "dota",
            "crash": int(crash_mode == "video" or overlaps[f]),
            "anomaly_start": 3,
            "anomaly_end": 5,
            "end_frame": f,
            "p_crash": p,
        }
        for f, p in enumerate(scores)
    ]
    rows += [
        {
            "video_id": "b",
            "source": "bdd",
            "crash": 0,
            "anomaly_start": -1,
            "anomaly_end": -1,
            "end_frame": f,
            "p_crash": 0.9,
        }
        for f in range(6)
    ]
    table = tiny(rows).assign(prob_crash=lambda t: t["p_crash"])
    ids, statistic = ci_statistics(table)["frame_auc"]
    assert statistic(np.ones(len(ids))) == pytest.approx(7 / 8) and set(ids) == {"d"}
    assert frame_auc(video_scores(table)) == pytest.approx(7 / 8)
    assert breakdown(table, 0.5, by=["source"])["source"]["dota"]["frame_auc"] == pytest.approx(7 / 8)
    assert compute_metrics(table, RunInfo("m", task_of("binary")), n_boot=5)["frame_auc"] == pytest.approx(7 / 8)


def test_predictions_tables_are_parquet_by_default_and_both_formats_read_back_the_same(tmp_path):
    table = synthetic_table("multiclass", skill=1.0, seed=0, probes=("none", "shuffled"))
    run = RunInfo("r", task_of("multiclass"))
    write_evaluation(table, run, tmp_path / "run", n_boot=5)
    assert find_predictions(tmp_path / "run") == tmp_path / "run" / "predictions.parquet"
    parquet = read_predictions(find_predictions(tmp_path / "run"))
    write_evaluation(table, run, tmp_path / "run", n_boot=5, filename="predictions.csv")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metrics.json", "predictions.csv"]  # no stale twin
    csv = read_predictions(find_predictions(tmp_path / "run"))
    pd.testing.assert_frame_equal(
        parquet.drop(columns="run_id"), csv.drop(columns="run_id"), check_exact=False, rtol=1e-15
    )
    assert (tmp_path / "run" / "predictions.csv").stat().st_size > 2.5 * write_predictions(
        csv, tmp_path / "p.parquet"
    ).stat().st_size
