"""Clip transforms: one parameter draw per clip, per-frame option, presets, Hara's corner crop, configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchvision.transforms import v2

from riskvision.data.transforms import NORMALIZATION_PRESETS, ClipAugment, MultiScaleCornerCrop, Normalize

AUGMENT_DIR = Path(__file__).resolve().parents[2] / "conf" / "data" / "augment"


def _load_augment(name: str, frame_size) -> ClipAugment:
    """Instantiate ``conf/data/augment/<name>.yaml`` with ``model.inputs.frame_size`` set."""
    cfg = OmegaConf.create(
        {"model": {"inputs": {"frame_size": frame_size}}, "augment": OmegaConf.load(AUGMENT_DIR / f"{name}.yaml")}
    )
    return instantiate(cfg.augment)


def _textured_clip(frames: int = 8, size: tuple[int, int] = (40, 48), identical: bool = True) -> torch.Tensor:
    """uint8 [T, 3, H, W] random texture; every frame the same when ``identical``."""
    gen = torch.Generator().manual_seed(0)
    if identical:
        return torch.randint(0, 256, (1, 3, *size), generator=gen, dtype=torch.uint8).expand(frames, -1, -1, -1).clone()
    return torch.randint(0, 256, (frames, 3, *size), generator=gen, dtype=torch.uint8)


def _seed_list(frame_size: int = 32) -> list[v2.Transform]:
    return _load_augment("seed", frame_size).transforms


@pytest.mark.parametrize("index", range(7))
def test_each_seed_transform_draws_once_per_clip(index):
    """Identical input frames stay identical: the parameters were shared by all frames."""
    clip = _textured_clip()
    augment = ClipAugment([_seed_list()[index]])
    changed = 0
    for seed in range(8):  # p=0.5 transforms both fire and skip within these seeds
        torch.manual_seed(seed)
        out = augment(clip)
        assert out.dtype == torch.uint8 and out.shape[0] == clip.shape[0]
        assert all(torch.equal(out[0], frame) for frame in out[1:]), augment
        changed += out.shape != clip.shape or not torch.equal(out, clip)
    assert changed > 0


@pytest.mark.parametrize("index", range(7))
def test_each_seed_transform_per_frame_draws_independently(index):
    """per_frame=True (the seed's behaviour): identical input frames come out different."""
    clip = _textured_clip(frames=12)
    torch.manual_seed(0)
    out = ClipAugment([_seed_list()[index]], per_frame=True)(clip)
    assert any(not torch.equal(out[0], frame) for frame in out[1:]), _seed_list()[index]


def test_whole_seed_list_shares_parameters_and_changes_the_clip():
    clip = _textured_clip(size=(48, 64))
    torch.manual_seed(3)
    out = _load_augment("seed", [32, 40])(clip)
    assert out.shape == (8, 3, 32, 40) and out.dtype == torch.uint8
    assert all(torch.equal(out[0], frame) for frame in out[1:])


def test_seed_random_erasing_fills_with_zero_after_imagenet_normalisation():
    """The uint8 erase value is the ImageNet mean: v1 RandomErasing(value=0) after Normalize."""
    erase = _seed_list()[-1]
    assert isinstance(erase, v2.RandomErasing)
    erase.p = 1.0
    torch.manual_seed(0)
    clip = _textured_clip()
    out = ClipAugment([erase])(clip)
    erased = (out != clip).any(dim=1, keepdim=True).expand_as(out)
    normalised = Normalize("imagenet")(out)
    assert erased.any()
    assert normalised[erased].abs().max() < 0.01


def test_none_augment_is_identity_and_validates_input():
    clip = _textured_clip(identical=False)
    augment = _load_augment("none", 32)
    assert torch.equal(augment(clip), clip)
    with pytest.raises(TypeError, match="uint8"):
        augment(clip.float())


@pytest.mark.parametrize(
    ("preset", "value", "expected"),
    [
        ("imagenet", 255, [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]),
        ("kinetics", 0, [-0.4345 / 0.2768, -0.4051 / 0.2713, -0.3775 / 0.2737]),
        ("activitynet", 200, [200 - 114.7748, 200 - 107.7354, 200 - 99.4750]),
    ],
)
def test_normalize_presets(preset, value, expected):
    clip = torch.full((2, 3, 4, 5), value, dtype=torch.uint8)
    out = Normalize(preset)(clip)
    assert out.dtype == torch.float32 and out.shape == clip.shape
    assert torch.allclose(out[:, :, 0, 0], torch.tensor([expected, expected], dtype=torch.float32), atol=1e-4)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match="activitynet.*imagenet.*kinetics"):
        Normalize("imagenet21k")
    assert {"imagenet", "kinetics", "activitynet", "kinetics-torchvision", "kinetics-mvit"} == set(
        NORMALIZATION_PRESETS
    )


@pytest.mark.parametrize(
    ("position", "top", "left"), [("tl", 0, 0), ("br", 4, 8), ("c", 2, 4), ("tr", 0, 8), ("bl", 4, 0)]
)
def test_multiscale_corner_crop_positions(position, top, left):
    clip = _textured_clip(frames=2, size=(8, 12), identical=False)
    out = MultiScaleCornerCrop(4, scales=[0.5], crop_positions=[position])(clip)
    assert torch.equal(out, clip[:, :, top : top + 4, left : left + 4])


def test_multiscale_corner_crop_config_draws_once_per_clip_and_covers_scales():
    augment = _load_augment("multiscale_corner", 16)
    crop = augment.transforms[0]
    assert isinstance(crop, MultiScaleCornerCrop) and crop.scales[0] == 1.0 and crop.scales[-1] == 0.5
    clip = _textured_clip(size=(24, 32))
    sides = set()
    for seed in range(40):
        torch.manual_seed(seed)
        out = augment(clip)
        assert out.shape == (8, 3, 16, 16)
        assert all(torch.equal(out[0], frame) for frame in out[1:])
        sides.add(crop.make_params([clip])["height"])
    assert sides == {int(24 * s) for s in crop.scales}


def test_multiscale_corner_crop_rejects_bad_arguments():
    with pytest.raises(ValueError, match="middle"):
        MultiScaleCornerCrop(8, crop_positions=["middle"])
    with pytest.raises(ValueError, match="scales"):
        MultiScaleCornerCrop(8, scales=[1.5])
