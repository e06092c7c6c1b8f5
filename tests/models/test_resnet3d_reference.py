"""ResNet3D + load_pretrained reproduce Hara's reference activations (tests/fixtures/r3d)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from riskvision.models import ResNet3D, load_pretrained
from riskvision.models.resnet3d import STAGE_NAMES

FIXTURES = Path(__file__).parents[1] / "fixtures" / "r3d"
TOLERANCE = 1e-5
MODELS = {
    # name: (constructor kwargs, format, normalization)
    "small_r3d101_A400_w0125_oldfmt": (
        dict(depth=101, shortcut_type="A", widen_factor=0.125, num_outputs=400),
        "hara-2017",
        "activitynet",
    ),
    "small_r3d101_B400_w0125_oldfmt": (
        dict(depth=101, shortcut_type="B", widen_factor=0.125, num_outputs=400),
        "hara-2017",
        "activitynet",
    ),
    "small_r3d101_B700_w00625_newfmt": (
        dict(depth=101, shortcut_type="B", widen_factor=0.0625, num_outputs=700),
        "hara-2020",
        "kinetics",
    ),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Tensor]:
    return torch.load(FIXTURES / "fixture_io.pt", weights_only=True)


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((FIXTURES / "fixture_meta.json").read_text())


def rel_error(y: Tensor, ref: Tensor) -> float:
    return ((y - ref).norm() / ref.norm()).item()


def loaded_model(name: str) -> ResNet3D:
    kwargs, _, _ = MODELS[name]
    model = ResNet3D(**kwargs)
    load_pretrained(model, FIXTURES / f"{name}.pth")
    return model.eval()


def stage_errors(model: nn.Module, name: str, reference: dict[str, Tensor], meta: dict) -> dict:
    clip = reference[meta["models"][name]["input_key"]]
    with torch.no_grad():
        stages = model.forward_stages(clip)
    return {stage: rel_error(stages[stage], reference[f"{name}/{stage}"]) for stage in STAGE_NAMES}


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_loads_strictly_and_reports_its_format(name: str) -> None:
    kwargs, fmt, normalization = MODELS[name]
    model = ResNet3D(**kwargs)
    report = load_pretrained(model, FIXTURES / f"{name}.pth")
    assert (report.format, report.normalization) == (fmt, normalization)
    assert report.skipped == {} and report.missing == []
    file_state = torch.load(FIXTURES / f"{name}.pth", weights_only=True)["state_dict"]
    assert report.loaded == [key.removeprefix("module.") for key in file_state]
    for key, value in file_state.items():
        assert torch.equal(model.state_dict()[key.removeprefix("module.")], value), key


@pytest.mark.parametrize("name", MODELS)
def test_every_stage_matches_reference(name: str, reference: dict, meta: dict) -> None:
    errors = stage_errors(loaded_model(name), name, reference, meta)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("name", MODELS)
def test_forward_takes_btchw_and_returns_reference_logits(name: str, reference, meta) -> None:
    clip = reference[meta["models"][name]["input_key"]]  # [N, C, T, H, W]
    with torch.no_grad():
        logits = loaded_model(name)(clip.permute(0, 2, 1, 3, 4).contiguous())
    assert logits.shape == (1, MODELS[name][0]["num_outputs"])
    assert rel_error(logits, reference[f"{name}/logits"]) < TOLERANCE
    first8 = torch.tensor(meta["models"][name]["logits_first8"])
    assert torch.allclose(logits[0, :8], first8, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_matches_reference(name: str, meta: dict) -> None:
    model = ResNet3D(**MODELS[name][0])
    assert sum(p.numel() for p in model.parameters()) == meta["models"][name]["n_params"]


# The tolerance is meaningful: plausible implementation mistakes exceed it by orders of magnitude.


def test_wrong_batchnorm_eps_fails_the_tolerance(reference: dict, meta: dict) -> None:
    name = "small_r3d101_B400_w0125_oldfmt"
    model = loaded_model(name)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.eps = 1e-3
    errors = stage_errors(model, name, reference, meta)
    assert all(error > 10 * TOLERANCE for error in errors.values()), errors


def test_wrong_stem_pooling_fails_the_tolerance(reference: dict, meta: dict) -> None:
    name = "small_r3d101_B700_w00625_newfmt"
    model = loaded_model(name)
    model.maxpool = nn.AvgPool3d(kernel_size=3, stride=2, padding=1)  # same shapes
    errors = stage_errors(model, name, reference, meta)
    assert errors["stem_relu"] < TOLERANCE, errors  # the stages before the mistake still match
    assert all(errors[stage] > 5 * TOLERANCE for stage in STAGE_NAMES[1:]), errors


def test_missing_module_prefix_strip_fails(reference: dict, meta: dict) -> None:
    name = "small_r3d101_A400_w0125_oldfmt"
    state = torch.load(FIXTURES / f"{name}.pth", weights_only=True)["state_dict"]
    model = ResNet3D(**MODELS[name][0]).eval()
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)  # loads nothing: the random init remains
    errors = stage_errors(model, name, reference, meta)
    assert all(error > 1e3 * TOLERANCE for error in errors.values()), errors
