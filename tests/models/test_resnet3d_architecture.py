"""Full-size ResNet3D structure against the seed's table and the released key sets (meta tensors:
shapes only, no arithmetic), plus the family's small-scale behaviour on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from riskvision.models import ResNet3D, count_parameters, resnet3d18, resnet3d50
from riskvision.models.resnet3d import BasicBlock, Bottleneck, ZeroPadShortcut

FIXTURES = Path(__file__).parents[1] / "fixtures" / "r3d"
TABLE = json.loads((FIXTURES / "r3d101_keys.json").read_text())
RELEASED = json.loads((FIXTURES / "released_r3d101_expected_keys.json").read_text())
# torchsummary names the seed's 2018 fixed AvgPool3d; ours is AdaptiveAvgPool3d (same output here).
# Our convolutions are TapConv3d, an nn.Conv3d with another CPU backward (same layer, same weights).
SUMMARY_KINDS = {"Conv3d", "BatchNorm3d", "ReLU", "MaxPool3d", "Bottleneck", "Linear"}
OUR_KINDS = {"AdaptiveAvgPool3d": "AvgPool3d", "TapConv3d": "Conv3d"}


def meta_model(**kwargs) -> ResNet3D:
    with torch.device("meta"):
        return ResNet3D(**kwargs)


@pytest.mark.parametrize(
    ("shortcut_type", "num_outputs", "expected"),
    [
        ("A", 3, 82_474_691),
        ("B", 3, 85_251_267),
        ("B", 400, 86_064_720),
        ("B", 700, 86_679_420),
        ("B", 1039, 87_374_031),
    ],
)
def test_resnet3d101_parameter_counts(shortcut_type: str, num_outputs: int, expected: int) -> None:
    model = meta_model(depth=101, shortcut_type=shortcut_type, num_outputs=num_outputs)
    assert count_parameters(model) == (expected, expected)


def summary_rows(model: nn.Module, video_shape: tuple[int, ...]) -> list[dict]:
    """torchsummary-style rows (module kind, output shape, own parameters) in call order."""
    rows: list[dict] = []

    def hook(module: nn.Module, inputs, output) -> None:
        kind = OUR_KINDS.get(type(module).__name__, type(module).__name__)
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append({"layer": kind, "output_shape": list(output.shape), "params": params})

    for module in model.modules():
        if type(module).__name__ in SUMMARY_KINDS | OUR_KINDS.keys():
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(video_shape, device="meta"))
    return rows


def test_table_model_reproduces_every_summary_row() -> None:
    model = meta_model(depth=101, shortcut_type="A", num_outputs=3).eval()
    rows = summary_rows(model, (1, 10, 3, 224, 224))  # [B, T, C, H, W]
    expected = [{**row, "layer": row["layer"].rsplit("-", 1)[0]} for row in TABLE["torchsummary_rows"]]
    assert len(rows) == len(expected) == 336
    for index, (row, want) in enumerate(zip(rows, expected)):
        assert row == want, f"row {index + 1}"
    assert sum(row["params"] for row in rows) == TABLE["total_params"]


def test_table_model_state_dict_matches_the_table() -> None:
    state = meta_model(depth=101, shortcut_type="A", num_outputs=3).state_dict()
    ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]
    table = [(e["key"], e["shape"], e["dtype"]) for e in TABLE["state_dict"]]
    assert ours == table
    assert len(state) == TABLE["n_state_dict_entries"]


def test_keys_equal_the_2017_release_after_prefix_handling() -> None:
    entry = RELEASED["resnet-101-kinetics.pth (2017-18, Kinetics-400, shortcut B)"]
    model = meta_model(depth=101, shortcut_type="B", num_outputs=400)
    keys = ["module." + k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    assert keys == entry["expected_state_dict_keys"]
    assert count_parameters(model)[0] == entry["n_params"]


def test_keys_equal_the_2020_release() -> None:
    entry = RELEASED["r3d101_K_200ep.pth / r3d101_KM_200ep.pth (2020, Kinetics-700 / K700+MiT, shortcut B)"]
    model = meta_model(depth=101, shortcut_type="B", num_outputs=700)
    assert list(model.state_dict()) == entry["expected_state_dict_keys"]
    assert count_parameters(model)[0] == entry["n_params_700"]


def test_default_is_shortcut_b_three_classes_and_takes_btchw() -> None:
    model = meta_model()
    assert isinstance(model.layer1[0].downsample, nn.Sequential)
    stages = model.forward_stages(torch.zeros(2, 3, 10, 224, 224, device="meta"))
    assert [tuple(stages[s].shape) for s in ("stem_relu", "maxpool", "layer4", "pooled", "logits")] == [
        (2, 64, 10, 112, 112),
        (2, 64, 5, 56, 56),
        (2, 2048, 1, 7, 7),
        (2, 2048),
        (2, 3),
    ]
    assert model(torch.zeros(2, 10, 3, 224, 224, device="meta")).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({}, 9), ({"no_max_pool": True}, 5), ({"conv1_t_stride": 2}, 17)],
)
def test_min_frames_is_the_shortest_clip_whose_strided_stages_all_see_two_frames(kwargs: dict, expected: int) -> None:
    model = meta_model(widen_factor=0.125, **kwargs)
    assert model.min_frames == expected

    def frames_into_strided_stages(t: int) -> list[int]:
        stages = model.forward_stages(torch.zeros(1, 3, t, 64, 64, device="meta"))
        into = [t] if kwargs.get("conv1_t_stride", 1) > 1 else []
        into += [] if kwargs.get("no_max_pool") else [stages["stem_relu"].shape[2]]
        return into + [stages[name].shape[2] for name in ("layer1", "layer2", "layer3")]

    assert min(frames_into_strided_stages(expected)) >= 2
    assert min(frames_into_strided_stages(expected - 1)) == 1


def test_shortcut_a_is_hara_subsampling_plus_zero_channels() -> None:
    x = torch.randn(2, 3, 5, 7, 6)
    hara = F.avg_pool3d(x, kernel_size=1, stride=2)
    hara = torch.cat([hara, torch.zeros(2, 5, *hara.shape[2:])], dim=1)
    assert torch.equal(ZeroPadShortcut(8, stride=2)(x), hara)


@pytest.mark.parametrize("shortcut_type", ["A", "B"])
def test_basic_block_family_trains_on_a_tiny_clip(shortcut_type: str) -> None:
    torch.manual_seed(0)
    model = resnet3d18(shortcut_type=shortcut_type, widen_factor=0.125, num_outputs=5, dropout=0.5)
    assert isinstance(model.layer1[0], BasicBlock) and model.layer1[0].downsample is None
    logits = model(torch.randn(2, 8, 3, 32, 32))
    assert logits.shape == (2, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_builders_pick_block_and_depth() -> None:
    with torch.device("meta"):
        model = resnet3d50(num_outputs=7, n_input_channels=1, conv1_t_size=3)
    assert isinstance(model.layer4[-1], Bottleneck) and len(model.layer3) == 6
    assert model.conv1.weight.shape == (64, 1, 3, 7, 7)
    assert model(torch.zeros(1, 16, 1, 112, 112, device="meta")).shape == (1, 7)


def test_rejects_unknown_depth_and_shortcut() -> None:
    with pytest.raises(ValueError, match="depth=42"):
        ResNet3D(depth=42)
    with pytest.raises(ValueError, match="shortcut_type='C'"):
        ResNet3D(shortcut_type="C")


@pytest.mark.parametrize("depth", [18, 50])
def test_zero_init_residual_makes_every_block_start_as_its_shortcut(depth: int) -> None:
    """Off (Hara's init): the last BN of a block starts at 1; on: at 0, so a block returns relu(shortcut)."""
    torch.manual_seed(0)
    default = ResNet3D(depth=depth, widen_factor=0.125)
    zeroed = ResNet3D(depth=depth, widen_factor=0.125, zero_init_residual=True)
    last_bn = "bn2" if depth == 18 else "bn3"
    blocks = [m for m in zeroed.modules() if hasattr(m, last_bn) and hasattr(m, "conv1")]
    assert blocks and all(torch.all(getattr(b, last_bn).weight == 0) for b in blocks)
    assert all(
        torch.all(getattr(b, last_bn).weight == 1)
        for b in default.modules()
        if hasattr(b, last_bn) and hasattr(b, "conv1")
    )
    block = zeroed.layer1[1].eval()  # identity shortcut: the block is relu(x) at init
    x = torch.randn(1, block.conv1.in_channels, 2, 4, 4)
    assert torch.equal(block(x), torch.relu(x))
