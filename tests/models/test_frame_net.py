"""riskvision.models.FrameNet: any torchvision image classifier per frame + a temporal head (issue 26, item 3).

Weights come from state dicts saved from torchvision's own builders into ``tmp_path`` (never downloaded).
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from riskvision.models import ArchitectureMismatch, FrameNet, ResNetBiLSTM, create_model, list_models, load_pretrained
from riskvision.models.frame_heads import HEADS, RecurrentHead, TransformerHead
from riskvision.models.frame_nets import TESTED_BACKBONES, ImageBackbone

FAST = ["resnet18", "mobilenet_v3_large", "efficientnet_b0"]
SLOW = [name for name in TESTED_BACKBONES if name not in FAST]


def _size(backbone: str) -> int | None:
    return 32 if backbone.startswith("vit") else None


def _torchvision_model(backbone: str) -> nn.Module:
    """torchvision's own classifier (random weights, seeded), built as FrameNet builds its backbone."""
    torch.manual_seed(1)
    kwargs = {"image_size": 32} if backbone.startswith("vit") else {}
    return torchvision.models.get_model(backbone, weights=None, **kwargs).eval()


def _check_backbone_loads(backbone: str, tmp_path) -> None:
    reference = _torchvision_model(backbone)
    path = tmp_path / f"{backbone}.pth"
    torch.save(reference.state_dict(), path)
    net = FrameNet(backbone, head="gru", hidden_size=8, image_size=_size(backbone)).eval()
    report = load_pretrained(net, path)
    assert report.format == "torchvision" and report.normalization == "imagenet"
    assert all(key.startswith("head.") for key in report.missing)  # every backbone tensor loaded
    classifier = reference.get_submodule(net.backbone.classifier)
    assert isinstance(classifier, nn.Linear) and classifier.out_features == 1000
    video = torch.randn(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = net.forward_features(video)  # [1, 2, D]
        expected = reference(video[0])  # torchvision's logits [2, 1000]
    assert features.shape == (1, 2, classifier.in_features) == (1, 2, net.backbone.feature_dim)
    torch.testing.assert_close(classifier(features[0]), expected, atol=1e-4, rtol=1e-4)
    total = sum(p.numel() for p in reference.parameters()) - sum(p.numel() for p in classifier.parameters())
    assert sum(p.numel() for p in net.backbone.parameters()) == total


@pytest.mark.parametrize("backbone", FAST)
def test_backbone_is_torchvisions_classifier_without_its_last_linear(backbone, tmp_path):
    """A state dict saved from torchvision's builder loads into the backbone; its features through torchvision's
    removed classifier give torchvision's logits (1e-4); the parameter count is torchvision's minus the classifier."""
    _check_backbone_loads(backbone, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", SLOW)
def test_backbone_is_torchvisions_classifier_slow(backbone, tmp_path):
    _check_backbone_loads(backbone, tmp_path)


def test_torchvision_source_reads_the_torchvision_cache(tmp_path, monkeypatch):
    """``pretrained=torchvision`` takes the backbone's DEFAULT weights file from torchvision's cache (here a file put
    there by hand), through torchvision's weights API; nothing is downloaded."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    weights = torchvision.models.get_model_weights("resnet18").DEFAULT
    (tmp_path / "checkpoints").mkdir()
    reference = _torchvision_model("resnet18")
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / weights.url.rsplit("/", 1)[-1])
    net = FrameNet("resnet18", head="transformer", hidden_size=8)
    report = load_pretrained(net, "torchvision")
    assert report.source == f"torchvision:{weights}"
    torch.testing.assert_close(net.backbone.model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_vit_position_embedding_is_interpolated_to_the_frame_size(tmp_path):
    """ImageNet ViT weights (224 px: 197 positions) load into a ViT built for 32 px frames (5 positions)."""
    torch.manual_seed(0)
    path = tmp_path / "vit.pth"
    torch.save(torchvision.models.vit_b_16(weights=None).state_dict(), path)
    net = FrameNet("vit_b_16", head="gru", hidden_size=8, image_size=32)
    load_pretrained(net, path)
    assert net.backbone.model.encoder.pos_embedding.shape == (1, 5, 768)
    with pytest.raises(ValueError, match=r"built for 32x32 frames, got 64x64\. Fix: "):
        net(torch.zeros(1, 1, 3, 64, 64))


def test_weights_of_another_architecture_name_the_mismatching_keys(tmp_path):
    path = tmp_path / "r34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(ArchitectureMismatch, match=r"in the file but not in the model: backbone\.model\.layer1\.2"):
        load_pretrained(FrameNet("resnet18", hidden_size=8), path)


def test_bilstm_head_is_the_seeds():
    """FrameNet(resnet18, bilstm) built under the same seed as ResNetBiLSTM has the same tensors and gives the same
    logits: the seed's head, generalised (model=bilstm itself keeps its own class and checkpoints)."""
    video = torch.randn(2, 3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(3)
    seed = ResNetBiLSTM(hidden_size=16).eval()
    torch.manual_seed(3)
    frame = FrameNet("resnet18", head="bilstm", hidden_size=16).eval()
    assert [p.shape for p in seed.parameters()] == [p.shape for p in frame.parameters()]
    with torch.no_grad():
        assert torch.equal(seed(video), frame(video))


@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_maps_features_to_clip_logits(head):
    net = FrameNet("resnet18", head=head, hidden_size=8, num_outputs=3).eval()
    features = torch.randn(2, 5, 512)
    assert net.forward_sequence(features).shape == (2, 3)
    assert net.causal == (head in ("gru", "lstm"))
    with torch.no_grad():
        torch.testing.assert_close(net(torch.randn(2, 5, 3, 32, 32)).shape, torch.Size([2, 3]))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_causal_head_scores_every_frame_from_the_frames_before_it(cell):
    """forward_frames[:, t] only sees frames 0..t (it equals the head on the prefix); stepping frame by frame with
    the carried state gives the same logits; the clip's logits are the last frame's."""
    torch.manual_seed(0)
    head = RecurrentHead(6, 1, cell=cell, hidden_size=5).eval()
    features = torch.randn(2, 7, 6)
    with torch.no_grad():
        every = head.forward_frames(features)  # [2, 7, 1]
        for t in range(7):
            torch.testing.assert_close(every[:, t], head(features[:, : t + 1]))
        state, stepped = None, []
        for t in range(7):
            logits, state = head.step(features[:, t], state)
            stepped.append(logits)
    torch.testing.assert_close(torch.stack(stepped, dim=1), every, atol=1e-6, rtol=0)


def test_non_causal_head_has_no_per_frame_scores():
    net = FrameNet("resnet18", head="transformer", hidden_size=8)
    with pytest.raises(TypeError, match="not causal; forward_frames needs model.net.head=gru or lstm"):
        net.forward_frames(torch.zeros(1, 2, 512))
    with pytest.raises(ValueError, match=r"max_frames=4\. Fix: model\.net\.head_options\.max_frames=5"):
        TransformerHead(8, 1, hidden_size=8, max_frames=4)(torch.zeros(1, 5, 8))


def test_freeze_all_none_and_partial():
    frozen = FrameNet("resnet18", freeze="all", hidden_size=8)
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    assert frozen.feature_identity()["backbone"] == "resnet18" and frozen.feature_identity()["feature_dim"] == 512
    frozen.train()
    assert not frozen.backbone.model.bn1.training and frozen.head.training
    assert not frozen.forward_features(torch.zeros(1, 2, 3, 32, 32)).requires_grad

    partial = FrameNet("efficientnet_b0", freeze=2, hidden_size=8).train()  # stem + 2 of 8 stages
    blocks = partial.backbone.model.features
    assert not any(p.requires_grad for block in blocks[:3] for p in block.parameters())
    assert all(p.requires_grad for block in blocks[3:] for p in block.parameters())
    assert not blocks[1].training and blocks[3].training
    assert partial.feature_identity() is None  # its features train: nothing to cache

    trained = FrameNet("mobilenet_v3_large", freeze="none", hidden_size=8)
    assert all(p.requires_grad for p in trained.backbone.parameters())
    assert trained.forward_features(torch.zeros(1, 2, 3, 32, 32)).requires_grad


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"backbone": "resnet19"},
            r"model\.net\.backbone='resnet19' is not a torchvision model\. Fix: .*convnext_tiny",
        ),
        ({"head": "lstmm"}, r"model\.net\.head='lstmm' is not a temporal head\. Fix: one of \['bilstm', 'gru'"),
        ({"freeze": 9}, r"model\.net\.freeze=9 for backbone resnet18\. Fix: 'all', 'none' or an int 0\.\.4"),
        ({"head_options": {"readout": "mean"}, "head": "gru"}, r"head_options=\{'readout': 'mean'\} do not fit"),
    ],
)
def test_bad_settings_give_one_line_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameNet(**{"hidden_size": 8, **kwargs})


