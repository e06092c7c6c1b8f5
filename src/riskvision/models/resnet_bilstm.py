"""Per-frame torchvision ResNet -> bidirectional LSTM -> binary crash logit (the "bilstm" seed).

Seed configuration (the defaults): ImageNet ResNet-18 without its fc (512-d per frame), frozen and
run under ``no_grad``; one bidirectional LSTM layer, hidden 128; the final forward and backward
hidden states concatenated -> ``Linear(256, 1)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from riskvision.models.base import FrameFeatureNet, weights_digest
from riskvision.models.frame_heads import READOUTS, AttentionReadout, LastHiddenReadout, MeanReadout
from riskvision.models.pretrained import PretrainedWeights, read_checkpoint, torchvision_state_dict
from riskvision.models.registry import register_model

__all__ = ["AttentionReadout", "LastHiddenReadout", "MeanReadout", "ResNetBiLSTM", "bilstm"]

#: Sources that name torchvision's DEFAULT ImageNet weights of the backbone.
TORCHVISION_SOURCES = ("torchvision", "imagenet")

# torchvision ResNet submodules in forward order, grouped into freezable stages: stem, layer1..4
BACKBONE_STAGES = (
    ("conv1", "bn1", "relu", "maxpool"),
    ("layer1",),
    ("layer2",),
    ("layer3",),
    ("layer4",),
)


class ResNetBiLSTM(FrameFeatureNet):
    """``video [B, T, C, H, W]`` (ImageNet-normalised) -> logits ``[B, num_outputs]``.

    Args:
        backbone: a torchvision ResNet builder name (``resnet18``, ``resnet34``, ``resnet50``, ...),
            looked up with ``torchvision.models.get_model_builder``; built without weights (load
            them with ``load_pretrained(model, "torchvision")``); its ``fc`` is replaced by Identity.
        freeze: ``"all"`` (the seed: whole backbone frozen, run under ``no_grad``), ``"none"``, or
            an int N in 0..4: the stem and the first N of layer1..layer4 are frozen. Frozen
            parameters have ``requires_grad=False``, run under ``no_grad`` and stay in eval mode
            (BatchNorm statistics fixed) even when the module trains.
        hidden_size: LSTM hidden size per direction.
        num_layers: stacked bidirectional LSTM layers.
        dropout: dropout on the readout vector before the head, and between LSTM layers when
            ``num_layers > 1``.
        readout: ``"last"`` (the seed), ``"mean"`` over time, or ``"attention"`` pooling.
        num_outputs: logits per clip (1 for the binary crash head).

    Pretrained weights (:meth:`read_pretrained`): ``"torchvision"`` / ``"imagenet"`` (the backbone's DEFAULT
    torchvision weights, via torchvision's weights API and cache), a torchvision ResNet ``.pth`` state dict
    (-> the backbone), or a whole ResNetBiLSTM state dict (``backbone.*`` keys -> the whole net).
    """

    default_normalization = "imagenet"

    def __init__(
        self,
        backbone: str = "resnet18",
        freeze: str | int = "all",
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        readout: str = "last",
        num_outputs: int = 1,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"ResNetBiLSTM readout={readout!r}; expected one of {list(READOUTS)}")
        self.backbone_name = backbone
        self.backbone, self.feature_dim = _headless_resnet(backbone)
        self.frozen_stages = _frozen_stages(freeze)
        self.lstm = nn.LSTM(
            self.feature_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.readout = READOUTS[readout](2 * hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, num_outputs)
        for module in self._frozen_modules():
            module.requires_grad_(False)
        self.train()

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages == len(BACKBONE_STAGES):
            return [self.backbone]
        names = [name for stage in BACKBONE_STAGES[: self.frozen_stages] for name in stage]
        return [getattr(self.backbone, name) for name in names]

    def train(self, mode: bool = True) -> ResNetBiLSTM:
        """Set train/eval mode; frozen backbone stages always stay in eval mode."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def forward_features(self, video: Tensor) -> Tensor:
        """Per-frame backbone features: ``video [B, T, C, H, W]`` -> ``[B, T, D]``
        (D = 512 for resnet18/34, 2048 for resnet50)."""
        b, t = video.shape[:2]
        x = video.flatten(0, 1)
        for index, stage in enumerate(BACKBONE_STAGES):
            with torch.set_grad_enabled(torch.is_grad_enabled() and index >= self.frozen_stages):
                for name in stage:
                    x = getattr(self.backbone, name)(x)
        x = torch.flatten(self.backbone.avgpool(x), 1)
        return x.view(b, t, -1)

    def feature_identity(self) -> dict[str, Any] | None:
        """The frozen backbone's name, feature size and weights digest; ``None`` unless ``freeze="all"``."""
        if self.frozen_stages < len(BACKBONE_STAGES):
            return None
        return {
            "backbone": self.backbone_name,
            "feature_dim": self.feature_dim,
            "weights_sha256": weights_digest(self.backbone),
        }

    def forward_sequence(self, features: Tensor) -> Tensor:
        """LSTM, readout and head on (possibly cached) features ``[B, T, D]`` -> ``[B, num_outputs]``."""
        outputs, (h_n, _) = self.lstm(features)
        return self.head(self.dropout(self.readout(outputs, h_n)))

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """torchvision weights of ``config["backbone"]`` (or a torchvision-layout file) -> the backbone
        (``imagenet`` preset); a file with ``backbone.*`` keys -> the whole net (its default preset)."""
        if str(source) in TORCHVISION_SOURCES:
            state, name = torchvision_state_dict(config.get("backbone", "resnet18"))
            return PretrainedWeights(name, "torchvision", "imagenet", state, prefix="backbone.")
        state, _, notes = read_checkpoint(Path(source))
        if any(key.startswith("backbone.") for key in state):
            return PretrainedWeights(str(source), "state_dict", cls.default_normalization, state, notes=notes)
        return PretrainedWeights(str(source), "torchvision", "imagenet", state, prefix="backbone.", notes=notes)

    def pretrained_config(self) -> dict[str, Any]:
        return {"backbone": self.backbone_name}


@register_model("bilstm")
def bilstm(*, num_outputs: int, **kwargs: Any) -> ResNetBiLSTM:
    """The seed's ResNet-18 -> BiLSTM(128) net (:class:`ResNetBiLSTM`; ``kwargs`` are its arguments)."""
    return ResNetBiLSTM(num_outputs=num_outputs, **kwargs)


def _headless_resnet(name: str) -> tuple[torchvision.models.ResNet, int]:
    """torchvision ResNet ``name`` without weights and with ``fc`` replaced by Identity, and its
    feature size (the removed fc's input size)."""
    model = torchvision.models.get_model_builder(name)(weights=None)
    if not isinstance(model, torchvision.models.ResNet):
        raise ValueError(
            f"ResNetBiLSTM backbone={name!r} is a {type(model).__name__}; expected a torchvision "
            "ResNet builder such as resnet18, resnet34 or resnet50"
        )
    feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, feature_dim


def _frozen_stages(freeze: str | int) -> int:
    """How many of ``BACKBONE_STAGES`` (stem, layer1..4) are frozen for ``freeze``."""
    if freeze == "all":
        return len(BACKBONE_STAGES)
    if freeze == "none":
        return 0
    if isinstance(freeze, int) and not isinstance(freeze, bool) and 0 <= freeze <= 4:
        return 1 + freeze
    raise ValueError(
        f"ResNetBiLSTM freeze={freeze!r}; expected 'all', 'none' or an int 0..4 (freeze the stem "
        "and the first N of layer1..layer4)"
    )
