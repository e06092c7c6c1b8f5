"""count_parameters / forward_gflops against hand counts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torchvision
from torch import nn

from riskvision.models import ResNet3D, ResNetBiLSTM, count_parameters, forward_gflops, model_summary

FIXTURES = Path(__file__).parents[1] / "fixtures" / "r3d"


def test_count_parameters_splits_trainable() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert count_parameters(model) == (15 + 8, 8)


def test_gflops_are_per_clip_flops_of_matmuls() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 4 * 4, 7))
    assert math.isclose(forward_gflops(model, (5, 2, 3, 4, 4)), 2 * 96 * 7 / 1e9)


def test_resnet3d101_table_model_flops_equal_the_summary_table() -> None:
    rows = json.loads((FIXTURES / "r3d101_keys.json").read_text())["torchsummary_rows"]
    # bias-free convolutions: 2 FLOPs per weight per output position; the fc: 2 per weight
    expected = (
        sum(2 * row["params"] * math.prod(row["output_shape"][2:]) for row in rows if row["layer"].startswith("Conv3d"))
        + 2 * 2048 * 3
    )
    with torch.device("meta"):
        model = ResNet3D(depth=101, shortcut_type="A", num_outputs=3)
    assert forward_gflops(model, (1, 10, 3, 224, 224)) * 1e9 == expected


def test_bilstm_flops_include_the_lstm_and_leave_the_model_untouched() -> None:
    model = ResNetBiLSTM().train()
    frames, hidden, dim = 64, 128, 512
    backbone = torchvision.models.resnet18(weights=None)
    backbone.fc = nn.Identity()
    per_frame = forward_gflops(backbone, (frames, 3, 224, 224)) * 1e9
    lstm = frames * 2 * 2 * 4 * hidden * (dim + hidden)  # steps x directions x 2 FLOPs x gates
    expected = frames * per_frame + lstm + 2 * 2 * hidden
    assert forward_gflops(model, (2, frames, 3, 224, 224)) * 1e9 == expected
    assert model.training and not model.backbone.training
    assert model.head.weight.device.type == "cpu"
    assert "657,665 trainable" in model_summary(model, (1, 8, 3, 64, 64))