def test_backbone_without_stage_table_freezes_all_or_nothing():
    assert ImageBackbone("densenet121", freeze="all").feature_dim == 1024
    with pytest.raises(ValueError, match=r"freeze=1 for backbone densenet121\. Fix: 'all', 'none' or nothing else"):
        ImageBackbone("densenet121", freeze=1)
    with pytest.raises(ValueError, match=r"SqueezeNet has no final Linear classifier to remove\. Fix: "):
        ImageBackbone("squeezenet1_0")


def test_registered_as_frame_net_and_causal_gru(tmp_path):
    """``create_model`` builds both at the asked width; ``pretrained=PATH`` loads a torchvision state dict."""
    assert {"frame_net", "causal_gru"} <= set(list_models())
    path = tmp_path / "mobilenet.pth"
    reference = _torchvision_model("mobilenet_v3_large")
    torch.save(reference.state_dict(), path)
    net = create_model(
        "frame_net", num_outputs=3, backbone="mobilenet_v3_large", head="transformer", hidden_size=8, pretrained=path
    )
    assert isinstance(net, FrameNet) and net.head.head.out_features == 3 and not net.causal
    torch.testing.assert_close(
        net.backbone.model.features[4].block[0][0].weight, reference.features[4].block[0][0].weight
    )
    causal = create_model("causal_gru", num_outputs=1, hidden_size=8)
    assert causal.causal and causal.head_name == "gru" and causal.backbone_name == "resnet18"
