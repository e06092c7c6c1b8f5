"""Clip transforms: one parameter draw per clip, per-frame option, presets, Hara's corner crop, configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchvision import tv_tensors
from torchvision.transforms import v2

from riskvision.data.transforms import (
    FRAMEWISE_TRANSFORMS,
    NORMALIZATION_PRESETS,
    ClipAugment,
    MultiScaleCornerCrop,
    Normalize,
)

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


# ----------------------------------------------------------------------------- chunked clips (issue 28)

FRAMEWISE_EXAMPLES = {
    v2.AutoAugment: lambda: v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET),
    v2.CenterCrop: lambda: v2.CenterCrop(20),
    v2.ColorJitter: lambda: v2.ColorJitter(0.2, 0.2, 0.2, 0.1),
    v2.GaussianBlur: lambda: v2.GaussianBlur(3, (0.1, 2.0)),
    v2.Grayscale: lambda: v2.Grayscale(3),
    v2.RandAugment: lambda: v2.RandAugment(),
    v2.RandomAffine: lambda: v2.RandomAffine(20, (0.1, 0.1), (0.8, 1.2), 10),
    v2.RandomCrop: lambda: v2.RandomCrop(20, padding=3),
    v2.RandomErasing: lambda: v2.RandomErasing(p=0.7, value=[124, 116, 104]),
    v2.RandomGrayscale: lambda: v2.RandomGrayscale(0.5),
    v2.RandomHorizontalFlip: lambda: v2.RandomHorizontalFlip(),
    v2.RandomPerspective: lambda: v2.RandomPerspective(0.2, p=0.7),
    v2.RandomResizedCrop: lambda: v2.RandomResizedCrop(24, antialias=True),
    v2.RandomRotation: lambda: v2.RandomRotation(30),
    v2.RandomVerticalFlip: lambda: v2.RandomVerticalFlip(),
    v2.Resize: lambda: v2.Resize((20, 28), antialias=True),
    v2.TrivialAugmentWide: lambda: v2.TrivialAugmentWide(),
    MultiScaleCornerCrop: lambda: MultiScaleCornerCrop(16),
}


def _one_call(transforms: list[v2.Transform], clip: torch.Tensor) -> torch.Tensor:
    """The clip through ``transforms`` in ONE call on the whole clip (ClipAugment before it chunked clips)."""
    return v2.Compose(transforms)(tv_tensors.Video(clip)).as_subclass(torch.Tensor)


def _assert_chunks_equal_one_call(transforms: list[v2.Transform], clip: torch.Tensor, seeds: range) -> None:
    augment = ClipAugment(transforms, chunk_frames=3)
    threads = torch.get_num_threads()
    for seed in seeds:
        torch.manual_seed(seed)
        want = _one_call(transforms, clip)
        state_after = torch.random.get_rng_state()
        torch.manual_seed(seed)
        torch.set_num_threads(1)  # chunks are used with one thread (DataLoader workers)
        try:
            got = augment(clip)
        finally:
            torch.set_num_threads(threads)
        assert torch.equal(got, want), (transforms, seed)
        assert torch.equal(torch.random.get_rng_state(), state_after), "the random stream moved on differently"


def test_every_framewise_transform_has_an_example():
    assert set(FRAMEWISE_EXAMPLES) == set(FRAMEWISE_TRANSFORMS)


@pytest.mark.parametrize("kind", sorted(FRAMEWISE_EXAMPLES, key=lambda kind: kind.__name__), ids=lambda k: k.__name__)
def test_framewise_transform_in_chunks_equals_one_call_on_the_clip(kind):
    """Bitwise the same frames and the same random state afterwards as one call (the draws depend on the frame size
    only); 7 frames in chunks of 3 (a last chunk of 1), seeds covering p-skips and AutoAugment's policies."""
    clip = _textured_clip(frames=7, size=(28, 36), identical=False)
    _assert_chunks_equal_one_call([FRAMEWISE_EXAMPLES[kind]()], clip, range(12))


def test_seed_list_in_chunks_equals_one_call_on_the_clip():
    clip = _textured_clip(frames=7, size=(40, 48), identical=False)
    _assert_chunks_equal_one_call(_seed_list(32), clip, range(6))


class _TimeReverse(v2.Transform):
    """Not frame-wise: output frame t is input frame T-1-t."""

    def transform(self, inpt, params):
        return inpt.flip(0)


def test_a_transform_that_is_not_framewise_sees_the_whole_clip():
    clip = _textured_clip(frames=10, identical=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = ClipAugment([v2.RandomHorizontalFlip(p=1.0), _TimeReverse()], chunk_frames=3)(clip)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(out, clip.flip(0).flip(-1))
