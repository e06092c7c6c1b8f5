"""The seed networks and their pretrained weights.

``ResNetBiLSTM`` (model=bilstm) and ``ResNet3D`` (model=resnet3d101 and family) take a normalised
clip ``video [B, T, C, H, W]`` and return logits; ``load_pretrained`` loads public weights into them
and reports the input normalisation those weights expect.
"""

from riskvision.models.complexity import count_parameters, forward_gflops, model_summary
from riskvision.models.pretrained import (
    ArchitectureMismatch,
    PretrainedReport,
    PretrainedUnavailable,
    UnsafeCheckpointError,
    load_pretrained,
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
    "PretrainedReport",
    "PretrainedUnavailable",
    "ResNet3D",
    "ResNetBiLSTM",
    "UnsafeCheckpointError",
    "count_parameters",
    "forward_gflops",
    "load_pretrained",
    "model_summary",
    "resnet3d10",
    "resnet3d18",
    "resnet3d34",
    "resnet3d50",
    "resnet3d101",
    "resnet3d152",
    "resnet3d200",
]
