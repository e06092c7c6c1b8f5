"""The seed networks and their pretrained weights.

Every net is a ``ClipNet`` (``base.py``): a normalised clip ``video [B, T, C, H, W]`` in, logits out.
``ResNetBiLSTM`` (model=bilstm, a ``FrameFeatureNet``), ``FrameNet`` (any torchvision image classifier per frame +
a temporal head: model=frame_net, model=causal_gru) and ``ResNet3D`` (model=resnet3d101 and family);
each family reads its own pretrained weights (``read_pretrained``), ``load_pretrained`` /
``load_weights`` load them and report the input normalisation those weights expect.
"""

from riskvision.models.base import ClipNet, FrameFeatureNet
from riskvision.models.complexity import count_parameters, forward_gflops, model_summary
from riskvision.models.frame_net import FrameNet, ImageBackbone
from riskvision.models.pretrained import (
    ArchitectureMismatch,
    PretrainedReport,
    PretrainedUnavailable,
    PretrainedWeights,
    UnsafeCheckpointError,
    load_pretrained,
    load_weights,
)
from riskvision.models.resnet3d import (
    ResNet3D,
    resnet3d10,
    resnet3d18,
    resnet3d34,
    resnet3d50,
    resnet3d101,
    resnet3d152,
    resnet3d200,
)
from riskvision.models.resnet_bilstm import ResNetBiLSTM

__all__ = [
    "ArchitectureMismatch",
    "ClipNet",
    "FrameFeatureNet",
    "FrameNet",
    "ImageBackbone",
    "PretrainedReport",
    "PretrainedUnavailable",
    "PretrainedWeights",
    "ResNet3D",
    "ResNetBiLSTM",
    "UnsafeCheckpointError",
    "count_parameters",
    "forward_gflops",
    "load_pretrained",
    "load_weights",
    "model_summary",
    "resnet3d10",
    "resnet3d18",
    "resnet3d34",
    "resnet3d50",
    "resnet3d101",
    "resnet3d152",
    "resnet3d200",
]
