"""Shortcut-probe transforms and the prediction writer on hand-made batches and tiny nets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from riskvision.evaluation.predict import measure_cost, predict_table, write_evaluation
from riskvision.evaluation.probes import repeat_one_frame, shuffle_frames
from riskvision.evaluation.summary import RunInfo
from riskvision.evaluation.table import read_predictions
from riskvision.tasks import BinaryCrash


class LastMinusFirst(nn.Module):
    """Logit = mean of the last frame minus mean of the first: sees order and motion only."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return (video[:, -1] - video[:, 0]).mean(dim=(1, 2, 3))[:, None]


def ramp_batch(batch: int = 4, frames: int = 6, start: int = 0) -> dict:
    """Clips whose frame t is filled with t (crash clips) or constant (normal clips)."""
    crash = torch.tensor([i % 2 for i in range(batch)])
    time = torch.arange(frames, dtype=torch.float32)[None, :, None, None, None]
    video = (time * crash[:, None, None, None, None]).expand(batch, frames, 3, 2, 2).contiguous()
    return {
        "video": video,
        "crash": crash,
        "risk": 2 * crash,
        "video_id": [f"v{start + i}" for i in range(batch)],
        "source": ["dota" if c else "bdd" for c in crash.tolist()],
        "end_frame": torch.full((batch,), frames - 1),
        "category": ["lateral" if c else "normal" for c in crash.tolist()],
        "ego": crash.bool(),
        "night": torch.zeros(batch, dtype=torch.bool),
        "fps": torch.full((batch,), 10.0),
        "num_frames": torch.full((batch,), frames),
        "anomaly_start": torch.where(crash.bool(), 2, -1),
        "anomaly_end": torch.where(crash.bool(), 5, -1),
    }


def test_shuffle_keeps_frames_changes_order_and_is_seeded():
    video = torch.arange(2 * 8, dtype=torch.float32).reshape(2, 8, 1, 1, 1)
    out = shuffle_frames(video, torch.Generator().manual_seed(0))
    again = shuffle_frames(video, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert torch.equal(out.sort(dim=1).values, video)
    assert not torch.equal(out, video)


def test_repeat_fills_window_with_one_of_its_frames():
    video = torch.arange(3 * 5, dtype=torch.float32).reshape(3, 5, 1, 1, 1)
    out = repeat_one_frame(video, torch.Generator().manual_seed(1))
    for clip, original in zip(out, video):
        assert torch.all(clip == clip[0])
        assert clip[0] in original


def test_predict_table_rows_probes_and_probabilities():
    batches = [ramp_batch(start=0), ramp_batch(start=4)]
    table = predict_table(LastMinusFirst(), batches, BinaryCrash(), probes=("none", "shuffled", "repeated"), seed=0)
    assert len(table) == 8 * 3
    real = table[table["probe"] == "none"]
    # crash clips: last - first = 5 -> sigmoid(5); normal clips: 0 -> 0.5
    expected = np.where(real["crash"] == 1, 1 / (1 + np.exp(-5.0)), 0.5)
    assert real["prob_crash"].to_numpy() == pytest.approx(expected)
    assert real["p_crash"].equals(real["prob_crash"])
    assert real["video_id"].tolist() == [f"v{i}" for i in range(8)]
    repeated = table[table["probe"] == "repeated"]
    assert repeated["prob_crash"].to_numpy() == pytest.approx(0.5)  # no motion left at all


def test_write_evaluation_files(tmp_path):
    table = predict_table(
        LastMinusFirst(), [ramp_batch(), ramp_batch(start=4)], BinaryCrash(), probes=("none", "repeated")
    )
    metrics = write_evaluation(table, RunInfo("toy", BinaryCrash(), 0.6), tmp_path, n_boot=20)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics
    assert on_disk["common"]["window"]["auroc"] == 1.0
    assert on_disk["probes"]["repeated"]["drop_window_auroc"] == pytest.approx(0.5)
    assert len(read_predictions(tmp_path / "predictions.parquet")) == 16


def test_measure_cost_of_a_linear_head():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 4 * 4, 5))
    cost = measure_cost(net, [1, 2, 3, 4, 4], latency_repeats=2)
    assert cost["parameters"] == 96 * 5 + 5
    assert cost["gflops_per_window"] == pytest.approx(2 * 96 * 5 / 1e9)
    assert cost["cpu_latency_ms_per_window"] > 0


def test_run_name_and_bad_settings():
    from riskvision.checkpoints.loading import net_name
    from riskvision.evaluation.runner import EvalSettings, scoring_loader

    assert net_name({"net": {"_target_": "riskvision.models.ResNet3D", "depth": 101}}) == "ResNet3D-101"
    assert (
        net_name({"net": {"_target_": "riskvision.models.ResNetBiLSTM", "backbone": "resnet18"}})
        == "ResNetBiLSTM-resnet18"
    )
    frame_net = {"_target_": "riskvision.models.FrameNet", "backbone": "convnext_tiny", "head": "gru"}
    assert net_name({"net": frame_net}) == "FrameNet-convnext_tiny-gru"  # the head tells frame_net from causal_gru
    with pytest.raises(ValueError, match="scoring='frames'"):
        scoring_loader(object(), EvalSettings(scoring="frames"), 4)
    with pytest.raises(ValueError, match="split='dev'"):
        scoring_loader(object(), EvalSettings(split="dev"), 4)
