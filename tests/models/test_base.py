"""The ClipNet contract: both seed nets fulfil it, and nets outside it are refused with the fix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from riskvision.models import ClipNet, FrameFeatureNet, ResNet3D, ResNetBiLSTM, load_pretrained
from riskvision.utils import ConfigError, check_clip_length


class Mean(ClipNet):
    """A ClipNet without pretrained weights: the mean of the clip as its one logit."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return video.mean(dim=(1, 2, 3, 4))[:, None]


def test_seed_nets_declare_the_contract():
    r3d = ResNet3D(depth=10, widen_factor=0.125)
    bilstm = ResNetBiLSTM(hidden_size=4)
    assert isinstance(r3d, ClipNet) and not isinstance(r3d, FrameFeatureNet) and r3d.min_frames == 9
    assert isinstance(bilstm, FrameFeatureNet) and bilstm.min_frames == 1
    assert (r3d.default_normalization, bilstm.default_normalization) == ("kinetics", "imagenet")


def test_frame_feature_net_forward_is_sequence_of_features():
    net = ResNetBiLSTM(hidden_size=4).eval()
    video = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(video), net.forward_sequence(net.forward_features(video)))


def test_a_net_without_a_loader_refuses_pretrained_weights():
    with pytest.raises(ValueError, match="Mean has no pretrained-weights loader.*source=null"):
        load_pretrained(Mean(), "weights.pth")
    assert load_pretrained(Mean(), None).format == "none"


def test_nets_outside_the_contract_are_refused():
    with pytest.raises(TypeError, match="needs a riskvision.models.ClipNet"):
        load_pretrained(nn.Linear(1, 1), None)
    with pytest.raises(ConfigError, match="not a riskvision.models.ClipNet"):
        check_clip_length(nn.Linear(1, 1), 8)
    check_clip_length(Mean(), 1)
