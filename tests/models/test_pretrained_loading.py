"""load_pretrained: formats, classifier skipping, refusals and errors (offline, CPU)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from riskvision.models import (
    ArchitectureMismatch,
    PretrainedUnavailable,
    ResNet3D,
    ResNetBiLSTM,
    UnsafeCheckpointError,
    load_pretrained,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "r3d"
OLD_B400 = FIXTURES / "small_r3d101_B400_w0125_oldfmt.pth"
OLD_A400 = FIXTURES / "small_r3d101_A400_w0125_oldfmt.pth"
NEW_B700 = FIXTURES / "small_r3d101_B700_w00625_newfmt.pth"


def small_r3d(**kwargs) -> ResNet3D:
    return ResNet3D(**{"depth": 101, "shortcut_type": "B", "widen_factor": 0.125, **kwargs})


@pytest.mark.parametrize("num_outputs", [3, 700, 1039])
def test_classifier_with_another_class_count_is_skipped(num_outputs: int) -> None:
    model = small_r3d(num_outputs=num_outputs)
    fc_before = model.fc.weight.clone()
    report = load_pretrained(model, OLD_B400)
    assert set(report.skipped) == {"fc.weight", "fc.bias"}
    assert "400" in report.skipped["fc.weight"] and str(num_outputs) in report.skipped["fc.weight"]
    assert report.missing == ["fc.weight", "fc.bias"]
    assert torch.equal(model.fc.weight, fc_before)
    file_state = torch.load(OLD_B400, weights_only=True)["state_dict"]
    assert torch.equal(model.layer4[2].conv3.weight, file_state["module.layer4.2.conv3.weight"])
    assert len(report.loaded) == len(file_state) - 2
    assert "activitynet" in report.summary() and "2 skipped" in report.summary()


def test_2020_file_selects_kinetics_and_keeps_counters() -> None:
    model = small_r3d(widen_factor=0.0625, num_outputs=3)
    report = load_pretrained(model, NEW_B700)
    assert (report.format, report.normalization) == ("hara-2020", "kinetics")
    assert "bn1.num_batches_tracked" in report.loaded


def test_shortcut_a_file_into_shortcut_b_model_is_an_architecture_error() -> None:
    with pytest.raises(ArchitectureMismatch, match=r"in the model but not in the file: layer1\.0\.downsample"):
        load_pretrained(small_r3d(num_outputs=400), OLD_A400)


def test_wrong_width_lists_the_first_mismatches() -> None:
    with pytest.raises(ArchitectureMismatch) as error:
        load_pretrained(small_r3d(widen_factor=0.25), OLD_B400)
    message = str(error.value)
    assert "conv1.weight: (8, 3, 7, 7, 7) in the file, (16, 3, 7, 7, 7) in the model" in message
    assert str(OLD_B400) in message and "more" in message


def test_non_strict_loads_what_fits() -> None:
    model = small_r3d(num_outputs=400)
    report = load_pretrained(model, OLD_A400, strict_backbone=False)
    assert "layer1.0.downsample.0.weight" in report.missing
    assert report.skipped == {} and "fc.weight" in report.loaded


def test_file_carrying_pickled_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    class Payload:
        def __init__(self, marker: Path) -> None:
            self.marker = marker

        def __reduce__(self):
            return (open, (str(self.marker), "w"))

    def craft(marker: Path) -> Path:
        path = tmp_path / f"{marker.stem}.pth"
        state = torch.load(OLD_B400, weights_only=True)
        torch.save({**state, "epoch": Payload(marker)}, path)
        return path

    control = craft(tmp_path / "control_marker")
    torch.load(control, weights_only=False)  # an unsafe load does run the payload
    assert (tmp_path / "control_marker").exists()

    marker = tmp_path / "marker"
    with pytest.raises(UnsafeCheckpointError, match=r"refusing .*marker\.pth.*pickled code \(io\.open\)"):
        load_pretrained(small_r3d(num_outputs=400), craft(marker))
    assert not marker.exists()


def test_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    path = tmp_path / "r3d101_K_200ep.pth"
    with pytest.raises(PretrainedUnavailable, match="r3d101_K_200ep.pth does not exist") as error:
        load_pretrained(small_r3d(), path)
    assert isinstance(error.value, OSError)
    for name in ("resnet-101-kinetics.pth", "r3d101_KM_200ep.pth", "3D-ResNets-PyTorch"):
        assert name in str(error.value)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_bytes(b"these are not weights")
    with pytest.raises(ValueError, match="notes.pth is not a readable PyTorch file: a text file of 21 bytes"):
        load_pretrained(small_r3d(), path)


def test_bare_state_dict_round_trip(tmp_path: Path) -> None:
    source = small_r3d(num_outputs=4)
    torch.save(source.state_dict(), tmp_path / "mine.pth")
    model = small_r3d(num_outputs=4)
    report = load_pretrained(model, tmp_path / "mine.pth")
    assert report.format == "state_dict" and report.missing == [] and report.skipped == {}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values()))


def test_no_source_is_random_init() -> None:
    model = small_r3d()
    report = load_pretrained(model, None)
    assert (report.source, report.format, report.loaded) == ("none", "none", [])
    assert report.missing == list(model.state_dict())


def test_resnet3d_has_no_torchvision_weights() -> None:
    with pytest.raises(ValueError, match="no torchvision weights"):
        load_pretrained(small_r3d(), "torchvision")


# ResNetBiLSTM: torchvision's weights API against a pre-seeded cache (never the network)


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case someone called torch.hub.set_dir

    def no_network(url: str, *args, **kwargs) -> None:
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch"


def seed_cache(torch_home: Path) -> dict[str, torch.Tensor]:
    """Write a (randomly initialised) resnet18 state dict where torchvision caches its weights."""
    weights = torchvision.models.ResNet18_Weights.DEFAULT
    state = torchvision.models.resnet18(weights=None).state_dict()
    cache = torch_home / "hub" / "checkpoints" / Path(weights.url).name
    cache.parent.mkdir(parents=True)
    torch.save(state, cache)
    return state


@pytest.mark.parametrize("source", ["torchvision", "imagenet"])
def test_torchvision_weights_from_the_cache(torch_home: Path, source: str) -> None:
    state = seed_cache(torch_home)
    model = ResNetBiLSTM()
    lstm_before = model.lstm.weight_ih_l0.clone()
    report = load_pretrained(model, source)
    assert report.source == "torchvision:ResNet18_Weights.IMAGENET1K_V1"
    assert (report.format, report.normalization) == ("torchvision", "imagenet")
    assert set(report.skipped) == {"backbone.fc.weight", "backbone.fc.bias"}
    assert all(key.startswith(("lstm.", "head.")) for key in report.missing)
    for key, value in state.items():
        if not key.startswith("fc."):
            assert torch.equal(model.backbone.state_dict()[key], value), key
    assert torch.equal(model.lstm.weight_ih_l0, lstm_before)
    assert not any(p.requires_grad for p in model.backbone.parameters())  # still frozen


def test_torchvision_weights_unavailable_offline(torch_home: Path) -> None:
    with pytest.raises(PretrainedUnavailable, match=r"not cached at .*resnet18-f37072fd\.pth"):
        load_pretrained(ResNetBiLSTM(), "torchvision")


def test_local_torchvision_file_into_backbone(tmp_path: Path) -> None:
    state = torchvision.models.resnet34(weights=None).state_dict()
    torch.save(state, tmp_path / "resnet34.pth")
    model = ResNetBiLSTM(backbone="resnet34", freeze=2)
    report = load_pretrained(model, tmp_path / "resnet34.pth")
    assert report.format == "torchvision" and report.normalization == "imagenet"
    assert torch.equal(model.backbone.layer3[0].conv1.weight, state["layer3.0.conv1.weight"])
    with pytest.raises(ArchitectureMismatch, match="layer1.0.conv1.weight"):
        load_pretrained(ResNetBiLSTM(backbone="resnet50"), tmp_path / "resnet34.pth")


def test_full_bilstm_state_dict_round_trip(tmp_path: Path) -> None:
    source = ResNetBiLSTM(readout="attention")
    torch.save(source.state_dict(), tmp_path / "bilstm.pth")
    model = ResNetBiLSTM(readout="attention")
    report = load_pretrained(model, tmp_path / "bilstm.pth")
    assert report.missing == [] and report.skipped == {}
    assert torch.equal(model.readout.score.weight, source.readout.score.weight)
    assert torch.equal(model.backbone.conv1.weight, source.backbone.conv1.weight)


def test_shortcut_a_model_takes_a_shortcut_b_file_non_strictly() -> None:
    """README.md (Models and pretrained weights): the seed's table model (shortcut A) from a shortcut-B Kinetics
    file."""
    model = small_r3d(shortcut_type="A", num_outputs=3)
    report = load_pretrained(model, OLD_B400, strict_backbone=False)
    assert sorted({key.split(".downsample")[0] for key in report.skipped if "downsample" in key}) == [
        "layer1.0",
        "layer2.0",
        "layer3.0",
        "layer4.0",
    ]
    assert {"fc.weight", "fc.bias"} <= set(report.skipped) and report.missing == ["fc.weight", "fc.bias"]
    assert report.normalization == "activitynet"
