"""scripts/eval.py on a checkpoint written by train.py (subprocesses, tiny synthetic data, CPU)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.evaluation.table import read_predictions

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"num_crash": 10, "num_normal": 10, "width": 32, "height": 32, "crash_seconds": [2, 3], "normal_seconds": [2, 3]}
BILSTM = ["model=bilstm", "model.inputs.frame_size=32", "model.inputs.num_frames=4", "model.inputs.batch_size=2",
          "model.net.hidden_size=8"]


def run(script: str, *overrides: str) -> None:
    env = {**os.environ, "CI": "true", "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    proc = subprocess.run([sys.executable, script, *overrides], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"{script} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny bilstm trained 2 epochs with test=true and the CSV logger; returns its run folder."""
    root = tmp_path_factory.mktemp("evalrun")
    ensure_synthetic(root / "synthetic", seed=0, **SIZES)
    sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in SIZES.items()]
    data = [f"data.synthetic.root={root / 'synthetic'}", "data.synthetic.seed=0", *sizes, "data.num_workers=0",
            "data.persistent_workers=false"]
    run("train.py", *data, *BILSTM, "trainer=cpu", "trainer.max_epochs=2", "logger=csv", "test=true", "evaluation=none",
        "extras.print_config=false", f"hydra.run.dir={root / 'train'}")
    return root / "train"


def logged_test_metrics(run_dir: Path) -> dict[str, float]:
    with open(run_dir / "csv" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return {key: float(value) for row in rows for key, value in row.items() if key.startswith("test/") and value}


@pytest.mark.slow
def test_eval_reproduces_the_test_metrics_logged_by_training(trained, tmp_path):
    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    run("scripts/eval.py", f"ckpt_path={best}", f"hydra.run.dir={tmp_path}", "settings.scoring=clips",
        "settings.probes=[none]", "settings.n_boot=10", "settings.latency_repeats=0")
    own = json.loads((tmp_path / "metrics.json").read_text())["own_task"]
    logged = logged_test_metrics(trained)
    for name in ("f1", "precision", "recall", "auroc", "ap", "threshold"):
        assert own[name] == pytest.approx(logged[f"test/{name}"], abs=1e-5), name
    assert own["tp"] == logged["test/confmat/true_1_pred_1"] and own["fp"] == logged["test/confmat/true_0_pred_1"]


@pytest.mark.slow
def test_eval_sliding_windows_with_probes(trained, tmp_path):
    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    run("scripts/eval.py", f"ckpt_path={best}", f"hydra.run.dir={tmp_path}", "settings.step=4",
        "settings.probes=[none,shuffled]", "settings.n_boot=10", "settings.latency_repeats=1", "name=tiny")
    table = read_predictions(tmp_path / "predictions.csv")
    assert set(table["probe"]) == {"none", "shuffled"}
    real = table[table["probe"] == "none"]
    assert (real["end_frame"] % 4 == 0).all() and real["video_id"].nunique() >= 2
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["run"]["name"] == "tiny" and metrics["run"]["cost"]["parameters"] > 11_000_000
    assert "shuffled" in metrics["probes"] and metrics["counts"]["windows"] == len(real)


@pytest.mark.slow
def test_checkpoints_record_the_training_clip_span_and_the_predictor_reports_it(trained, caplog):
    import torch

    from riskvision.inference import Predictor
    from riskvision.utils import CLIP_SPAN_KEY

    best = next(trained.glob("checkpoints/epoch_*.ckpt"))
    span = torch.load(best, weights_only=True)[CLIP_SPAN_KEY]
    # the uniform sampler spreads its 4 frames over whole training videos of 2-3 s at 10 fps
    assert 1.9 <= span["min"] <= span["median"] <= span["max"] <= 3.1, span
    predictor = Predictor.from_checkpoint(best)
    assert predictor.train_clip_span_s == span and predictor.window_span_s == pytest.approx(0.4)
    assert f"trained on clips spanning {span['min']:.1f}-{span['max']:.1f} s" in predictor.describe()
    assert "a streamed window spans 0.4 s" in caplog.text  # 4 consecutive frames at 10 fps: told, not hidden
