"""ResNetBiLSTM: the seed's structure, freezing, readouts and per-frame features (CPU, tiny clips)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from riskvision.models import ResNetBiLSTM, count_parameters
from riskvision.models.resnet_bilstm import AttentionReadout

CLIP = (2, 3, 3, 32, 32)  # [B, T, C, H, W]
STAGES = (("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",))


def clip() -> torch.Tensor:
    return torch.randn(*CLIP, generator=torch.Generator().manual_seed(0))


def frozen(model: ResNetBiLSTM, names: tuple[str, ...]) -> bool:
    modules = [getattr(model.backbone, name) for name in names]
    params = [p for m in modules for p in m.parameters()]
    return all(not p.requires_grad for p in params) and all(not sub.training for m in modules for sub in m.modules())


def test_seed_structure() -> None:
    model = ResNetBiLSTM()
    lstm = model.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == (512, 128, 1, True)
    # per direction: 4 gates x 128 x (512 + 128) weights + 2 x 4 x 128 biases
    assert sum(p.numel() for p in lstm.parameters()) == 2 * (4 * 128 * 640 + 2 * 4 * 128) == 657_408
    assert (model.head.in_features, model.head.out_features) == (256, 1)
    assert count_parameters(model) == (11_176_512 + 657_408 + 257, 657_408 + 257)
    assert isinstance(model.backbone.fc, nn.Identity)


def test_frozen_backbone_gets_no_grad_and_stays_in_eval_mode() -> None:
    model = ResNetBiLSTM().train()
    assert model.training and model.lstm.training
    assert frozen(model, tuple(name for stage in STAGES for name in stage))
    assert not any(m.training for m in model.backbone.modules())
    features = model.forward_features(clip())
    assert not features.requires_grad  # ran under no_grad
    running_mean = model.backbone.bn1.running_mean.clone()
    model(clip()).sum().backward()
    assert torch.equal(model.backbone.bn1.running_mean, running_mean)  # BN statistics untouched
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.lstm.parameters())
    assert model.head.weight.grad is not None


@pytest.mark.parametrize("n", [0, 2, 4])
def test_partial_freezing(n: int) -> None:
    model = ResNetBiLSTM(freeze=n).train()
    assert frozen(model, tuple(name for stage in STAGES[: 1 + n] for name in stage))
    for stage in STAGES[1 + n :]:
        module = getattr(model.backbone, stage[0])
        assert module.training and all(p.requires_grad for p in module.parameters())
    model(clip()).sum().backward()
    for index, stage in enumerate(STAGES):
        grads = [p.grad for p in getattr(model.backbone, stage[0]).parameters()]
        assert all((g is None) == (index <= n) for g in grads), stage


def test_unfrozen_backbone_trains_everything() -> None:
    model = ResNetBiLSTM(freeze="none").train()
    assert model.backbone.training and model.backbone.bn1.training
    model(clip()).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_eval_mode_covers_everything() -> None:
    model = ResNetBiLSTM(freeze=1).eval()
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize(("backbone", "dim"), [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048)])
def test_forward_features_shape(backbone: str, dim: int) -> None:
    with torch.device("meta"):
        model = ResNetBiLSTM(backbone=backbone)
    assert model.forward_features(torch.zeros(*CLIP, device="meta")).shape == (2, 3, dim)
    assert model.lstm.input_size == dim


def test_last_readout_is_the_final_forward_and_backward_states() -> None:
    model = ResNetBiLSTM(hidden_size=16).eval()
    with torch.no_grad():
        features = model.forward_features(clip())
        outputs, _ = model.lstm(features)
        expected = model.head(torch.cat((outputs[:, -1, :16], outputs[:, 0, 16:]), dim=1))
        assert torch.allclose(model(clip()), expected, atol=1e-6)
        assert torch.allclose(model.forward_sequence(features), expected, atol=1e-6)


def test_mean_readout_averages_over_time() -> None:
    model = ResNetBiLSTM(hidden_size=16, readout="mean", num_outputs=3).eval()
    with torch.no_grad():
        outputs, _ = model.lstm(model.forward_features(clip()))
        assert torch.allclose(model(clip()), model.head(outputs.mean(dim=1)), atol=1e-6)


def test_attention_readout_weights_time_steps() -> None:
    model = ResNetBiLSTM(hidden_size=16, num_layers=2, dropout=0.1, readout="attention").eval()
    assert isinstance(model.readout, AttentionReadout)
    with torch.no_grad():
        outputs, _ = model.lstm(model.forward_features(clip()))
        weights = model.readout.weights(outputs)
        assert weights.shape == (2, 3) and torch.allclose(weights.sum(dim=1), torch.ones(2))
        pooled = (weights.unsqueeze(-1) * outputs).sum(dim=1)
        assert torch.allclose(model(clip()), model.head(pooled), atol=1e-6)
    model.train()
    model(clip()).sum().backward()
    assert model.readout.score.weight.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"freeze": 5}, "freeze=5"),
        ({"freeze": "some"}, "freeze='some'"),
        ({"freeze": True}, "freeze=True"),
        ({"readout": "max"}, "readout='max'"),
        ({"backbone": "squeezenet1_0"}, "SqueezeNet"),
    ],
)
def test_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ResNetBiLSTM(**kwargs)
