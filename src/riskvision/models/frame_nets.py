"""Per-frame nets from any torchvision image classifier + a temporal head (``model=frame_net``, ``model=causal_gru``).

    FrameNet(backbone="convnext_tiny", freeze="all", head="gru", num_outputs=1)

:class:`ImageBackbone` is a torchvision ImageNet classifier (``resnet18/34/50``, ``efficientnet_b0``,
``convnext_tiny``, ``mobilenet_v3_large``, ``regnet_y_800mf``, ``vit_b_16``, ... any builder of
``torchvision.models``) whose final ``Linear`` (its ImageNet classifier) is an Identity: a frame ``[N, 3, H, W]`` ->
the classifier's input features ``[N, D]``. It is frozen (``freeze=all``: requires no gradient, runs under
``no_grad`` in eval mode, so its features can be cached on disk), trained (``none``) or partly frozen (``N``: its
stem and first N stages). The head (``frame_heads``) maps the frames' features ``[B, T, D]`` to logits.

:class:`FrameNet` is a ``FrameFeatureNet``: the feature cache, eval's per-frame scoring and the streaming engine run
its backbone once per frame. With a causal head (``gru`` / ``lstm``) it also scores EVERY frame from one pass
(:meth:`FrameNet.forward_frames`) and streams with a carried recurrent state (:meth:`FrameNet.step`).

Pretrained weights (:meth:`FrameNet.read_pretrained`): ``torchvision`` / ``imagenet`` = the backbone's DEFAULT
torchvision weights through torchvision's weights API (its cache, ``$TORCH_HOME/hub/checkpoints``), a local
torchvision state dict of the same architecture (``torch.save(torchvision.models.<name>().state_dict(), path)``),
or a whole FrameNet state dict. A ViT's position embedding is interpolated to ``image_size`` as torchvision does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from riskvision.models.base import FrameFeatureNet, weights_digest
from riskvision.models.frame_heads import TemporalHead, build_head
from riskvision.models.pretrained import PretrainedWeights, read_checkpoint, torchvision_state_dict
from riskvision.models.registry import register_model

__all__ = ["FrameNet", "ImageBackbone", "causal_gru", "frame_net"]

#: Sources that name torchvision's DEFAULT ImageNet weights of the backbone.
TORCHVISION_SOURCES = ("torchvision", "imagenet")
#: The backbones issue 26 names and tests (any other torchvision classifier with a final Linear works too).
TESTED_BACKBONES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "efficientnet_b0",
    "convnext_tiny",
    "mobilenet_v3_large",
    "regnet_y_800mf",
    "vit_b_16",
)


def _stages(model: nn.Module) -> list[list[nn.Module | nn.Parameter]] | None:
    """A classifier's parts in forward order for partial freezing: ``[stem, stage 1, ..., stage S]`` (each a list
    of modules and loose parameters); ``None`` for a family without a table here (then only ``all`` / ``none``)."""
    m: Any = model
    if isinstance(m, torchvision.models.ResNet):
        return [[m.conv1, m.bn1], [m.layer1], [m.layer2], [m.layer3], [m.layer4]]
    if isinstance(m, torchvision.models.RegNet):
        return [[m.stem], *[[stage] for stage in m.trunk_output]]
    if isinstance(
        m,
        (
            torchvision.models.EfficientNet,
            torchvision.models.MobileNetV3,
            torchvision.models.MobileNetV2,
            torchvision.models.ConvNeXt,
        ),
    ):
        return [[block] for block in m.features]
    if isinstance(m, torchvision.models.VisionTransformer):
        return [[m.conv_proj, m.class_token, m.encoder.pos_embedding], *[[layer] for layer in m.encoder.layers]]
    return None


@functools.lru_cache(maxsize=None)
def _classifier_path(name: str) -> str:
    """The dotted name of torchvision ``name``'s final Linear (its ImageNet classifier), e.g. ``fc`` or
    ``classifier.1``: the last ``nn.Linear`` of the model."""
    return _last_linear(_build(name, None)[0])


def _build(name: str, image_size: int | Sequence[int] | None) -> tuple[nn.Module, int | None]:
    """torchvision classifier ``name`` without weights, built for ``image_size`` when its builder takes one (ViT),
    and the image size it was built for (``None``: any)."""
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError:
        known = ", ".join(TESTED_BACKBONES)
        raise ValueError(
            f"model.net.backbone={name!r} is not a torchvision model. Fix: a torchvision image "
            f"classifier such as {known} (torchvision.models.list_models(torchvision.models))"
        ) from None
    if isinstance(image_size, (list, tuple)):  # a frame_size [H, W]: a ViT takes square frames only
        image_size = image_size[0] if len(set(image_size)) == 1 else None
    if image_size is not None:
        try:
            return builder(weights=None, image_size=int(image_size)), int(image_size)
        except TypeError as error:  # a builder without an image size (a convolutional net takes any size)
            if "image_size" not in str(error):
                raise
    return builder(weights=None), None


def _last_linear(model: nn.Module) -> str:
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(
            f"backbone {type(model).__name__} has no final Linear classifier to remove. Fix: a "
            f"torchvision image classifier such as {', '.join(TESTED_BACKBONES)}"
        )
    return linears[-1]


def _freeze_count(freeze: str | int, stages: int | None, name: str) -> int | None:
    """How many of the backbone's ``[stem, stage 1..S]`` parts are frozen; ``None`` for the whole backbone."""
    if freeze == "all":
        return None
    if freeze == "none":
        return 0
    if stages is not None and isinstance(freeze, int) and not isinstance(freeze, bool) and 0 <= freeze < stages:
        return 1 + freeze
    what = f"an int 0..{stages - 1} (the stem and the first N stages)" if stages else "nothing else for this family"
    raise ValueError(f"model.net.freeze={freeze!r} for backbone {name}. Fix: 'all', 'none' or {what}")


