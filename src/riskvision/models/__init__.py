"""The networks, their registry and their pretrained weights.

Every net is a ``ClipNet`` (``base.py``): a normalised clip ``video [B, T, C, H, W]`` in, logits out; every
model is registered under one name (``registry.py``: ``list_models()``, ``create_model(name, num_outputs=K)``).
``ResNetBiLSTM`` (model=bilstm, a ``FrameFeatureNet``), ``FrameNet`` (any torchvision image classifier per frame +
a temporal head: model=frame_net, model=causal_gru), ``ResNet3D`` (model=resnet3d101 and family),
``TorchvisionVideoNet`` (torchvision's Kinetics video classifiers under their names: model=r3d_18 ... mvit_v2_s),
``HFVideoNet`` (VideoMAE / V-JEPA 2 from a local transformers folder, optional extra [hf]);
each family reads its own pretrained weights (``read_pretrained``), ``load_pretrained`` /
``load_weights`` load them and report the input normalisation those weights expect.
"""

from riskvision.models.base import ClipNet, FrameFeatureNet
from riskvision.models.complexity import count_parameters, forward_gflops, model_summary
from riskvision.models.frame_nets import FrameNet, ImageBackbone, causal_gru, frame_net
from riskvision.models.hf_video import HFVideoNet
from riskvision.models.pretrained import (
    ArchitectureMismatch,
    PretrainedReport,
    PretrainedUnavailable,
    PretrainedWeights,
    UnsafeCheckpointError,
    load_pretrained,
    load_weights,
)
from riskvision.models.registry import (
    UnknownModelError,
    create_model,
    list_models,
    model_targets,
    net_class,
    register_model,
    upgrade_net_config,
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
from riskvision.models.resnet_bilstm import ResNetBiLSTM, bilstm
from riskvision.models.torchvision_video import VIDEO_RECIPES, TorchvisionVideoNet

__all__ = [
    "ArchitectureMismatch",
    "ClipNet",
    "FrameFeatureNet",
    "FrameNet",
    "ImageBackbone",
    "HFVideoNet",
    "PretrainedReport",
    "PretrainedUnavailable",
    "PretrainedWeights",
    "ResNet3D",
    "ResNetBiLSTM",
    "TorchvisionVideoNet",
    "VIDEO_RECIPES",
    "UnknownModelError",
    "UnsafeCheckpointError",
    "bilstm",
    "causal_gru",
    "count_parameters",
    "create_model",
    "forward_gflops",
    "frame_net",
    "load_pretrained",
    "list_models",
    "load_weights",
    "model_summary",
    "model_targets",
    "net_class",
    "register_model",
    "resnet3d10",
    "resnet3d18",
    "resnet3d34",
    "resnet3d50",
    "resnet3d101",
    "resnet3d152",
    "resnet3d200",
    "upgrade_net_config",
]
