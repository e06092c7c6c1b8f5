"""Multi-view testing (riskvision.evaluation.views): 1x1 is today's scoring bit for bit; crops, clips, averaging."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from torch import nn

from riskvision.data.sampling import UniformSampler, WindowSampler
from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.evaluation.predict import predict_table, run_info, write_evaluation
from riskvision.evaluation.runner import EvalSettings, evaluate_module, score_split
from riskvision.evaluation.views import ShortSideCrop, UniformTemporalView, Views, predict_views, view_loaders
from riskvision.models import FrameNet, ResNetBiLSTM
from riskvision.tasks import BinaryCrash, CrashAnticipation
from riskvision.utils import ConfigError

REPO = Path(__file__).resolve().parents[2]
# landscape frames (64x32) for a 32x32 model: the three crops differ
SIZES = {
    "num_crash": 2,
    "num_normal": 2,
    "width": 64,
    "height": 32,
    "crash_seconds": [2, 2],
    "normal_seconds": [2, 2],
    "clips_per_source": [1, 1],
}
SETTINGS = EvalSettings(probes=("none", "shuffled"), n_boot=10, latency_repeats=0, operating_point_split=None)


class PooledNet(nn.Module):
    """logit = a linear map of each frame's 4x4 pooled grey image (it sees position and time)."""

    def __init__(self, num_frames: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(num_frames * 16, 1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        grey = nn.functional.adaptive_avg_pool2d(video.flatten(0, 1).mean(dim=1, keepdim=True), 4)  # [B * T, 1, 4, 4]
        return self.linear(grey.reshape(len(video), -1) * 4)


class PooledLinear(nn.Module):
    """A tiny RiskModule stand-in (``net``, ``task``, ``threshold``, ``hparams``) around :class:`PooledNet` (or
    ``net``)."""

    def __init__(self, num_frames: int = 4, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = net or PooledNet(num_frames)
        self.task = BinaryCrash()
        self.threshold = 0.5
        self.hparams = {"inputs": {"num_frames": num_frames, "frame_size": 32}}

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    ensure_synthetic(root, seed=0, **SIZES)
    return root


def datamodule(root: Path, sampler: str = "uniform"):
    sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in SIZES.items()]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "check_data",
            overrides=[
                f"data.synthetic.root={root}",
                "data.synthetic.seed=0",
                *sizes,
                f"model.inputs.sampler={sampler}",
                "model.inputs.target=crash",
                "model.inputs.frame_size=32",
                "model.inputs.num_frames=4",
                "model.inputs.augment=none",
                "data.loader.num_workers=0",
                "data.split.val_fraction=0.5",
            ],
        )
    return hydra.utils.instantiate(cfg.data)


def metrics_of(table: pd.DataFrame, module: PooledLinear, out: Path) -> dict:
    """metrics.json of ``table`` without the run section (run ids differ by design)."""
    metrics = write_evaluation(table, run_info(module, "tiny", run_id="r"), out, n_boot=10)
    return {key: value for key, value in metrics.items() if key != "run"}


@pytest.mark.parametrize("scoring", ["clips", "sliding"])
def test_views_1x1_reproduce_the_default_table_and_metrics_bit_for_bit(synthetic_root, tmp_path, scoring):
    """The multi-view path at 1x1 (its own loaders, the averaging) gives today's table and metrics exactly; so does
    score_split with views=1x1 (it keeps the default path)."""
    module, dm = PooledLinear(), datamodule(synthetic_root)
    settings = dataclasses.replace(SETTINGS, scoring=scoring, step=3)
    default = score_split(module, dm, settings, "tiny")
    sampler = dm.sampler if scoring == "clips" else WindowSampler(4, eval_step=3)
    assert isinstance(sampler, UniformSampler if scoring == "clips" else WindowSampler)
    viewed = predict_views(module, dm, settings, sampler, Views(1, 1))
    assert len(default) > 0 and set(default["probe"]) == {"none", "shuffled"}
    pd.testing.assert_frame_equal(viewed, default, check_exact=True)
    assert metrics_of(viewed, module, tmp_path / "views") == metrics_of(default, module, tmp_path / "default")
    pd.testing.assert_frame_equal(
        score_split(module, dm, dataclasses.replace(settings, views="1x1"), "tiny"), default, check_exact=True
    )


def test_per_frame_scoring_keeps_its_reuse_in_every_crop(synthetic_root):
    """Sliding scoring of a per-frame net (ResNetBiLSTM): at 1x1 the view path equals today's per-frame table bit for
    bit; at 1x3 each crop's per-frame table equals the whole net on every cropped window (within 1e-5)."""
    torch.manual_seed(0)
    module, dm = PooledLinear(net=ResNetBiLSTM(hidden_size=8).eval()), datamodule(synthetic_root)
    settings = dataclasses.replace(SETTINGS, step=6)
    default = score_split(module, dm, settings, "tiny")
    viewed = predict_views(module, dm, settings, WindowSampler(4, eval_step=6), Views(1, 1), per_frame=True)
    pd.testing.assert_frame_equal(viewed, default, check_exact=True)
    fast = score_split(module, dm, dataclasses.replace(settings, views="1x3"), "tiny")
    slow = score_split(module, dm, dataclasses.replace(settings, views="1x3", per_frame=False), "tiny")
    meta = ["video_id", "end_frame", "probe"]
    pd.testing.assert_frame_equal(fast[meta], default[meta])
    pd.testing.assert_frame_equal(fast[meta], slow[meta])
    assert np.abs(fast["prob_crash"].to_numpy() - slow["prob_crash"].to_numpy()).max() <= 1e-5
    assert np.abs(fast["prob_crash"].to_numpy() - default["prob_crash"].to_numpy()).max() > 1e-5


def test_the_causal_per_frame_model_gets_crops_of_its_one_pass_per_video(synthetic_root):
    """model=causal_gru's one causal pass per video: 1x1 through the view path is today's table bit for bit; 1x3
    averages one pass per crop over the same rows; temporal views are refused (it is sliding scoring)."""
    torch.manual_seed(0)
    module, dm = PooledLinear(net=FrameNet("resnet18", head="gru", hidden_size=8).eval()), datamodule(synthetic_root)
    module.task = CrashAnticipation()
    settings = dataclasses.replace(SETTINGS, step=3)
    default = score_split(module, dm, settings, "tiny")
    viewed = predict_views(
        module, dm, settings, WindowSampler(4, eval_step=3), Views(1, 1), per_frame=True, every_frame=True
    )
    pd.testing.assert_frame_equal(viewed, default, check_exact=True)
    three = score_split(module, dm, dataclasses.replace(settings, views="1x3"), "tiny")
    meta = ["video_id", "end_frame", "probe"]
    pd.testing.assert_frame_equal(three[meta], default[meta])
    assert np.abs(three["prob_crash"].to_numpy() - default["prob_crash"].to_numpy()).max() > 1e-5
    with pytest.raises(ValueError, match="one temporal position each"):
        score_split(module, dm, dataclasses.replace(settings, views="2x1"), "tiny")


def test_three_crops_are_left_centre_right_of_the_short_side_resized_frame():
    columns = torch.arange(128, dtype=torch.uint8).expand(1, 3, 64, 128).contiguous()  # pixel value = its column
    crops = [ShortSideCrop((32, 32), k, 3)(columns) for k in range(3)]
    assert all(crop.shape == (1, 3, 32, 32) for crop in crops)
    firsts = [int(crop[0, 0, 0, 0]) for crop in crops]  # 64x128 -> 32x64 first: columns pair up
    assert firsts[0] < 3 and 30 <= firsts[1] <= 35 and firsts[2] >= 62, firsts
    rows = columns.transpose(-1, -2).contiguous()  # portrait: top / centre / bottom
    tops = [ShortSideCrop((32, 32), k, 3)(rows)[0, 0, :, 0] for k in range(3)]
    assert tops[0][0] < 3 and tops[2][-1] >= 125 and tops[0][0] < tops[1][0] < tops[2][0]
    same = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(ShortSideCrop((32, 32), 0, 1)(same), same)  # the model's own size: untouched


def test_temporal_views_interleave_and_view_0_is_the_samplers_clip():
    base = UniformSampler(4)
    assert UniformTemporalView(base, 0, 3).frames(10, 9) == base.frames(10, 9) == [0, 3, 6, 9]
    assert UniformTemporalView(base, 1, 3).frames(10, 9) == [1, 4, 7, 9]
    assert UniformTemporalView(base, 2, 3).frames(10, 9) == [2, 5, 8, 9]
    assert UniformTemporalView(base, 2, 3).frames(3, 2) == base.frames(3, 2)  # padded short video: one view


@pytest.mark.parametrize(
    ("scoring", "views"), [("clips", "1x3"), ("clips", "3x1"), ("clips", "2x3"), ("sliding", "1x3")]
)
def test_views_average_the_probabilities_of_each_view(synthetic_root, tmp_path, scoring, views):
    module, dm = PooledLinear(), datamodule(synthetic_root)
    settings = dataclasses.replace(SETTINGS, scoring=scoring, views=views, step=2)
    sampler = dm.sampler if scoring == "clips" else WindowSampler(4, eval_step=2)
    default = score_split(module, dm, dataclasses.replace(settings, views="1x1"), "tiny")
    table = score_split(module, dm, settings, "tiny")
    parsed = Views.parse(views)
    per_view = [
        predict_table(module, loader, module.task, settings.probes, settings.seed)
        for loader in view_loaders(dm, "test", sampler, parsed)
    ]
    assert len(per_view) == parsed.temporal * parsed.spatial
    stacked = np.stack([t["prob_crash"].to_numpy() for t in per_view])
    assert np.abs(stacked - stacked[0]).max() > 1e-4  # the views differ, so the average means something
    np.testing.assert_allclose(table["prob_crash"], stacked.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(table["p_crash"], table["prob_crash"])
    meta = ["video_id", "end_frame", "probe", "crash"]
    pd.testing.assert_frame_equal(table[meta], default[meta])
    assert np.abs(table["prob_crash"].to_numpy() - default["prob_crash"].to_numpy()).max() > 1e-4


def test_metrics_json_records_the_views(synthetic_root, tmp_path):
    module, dm = PooledLinear(), datamodule(synthetic_root)
    for views in ("1x1", "3x3"):
        out = tmp_path / views
        evaluate_module(module, dm, out, dataclasses.replace(SETTINGS, scoring="clips", views=views), "tiny")
        run = json.loads((out / "metrics.json").read_text())["run"]
        assert run["views"] == {
            "views": views,
            "temporal": int(views[0]),
            "spatial": int(views[2]),
            "average": "probabilities",
        }


def test_views_that_do_not_exist_are_refused_with_the_fix(synthetic_root):
    module = PooledLinear()
    assert Views.parse([3, 1]) == Views(3, 1) and str(Views.parse(" 2X3 ")) == "2x3"
    for bad in ("3", "2x2", "0x1", "axb", 3, [1, "a"], [1, 1, 1]):
        with pytest.raises(ConfigError, match=r"settings.views=.*Fix: e.g. settings.views=1x1"):
            Views.parse(bad)
    with pytest.raises(ConfigError, match=r"one temporal position each.*Fix: settings.views=1x3"):
        score_split(module, datamodule(synthetic_root), dataclasses.replace(SETTINGS, views="3x3"), "tiny")
    with pytest.raises(ValueError, match=r"WindowSampler's clips.*one temporal position"):
        score_split(
            module,
            datamodule(synthetic_root, "window"),
            dataclasses.replace(SETTINGS, scoring="clips", views="2x1"),
            "tiny",
        )
