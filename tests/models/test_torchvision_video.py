"""torchvision's video classifiers as ClipNets (issue 26, item 2): the same logits and parameter count as torchvision's
own model from a state dict saved by its builder; recipes that match torchvision's weights; nothing downloaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models import get_model_builder, get_model_weights

from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.models import (
    VIDEO_RECIPES,
    ArchitectureMismatch,
    PretrainedUnavailable,
    TorchvisionVideoNet,
    count_parameters,
    create_model,
    list_models,
)

# swin3d_t / _s / _b: building and saving 28M / 50M / 88M parameters twice took 56 / 91 / 111 s on the shared 2-core
# machine (load 15), so they run under the slow marker (they still run in the whole suite), as do the nets below
SMALL = pytest.mark.parametrize(
    ("arch", "frames", "size"),
    [
        ("r3d_18", 4, 32),
        ("mc3_18", 4, 32),
        ("r2plus1d_18", 4, 32),
        pytest.param("swin3d_t", 2, 32, marks=pytest.mark.slow),
        pytest.param("swin3d_s", 2, 32, marks=pytest.mark.slow),
        pytest.param("swin3d_b", 2, 32, marks=pytest.mark.slow),
    ],
)
# the smallest clip each of these takes: 14 (s3d) / exactly 16 (MViT) frames of 224x224; one MViT forward takes
# 10-30 s on a loaded 2-core machine
LARGE = [
    pytest.param("s3d", 14, 224, marks=pytest.mark.slow),
    pytest.param("mvit_v1_b", 16, 224, marks=pytest.mark.slow),
    pytest.param("mvit_v2_s", 16, 224, marks=pytest.mark.slow),
]


def torchvision_reference(arch: str, path: Path) -> torch.nn.Module:
    """torchvision's own ``arch`` (400 classes, random weights, BatchNorm statistics randomised so that buffers count
    too), its state dict saved at ``path``."""
    torch.manual_seed(1)
    reference = get_model_builder(arch)(weights=None).eval()
    for module in reference.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    torch.save(reference.state_dict(), path)
    return reference


def check_same_as_torchvision(arch: str, frames: int, size: int, tmp_path: Path) -> None:
    reference = torchvision_reference(arch, tmp_path / f"{arch}.pth")
    torch.manual_seed(2)  # another initialisation: only the file can make the nets equal
    net = create_model(arch, num_outputs=400, pretrained=tmp_path / f"{arch}.pth").eval()
    assert isinstance(net, TorchvisionVideoNet)
    expected = get_model_weights(arch).DEFAULT.meta["num_params"]
    assert count_parameters(net)[0] == sum(p.numel() for p in reference.parameters()) == expected
    video = torch.randn(1, frames, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, theirs = net(video), reference(video.permute(0, 2, 1, 3, 4))
    assert ours.shape == (1, 400)
    assert (ours - theirs).abs().max().item() <= 1e-4


@SMALL
def test_same_logits_and_parameters_as_torchvision(arch, frames, size, tmp_path):
    check_same_as_torchvision(arch, frames, size, tmp_path)


@pytest.mark.parametrize(("arch", "frames", "size"), LARGE)
def test_same_logits_and_parameters_as_torchvision_at_224(arch, frames, size, tmp_path):
    check_same_as_torchvision(arch, frames, size, tmp_path)


def test_every_torchvision_video_model_is_registered_under_its_name():
    assert set(VIDEO_RECIPES) == set(torchvision.models.list_models(module=torchvision.models.video))
    assert set(VIDEO_RECIPES) <= set(list_models())


@pytest.mark.parametrize("arch", sorted(VIDEO_RECIPES))
def test_recipes_match_torchvisions_weights(arch):
    recipe, weights = VIDEO_RECIPES[arch], get_model_weights(arch).DEFAULT
    transforms = weights.transforms()
    _, mean, std = NORMALIZATION_PRESETS[recipe.normalization]
    assert mean == pytest.approx(tuple(transforms.mean)) and std == pytest.approx(tuple(transforms.std))
    assert recipe.crop == transforms.crop_size[0]
    assert recipe.clip_len == int(re.search(r"clip_len=(\d+)", weights.meta["_docs"]).group(1))
    assert recipe.min_frames == weights.meta.get("min_temporal_size", 1)
    with torch.device("meta"):  # the keys only: no weights are initialised
        state_keys = get_model_builder(arch)(weights=None).state_dict().keys()
    assert set(recipe.classifier) <= state_keys


def test_the_head_takes_the_task_width():
    net = create_model("r3d_18", num_outputs=3).eval()
    assert net.model.fc.out_features == 3
    with torch.no_grad():
        assert net(torch.zeros(2, 4, 3, 32, 32)).shape == (2, 3)


def test_kinetics_weights_load_into_a_smaller_head_and_set_the_preset(tmp_path):
    torchvision_reference("r3d_18", tmp_path / "k400.pth")
    net = create_model("r3d_18", num_outputs=1)
    weights = TorchvisionVideoNet.read_pretrained(tmp_path / "k400.pth", {"arch": "r3d_18"})
    assert weights.normalization == "kinetics-torchvision" and weights.inputs == {}
    from riskvision.models import load_weights

    report = load_weights(net, weights)
    assert set(report.skipped) == set(report.missing) == {"model.fc.weight", "model.fc.bias"}
    mvit = TorchvisionVideoNet.read_pretrained(tmp_path / "k400.pth", {"arch": "mvit_v2_s"})
    assert mvit.normalization == "kinetics-mvit" and mvit.inputs == {"num_frames": 16, "frame_size": 224}


def test_torchvision_weights_come_from_the_cache_and_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "r3d_18-b3b3357e.pth"
    with pytest.raises(
        PretrainedUnavailable,
        match=rf"not in torchvision's cache: {cached} does not exist; riskvision "
        r"never downloads. Fix: copy https://download.pytorch.org/",
    ):
        create_model("r3d_18", num_outputs=1, pretrained="torchvision")
    cached.parent.mkdir(parents=True)
    reference = torchvision_reference("r3d_18", cached)
    net = create_model("r3d_18", num_outputs=400, pretrained="torchvision").eval()
    assert torch.equal(net.model.layer1[0].conv1[0].weight, reference.layer1[0].conv1[0].weight)
    with pytest.raises(
        ValueError,
        match=r"names no weights of r3d_18. Fix: one of "
        r"torchvision:R3D_18_Weights.KINETICS400_V1",
    ):
        create_model("r3d_18", num_outputs=1, pretrained="torchvision:MC3_18_Weights.KINETICS400_V1")


def test_weights_of_another_architecture_name_the_first_mismatching_keys_and_shapes(tmp_path):
    torchvision_reference("mc3_18", tmp_path / "mc3.pth")
    message = (
        r"mc3.pth does not fit the model outside its classifier; \d+ shape mismatches: "
        r"model.layer2.0.conv1.0.weight: \(128, 64, 1, 3, 3\) in the file, \(128, 64, 3, 3, 3\) in the model"
    )
    with pytest.raises(ArchitectureMismatch, match=message):
        create_model("r3d_18", num_outputs=1, pretrained=tmp_path / "mc3.pth")


def test_a_clip_shorter_than_the_minimum_says_the_minimum():
    net = TorchvisionVideoNet.__new__(TorchvisionVideoNet)  # the check runs before the model: no MViT is built
    torch.nn.Module.__init__(net)
    net.arch, net.recipe, net.min_frames = "mvit_v2_s", VIDEO_RECIPES["mvit_v2_s"], 16
    with pytest.raises(
        ValueError,
        match=r"mvit_v2_s takes clips of exactly 16 frames of 224x224; got 8 frames of "
        r"64x64. Fix: model.inputs.num_frames=16 model.inputs.frame_size=224",
    ):
        net(torch.zeros(1, 8, 3, 64, 64))
    s3d = create_model("s3d", num_outputs=1)
    assert s3d.min_frames == 14
    with pytest.raises(ValueError, match=r"s3d takes clips of at least min_frames=14 frames; got 8 frames"):
        s3d(torch.zeros(1, 8, 3, 224, 224))