class ImageBackbone(nn.Module):
    """A torchvision image classifier without its final Linear: frames ``[N, 3, H, W]`` -> features ``[N, D]``.

    Args:
        name: a ``torchvision.models`` classifier builder (built without weights; see the module docstring).
        freeze: ``all`` (frozen: no gradients, eval mode, ``no_grad``), ``none`` (trained) or an int N: the stem and
            the first N stages frozen (ResNet, RegNet, EfficientNet, MobileNet, ConvNeXt, ViT).
        image_size: the frame side, passed to builders that take one (ViT is built for it; a convolutional net takes
            any size and ignores it); ``None``: the builder's default.

    Attributes: ``model`` (the classifier), ``feature_dim`` (D, the removed Linear's input size), ``classifier``
    (the removed Linear's name in ``model``).
    """

    def __init__(self, name: str = "resnet18", freeze: str | int = "all", image_size: int | None = None) -> None:
        super().__init__()
        self.name = name
        self.model, self.image_size = _build(name, image_size)
        self.classifier = _last_linear(self.model)
        self.feature_dim = int(self.model.get_submodule(self.classifier).in_features)
        self.model.set_submodule(self.classifier, nn.Identity())
        stages = _stages(self.model)
        count = _freeze_count(freeze, None if stages is None else len(stages), name)
        self.frozen_all = count is None
        frozen = [self.model] if self.frozen_all else [part for stage in (stages or [])[:count] for part in stage]
        self._frozen_modules = [part for part in frozen if isinstance(part, nn.Module)]
        for part in frozen:
            part.requires_grad_(False)

    def train(self, mode: bool = True) -> ImageBackbone:
        """Set train/eval mode; frozen parts always stay in eval mode (BatchNorm statistics, dropout)."""
        super().train(mode)
        for module in self._frozen_modules:
            module.eval()
        return self

    def forward(self, frames: Tensor) -> Tensor:
        """``frames [N, 3, H, W]`` (normalised) -> ``[N, D]``."""
        size = self.image_size
        if size is not None and tuple(frames.shape[-2:]) != (size, size):
            raise ValueError(
                f"backbone {self.name} is built for {size}x{size} frames, got "
                f"{frames.shape[-2]}x{frames.shape[-1]}. Fix: model.net.image_size="
                f"{frames.shape[-1]} or model.inputs.frame_size={size}"
            )
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_all):
            return self.model(frames)


