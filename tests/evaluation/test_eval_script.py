"""scripts/eval.py on a checkpoint written by train.py (subprocesses, tiny synthetic data, CPU)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.evaluation.table import read_predictions

ROOT = Path(__file__).resolve().parents[2]
SIZES = {
    "num_crash": 10,
    "num_normal": 10,
    "width": 32,
    "height": 32,
    "crash_seconds": [2, 3],
    "normal_seconds": [2, 3],
}
BILSTM = [
    "model=bilstm",
    "model.inputs.frame_size=32",
    "model.inputs.num_frames=4",
    "model.inputs.batch_size=2",
    "model.net.hidden_size=8",
]


def run(script: str, *overrides: str) -> None:
    env = {**os.environ, "CI": "true", "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    proc = subprocess.run(
        [sys.executable, script, *overrides],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"{script} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


@pytest.fixture(scope="session")
def trained(build_once) -> Path:
    """A tiny bilstm trained 2 epochs with test=true and the CSV logger, trained once per test session (the xdist
    workers share it: tests/conftest.py build_once); returns its run folder (its data in ``../synthetic``)."""
    return build_once("eval_script_bilstm", train_tiny_bilstm) / "train"


def train_tiny_bilstm(root: Path) -> None:
    """train.py on a tiny synthetic set written to ``root/synthetic``; the run in ``root/train``."""
    ensure_synthetic(root / "synthetic", seed=0, **SIZES)
    sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in SIZES.items()]
    data = [
        f"data.synthetic.root={root / 'synthetic'}",
        "data.synthetic.seed=0",
        *sizes,
        "data.loader.num_workers=0",
        "data.loader.persistent_workers=false",
    ]
    run(
        "train.py",
        *data,
        *BILSTM,
        "trainer=cpu",
        "trainer.max_epochs=2",
        "logger=csv",
        "test=true",
        "evaluation=none",
        "extras.print_config=false",
        f"hydra.run.dir={root / 'train'}",
    )


def logged_test_metrics(run_dir: Path) -> dict[str, float]:
    with open(run_dir / "csv" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return {key: float(value) for row in rows for key, value in row.items() if key.startswith("test/") and value}


@pytest.mark.slow
def test_eval_reproduces_the_test_metrics_logged_by_training(trained, tmp_path):
    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    run(
        "scripts/eval.py",
        f"ckpt_path={best}",
        f"hydra.run.dir={tmp_path}",
        "settings.scoring=clips",
        "settings.probes=[none]",
        "settings.n_boot=10",
        "settings.latency_repeats=0",
    )
    own = json.loads((tmp_path / "metrics.json").read_text())["own_task"]
    logged = logged_test_metrics(trained)
    for name in ("f1", "precision", "recall", "auroc", "ap", "threshold"):
        assert own[name] == pytest.approx(logged[f"test/{name}"], abs=1e-5), name
    assert own["tp"] == logged["test/confmat/true_1_pred_1"] and own["fp"] == logged["test/confmat/true_0_pred_1"]


@pytest.mark.slow
def test_eval_sliding_windows_with_probes(trained, tmp_path):
    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    run(
        "scripts/eval.py",
        f"ckpt_path={best}",
        f"hydra.run.dir={tmp_path}",
        "settings.step=4",
        "settings.probes=[none,shuffled]",
        "settings.n_boot=10",
        "settings.latency_repeats=1",
        "name=tiny",
    )
    table = read_predictions(tmp_path / "predictions.parquet")
    assert set(table["probe"]) == {"none", "shuffled"}
    real = table[table["probe"] == "none"]
    assert (real["end_frame"] % 4 == 0).all() and real["video_id"].nunique() >= 2
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["run"]["name"] == "tiny" and metrics["run"]["cost"]["parameters"] > 11_000_000
    assert "shuffled" in metrics["probes"] and metrics["counts"]["windows"] == len(real)


@pytest.mark.slow
def test_checkpoints_record_the_training_clip_span_and_the_predictor_reports_it(trained, caplog):
    import torch

    from riskvision.checkpoints.loading import CLIP_SPAN_KEY
    from riskvision.inference import Predictor

    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    span = torch.load(best, weights_only=True)[CLIP_SPAN_KEY]
    # the uniform sampler spreads its 4 frames over whole training videos of 2-3 s at 10 fps
    assert 1.9 <= span["min"] <= span["median"] <= span["max"] <= 3.1, span
    predictor = Predictor.from_checkpoint(best)
    assert predictor.train_clip_span_s == span and predictor.window_span_s == pytest.approx(0.4)
    assert f"trained on clips spanning {span['min']:.1f}-{span['max']:.1f} s" in predictor.describe()
    assert "a streamed window spans" not in caplog.text  # loading (eval.py, export) changes no answer: not said
    assert predictor.span_mismatch().endswith(
        "Fix: read them against eval.py's sliding scores, not its clip metrics "
        "(eval.py settings.scoring=clips scores the clips it was trained on); to "
        "stream what it learned, train it on consecutive frames "
        "(model.inputs.sampler=window)"
    )
    frames = [(np.zeros((16, 16, 3), np.uint8), i / 10) for i in range(3)]
    list(predictor.stream(frames, backend=None)) + list(predictor.stream(frames))  # where windows are scored: once
    assert caplog.text.count("a streamed window spans 0.4 s (4 consecutive frames at 10 fps)") == 1


def source_of(root: Path, video_id: str) -> Path:
    """The file or frame folder of a synthetic video (DoTA frames/<clip>/images, BDD videos/100k/<split>/<id>.mp4)."""
    found = list(root.glob(f"*/dota/frames/{video_id}/images")) + list(root.glob(f"*/bdd/videos/100k/*/{video_id}.mp4"))
    assert len(found) == 1, (video_id, found)
    return found[0]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["bilstm", "resnet3d101"])
def test_streaming_with_smoothing_off_equals_eval_sliding_scores(trained, tmp_path, model):
    """The streaming engine on the test videos' own files (frame folders at 10 fps, 30 fps MP4s) against the
    predictions table of ``scripts/eval.py settings.step=3``: the same windows, probabilities within 1e-5."""
    from checkpoint_fakes import R3D101, make_checkpoint

    from riskvision.inference import Predictor
    from riskvision.inference.smoothing import NoSmoothing

    synthetic = trained.parent / "synthetic"
    if model == "bilstm":
        ckpt = next(trained.glob("checkpoints/epoch_*.ckpt"))
    else:  # random weights; the stored data config reads the same synthetic set
        sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in SIZES.items()]
        ckpt = make_checkpoint(
            tmp_path / "r3d",
            [
                *R3D101,
                f"data.synthetic.root={synthetic}",
                "data.synthetic.seed=0",
                *sizes,
                "data.loader.num_workers=0",
                "data.loader.persistent_workers=false",
            ],
        )
    run(
        "scripts/eval.py",
        f"ckpt_path={ckpt}",
        f"hydra.run.dir={tmp_path / 'eval'}",
        "settings.step=3",
        "settings.probes=[none]",
        "settings.n_boot=10",
        "settings.latency_repeats=0",
    )
    table = read_predictions(tmp_path / "eval" / "predictions.parquet")
    predictor = Predictor.from_checkpoint(ckpt)
    columns = predictor.columns
    assert table["video_id"].nunique() >= 4 and set(table["source"]) == {"dota", "bdd"}
    for video_id, rows in table.groupby("video_id"):
        results = predictor.predict_video(source_of(synthetic, video_id), step=3, smoothing=NoSmoothing())
        rows = rows.sort_values("end_frame")
        assert [r.frame for r in results] == rows["end_frame"].tolist(), video_id
        streamed = [[r.probs[c] for c in columns] for r in results]
        assert abs(rows[columns].to_numpy(float) - streamed).max() <= 1e-5, video_id


@pytest.mark.slow
def test_per_frame_sliding_scoring_equals_the_whole_net_on_every_window(trained, tmp_path):
    """eval.py's sliding scoring of the bilstm with the backbone once per frame (each video read once) gives the
    table of the whole net on every window: the same rows in the same order, the same probe draws, the same
    probabilities within 1e-5."""
    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    tables = {}
    for per_frame in ("true", "false"):
        out = tmp_path / per_frame
        run(
            "scripts/eval.py",
            f"ckpt_path={best}",
            f"hydra.run.dir={out}",
            "settings.step=2",
            f"settings.per_frame={per_frame}",
            "settings.probes=[none,shuffled,repeated]",
            "settings.n_boot=10",
            "settings.latency_repeats=0",
        )
        tables[per_frame] = read_predictions(out / "predictions.parquet").drop(columns="run_id")
        assert ("backbone once per frame" in (out / "eval.log").read_text()) == (per_frame == "true")
    fast, slow = tables["true"], tables["false"]
    meta = [c for c in slow.columns if not c.startswith("prob_") and c != "p_crash"]
    assert len(fast) == len(slow) > 0 and set(fast["probe"]) == {"none", "shuffled", "repeated"}
    pd.testing.assert_frame_equal(fast[meta], slow[meta])
    assert np.abs(fast["prob_crash"].to_numpy() - slow["prob_crash"].to_numpy()).max() <= 1e-5
    # the probes changed the scores (else equal draws would prove nothing)
    none, shuffled = (fast[fast["probe"] == p]["prob_crash"].to_numpy() for p in ("none", "shuffled"))
    assert np.abs(none - shuffled).max() > 1e-4


@pytest.mark.slow
def test_streaming_raises_the_alarms_metrics_json_replays(trained, tmp_path, caplog):
    """Issue 27's proof: eval.py chooses the operating point on validation and stores it in the checkpoint;
    streaming each test video with predict_video under that policy raises, video by video, the alarm-on events
    metrics.json's replay counts (at the operating point, and at the run's threshold where alarms do fire)."""
    import shutil

    from riskvision.inference import Predictor

    ckpt = tmp_path / "best.ckpt"
    shutil.copy(next(trained.glob("checkpoints/epoch_*.ckpt")), ckpt)
    run(
        "scripts/eval.py",
        f"ckpt_path={ckpt}",
        f"hydra.run.dir={tmp_path / 'eval'}",
        "settings.step=3",
        "settings.probes=[none]",
        "settings.n_boot=10",
        "settings.latency_repeats=0",
        "store_operating_point=true",
        "settings.false_alarm_cap_per_hour=2000",
        "settings.alarm.rule.min_on_s=0.3",
    )
    deployment = json.loads((tmp_path / "eval" / "metrics.json").read_text())["deployment"]
    point = deployment["operating_point"]
    assert point["chosen_on"] == "val" and point["step"] == 3 and point["cap_per_hour"] == 2000
    assert deployment["policy"]["rule"] == {"kind": "hysteresis", "off_ratio": 0.8, "min_on_s": 0.3}
    predictor = Predictor.from_checkpoint(ckpt)
    assert predictor.operating_point is not None and predictor.alarm_policy.to_dict() == deployment["policy"]
    assert predictor.alarm_threshold == pytest.approx(point["threshold"])
    assert "chosen on val for <= 2000 false alarms/h" in predictor.describe()
    synthetic = trained.parent / "synthetic"
    views = {"operating_point": None, "at_threshold": deployment["at_threshold"]["threshold"]}
    fired = 0
    for view, threshold in views.items():
        replayed = deployment[view]["alarm_events_per_video"]
        alarm = None if threshold is None else predictor.alarm_policy.alarm(threshold)
        for video_id, expected in replayed.items():
            results = predictor.predict_video(source_of(synthetic, video_id), step=3, alarm=alarm)
            streamed = sum(event.kind == "on" for result in results for event in result.events)
            assert streamed == expected, (view, video_id)
            fired += streamed
    assert fired > 0  # not a comparison of silences
