"""The feature cache with FrameNet (model=frame_net / causal_gru): any frozen torchvision backbone's features are
cached and the head learns from them exactly as from the pixels, the per-frame anticipation loss included."""

from __future__ import annotations

import pytest
import torch
from test_feature_cache import datamodule, synthetic_root, use_cache  # noqa: F401 (synthetic_root: a fixture)
from torch.utils.data import DataLoader

from riskvision.module import RiskModule

OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True}


@pytest.mark.parametrize(
    ("backbone", "head", "task", "sampler"),
    [
        ("mobilenet_v3_large", "transformer", "BinaryCrash", "uniform"),
        ("resnet18", "gru", "CrashAnticipation", "window"),
    ],
)
def test_cached_features_train_the_head_as_pixels_do(synthetic_root, tmp_path, backbone, head, task, sampler):  # noqa: F811
    torch.manual_seed(0)
    net = {"_target_": "riskvision.models.FrameNet", "backbone": backbone, "head": head, "hidden_size": 8}
    module = RiskModule(
        net=net, task={"_target_": f"riskvision.tasks.{task}"}, optimizer=OPTIMIZER, inputs={"sampler": sampler}
    ).eval()
    module.log = lambda *args, **kwargs: None
    dm = datamodule(synthetic_root, f"model.inputs.sampler={sampler}")
    pixels = next(iter(DataLoader(dm.dataset("val", dm.sampler, train=False), batch_size=8)))
    identity = module.net.feature_identity()
    assert identity["backbone"] == backbone and identity["feature_dim"] == module.net.backbone.feature_dim
    use_cache(dm, module.net, tmp_path)
    cached = next(iter(DataLoader(dm.dataset("val", dm.sampler, train=False), batch_size=8)))
    assert "video" not in cached and cached["features"].shape[-1] == identity["feature_dim"]
    with torch.no_grad():
        assert (module.logits(pixels) - module.logits(cached)).abs().max() < 1e-3
        assert abs(module.training_step(pixels, 0) - module.training_step(cached, 0)) < 1e-3