class FrameNet(FrameFeatureNet):
    """``video [B, T, C, H, W]`` (ImageNet-normalised) -> per-frame :class:`ImageBackbone` -> temporal head ->
    logits ``[B, num_outputs]``.

    Args:
        backbone: a torchvision image classifier name (``resnet18``, ``convnext_tiny``, ``vit_b_16``, ...).
        freeze: ``all`` | ``none`` | N (:class:`ImageBackbone`).
        head: ``bilstm`` | ``gru`` | ``lstm`` | ``transformer`` (``frame_heads.HEADS``).
        hidden_size: the head's hidden size (per direction for ``bilstm``; d_model for ``transformer``).
        num_layers: the head's layers.
        dropout: the head's dropout.
        image_size: the frame side (``model.inputs.frame_size``): a ViT backbone is built for it, others ignore it.
        head_options: head-specific arguments (``bilstm``: ``readout``; ``transformer``: ``num_heads``,
            ``max_frames``).
        num_outputs: logits per clip (per frame for a causal head), the task's ``num_outputs``.
    """

    default_normalization = "imagenet"

    def __init__(
        self,
        backbone: str = "resnet18",
        freeze: str | int = "all",
        head: str = "bilstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        image_size: int | None = None,
        head_options: Mapping[str, Any] | None = None,
        num_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.backbone_name, self.head_name = backbone, head
        self.backbone = ImageBackbone(backbone, freeze, image_size)
        self.head: TemporalHead = build_head(
            head, self.backbone.feature_dim, num_outputs, hidden_size, num_layers, dropout, head_options
        )

    @property
    def causal(self) -> bool:
        """The head scores every frame from the frames up to it (:meth:`forward_frames`, :meth:`step`)."""
        return self.head.causal

    def forward_features(self, video: Tensor) -> Tensor:
        """Per-frame backbone features: ``video [B, T, C, H, W]`` -> ``[B, T, D]``."""
        b, t = video.shape[:2]
        return self.backbone(video.flatten(0, 1)).view(b, t, -1)

    def forward_sequence(self, features: Tensor) -> Tensor:
        """The head on (possibly cached) features ``[B, T, D]`` -> ``[B, num_outputs]``."""
        return self.head(features)

    def forward_frames(self, features: Tensor) -> Tensor:
        """A causal head's logits at every frame: ``features [B, T, D]`` -> ``[B, T, num_outputs]``."""
        self._need_causal("forward_frames")
        return self.head.forward_frames(features)

    def step(self, features: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """A causal head one frame on: ``features [B, D]``, state (``None`` at the start) -> logits ``[B, K]`` and
        the next state."""
        self._need_causal("step")
        return self.head.step(features, state)

    def _need_causal(self, what: str) -> None:
        if not self.causal:
            raise TypeError(f"FrameNet head {self.head_name!r} is not causal; {what} needs model.net.head=gru or lstm")

    def feature_identity(self) -> dict[str, Any] | None:
        """The frozen backbone's name, frame size, feature size and weights digest; ``None`` unless ``freeze=all``."""
        if not self.backbone.frozen_all:
            return None
        return {
            "backbone": self.backbone_name,
            "image_size": self.backbone.image_size,
            "feature_dim": self.backbone.feature_dim,
            "weights_sha256": weights_digest(self.backbone),
        }

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """torchvision weights of ``config["backbone"]`` (or a torchvision-layout file) -> the backbone without its
        classifier (``imagenet`` preset); a file with ``backbone.*`` and ``head.*`` keys -> the whole net."""
        name, image_size = config.get("backbone", "resnet18"), config.get("image_size")
        if str(source) in TORCHVISION_SOURCES:
            state, label = torchvision_state_dict(name)
            return PretrainedWeights(
                label, "torchvision", "imagenet", _backbone_state(state, name, image_size), prefix="backbone.model."
            )
        state, _, notes = read_checkpoint(Path(source))
        if any(key.startswith("backbone.") for key in state) and any(key.startswith("head.") for key in state):
            return PretrainedWeights(str(source), "state_dict", cls.default_normalization, state, notes=notes)
        return PretrainedWeights(
            str(source),
            "torchvision",
            "imagenet",
            _backbone_state(state, name, image_size),
            prefix="backbone.model.",
            notes=notes,
        )

    def pretrained_config(self) -> dict[str, Any]:
        return {"backbone": self.backbone_name, "image_size": self.backbone.image_size}


@register_model("frame_net")
def frame_net(*, num_outputs: int, **kwargs: Any) -> FrameNet:
    """Any torchvision image classifier per frame + a temporal head (:class:`FrameNet`; ``kwargs`` are its
    arguments: ``create_model("frame_net", num_outputs=1, backbone="convnext_tiny", head="gru")``)."""
    return FrameNet(num_outputs=num_outputs, **kwargs)


@register_model("causal_gru")
def causal_gru(*, num_outputs: int, **kwargs: Any) -> FrameNet:
    """A frozen ResNet-18 per frame -> unidirectional GRU -> logits at EVERY frame (:class:`FrameNet` with
    ``head="gru"``; ``kwargs`` override its arguments). Learned with ``riskvision.tasks.CrashAnticipation``."""
    return FrameNet(num_outputs=num_outputs, **{"head": "gru", **kwargs})


def _backbone_state(state: Mapping[str, Tensor], name: str, image_size: int | None) -> dict[str, Tensor]:
    """A torchvision classifier's state dict for :class:`ImageBackbone`: without its final Linear, a ViT's position
    embedding interpolated to ``image_size`` (``torchvision.models.vision_transformer.interpolate_embeddings``)."""
    classifier = _classifier_path(name)
    state = {key: value for key, value in state.items() if key.rpartition(".")[0] != classifier}
    position = state.get("encoder.pos_embedding")
    if image_size is not None and position is not None:
        from torchvision.models.vision_transformer import interpolate_embeddings

        patch = int(state["conv_proj.weight"].shape[-1])
        if position.shape[1] != (int(image_size) // patch) ** 2 + 1:
            state = interpolate_embeddings(int(image_size), patch, state)
    return state
