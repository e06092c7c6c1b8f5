"""Evaluation of a causal per-frame model (model=causal_gru): every frame scored from ONE pass per video."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_eval_script import SIZES, run, source_of

from riskvision.batch import METADATA_KEYS
from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.data.transforms import Normalize
from riskvision.evaluation.predict import predict_table_per_frame
from riskvision.evaluation.table import find_predictions, read_predictions
from riskvision.inference import Predictor
from riskvision.inference.smoothing import NoSmoothing
from riskvision.models import FrameNet
from riskvision.tasks import CrashAnticipation


def video_item(frames: int, window: int, step: int, seed: int) -> dict:
    """A ``VideoWindowsDataset`` item: ``frames`` uint8 frames and the windows ending at every ``step``-th frame."""
    ends = list(range(0, frames, step))
    windows = torch.tensor([[max(0, end - window + 1 + k) for k in range(window)] for end in ends])
    generator = torch.Generator().manual_seed(seed)
    meta = {key: torch.zeros(len(ends), dtype=torch.int64) for key in METADATA_KEYS}
    meta.update(
        video_id=[f"v{seed}"] * len(ends),
        source=["dota"] * len(ends),
        category=["x"] * len(ends),
        end_frame=torch.tensor(ends),
        fps=torch.full((len(ends),), 10.0),
    )
    return {
        "frames": torch.randint(0, 255, (frames, 3, 32, 32), dtype=torch.uint8, generator=generator),
        "windows": windows,
        **meta,
    }


def test_every_frame_is_scored_from_one_pass_per_video():
    """The row of the window ending at frame t holds frame t's score of one causal pass over frames 0..t; the head
    runs once per video and probe (no windows)."""
    torch.manual_seed(0)
    net = FrameNet("resnet18", head="gru", hidden_size=8).eval()
    calls = []
    forward_frames = net.forward_frames
    net.forward_frames = lambda features: calls.append(features.shape) or forward_frames(features)
    net.forward_sequence = None  # no window is scored
    task, normalize = CrashAnticipation(), Normalize("imagenet")
    items = [video_item(9, window=3, step=2, seed=1), video_item(5, window=3, step=1, seed=2)]
    table = predict_table_per_frame(net, items, task, normalize, probes=("none", "shuffled"), every_frame=True)
    assert calls == [torch.Size([1, 9, 512])] * 2 + [torch.Size([1, 5, 512])] * 2
    for item in items:
        with torch.no_grad():
            scores = torch.sigmoid(forward_frames(net.forward_features(normalize(item["frames"])[None]))[0, :, 0])
        rows = table[(table["video_id"] == item["video_id"][0]) & (table["probe"] == "none")]
        assert rows["end_frame"].tolist() == item["end_frame"].tolist()
        np.testing.assert_allclose(rows["prob_crash"], scores[item["end_frame"]].numpy(), atol=1e-6)
    shuffled = table[table["probe"] == "shuffled"]["prob_crash"].to_numpy()
    assert np.abs(shuffled - table[table["probe"] == "none"]["prob_crash"].to_numpy()).max() > 1e-5


@pytest.mark.slow
def test_causal_gru_trains_evaluates_in_one_pass_and_streams_the_same(tmp_path):
    """train.py model=causal_gru (1 epoch, tiny), then eval.py with step 2: the log says one causal pass per video,
    every video's rows are its every-2nd frames, and the stream of each video's own files (carried state) gives the
    same scores within 1e-5."""
    synthetic = tmp_path / "synthetic"
    ensure_synthetic(synthetic, seed=0, **SIZES)
    sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in SIZES.items()]
    data = [
        f"data.synthetic.root={synthetic}",
        "data.synthetic.seed=0",
        *sizes,
        "data.loader.num_workers=0",
        "data.loader.persistent_workers=false",
    ]
    model = [
        "model=causal_gru",
        "model.inputs.frame_size=32",
        "model.inputs.num_frames=4",
        "model.inputs.batch_size=4",
        "model.net.hidden_size=8",
    ]
    run(
        "train.py",
        *data,
        *model,
        "trainer=cpu",
        "trainer.max_epochs=1",
        "logger=csv",
        "test=false",
        "extras.print_config=false",
        f"hydra.run.dir={tmp_path / 'train'}",
    )
    checkpoint = next((tmp_path / "train").glob("checkpoints/epoch_*.ckpt"))
    out = tmp_path / "eval"
    run(
        "scripts/eval.py",
        f"ckpt_path={checkpoint}",
        f"hydra.run.dir={out}",
        "settings.split=val",
        "settings.step=2",
        "settings.probes=[none]",
        "settings.n_boot=10",
        "settings.latency_repeats=0",
    )
    assert "one causal pass per video" in (out / "eval.log").read_text()
    assert json.loads((out / "metrics.json").read_text())["run"]["task"] == "binary"
    table = read_predictions(find_predictions(out))
    predictor = Predictor.from_checkpoint(checkpoint)
    for video_id, rows in table.groupby("video_id"):
        rows = rows.sort_values("end_frame")
        assert rows["end_frame"].tolist() == list(range(0, int(rows["num_frames"].iloc[0]), 2))
        results = predictor.predict_video(source_of(synthetic, video_id), step=2, smoothing=NoSmoothing())
        assert [r.frame for r in results] == rows["end_frame"].tolist()
        np.testing.assert_allclose([r.p_crash for r in results], rows["prob_crash"], atol=1e-5)
