"""torchvision's Kinetics video classifiers as ClipNets, under torchvision's own names: ``r3d_18``, ``mc3_18``,
``r2plus1d_18`` (Tran et al. 2018), ``s3d`` (Xie et al. 2018), ``mvit_v1_b``, ``mvit_v2_s`` (Fan et al. 2021, Li et al.
2022; ``mvit_v2_s`` with Kinetics-400 weights, 16 frames of 224x224 at stride 4 from 30 fps video, won the 2025 Nexar
collision-prediction challenge), ``swin3d_t``, ``swin3d_s``, ``swin3d_b`` (Liu et al. 2022).

:class:`TorchvisionVideoNet` holds torchvision's model unchanged as ``model`` (built by torchvision's builder with
``num_classes=num_outputs``, so its state dict is torchvision's under the prefix ``model.``) and permutes the batch
layout ``[B, T, C, H, W]`` to torchvision's ``[B, C, T, H, W]`` at its entrance.

Pretrained weights (:meth:`TorchvisionVideoNet.read_pretrained`), never downloaded:

- ``"torchvision"`` (the architecture's DEFAULT weights enum, Kinetics-400) or ``"torchvision:<Enum>.<MEMBER>"``
  (e.g. ``torchvision:Swin3D_B_Weights.KINETICS400_IMAGENET22K_V1``): the file torchvision's cache would hold,
  ``$TORCH_HOME/hub/checkpoints/<the enum's url file name>``;
- a path: a state dict saved from torchvision's builder (or from this net: ``model.*`` keys).

The weights' transforms decide the input preset (their mean/std, :data:`VIDEO_RECIPES`); a net built for one clip
shape (MViT: 16 frames of 224x224) also fixes ``model.inputs.num_frames`` / ``frame_size``. torchvision resizes the
short side (128 or 256) and centre-crops (112 or 224); riskvision's reader resizes whole frames to the frame size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor

from riskvision.models.base import ClipNet
from riskvision.models.pretrained import (
    PretrainedUnavailable,
    PretrainedWeights,
    read_checkpoint,
)
from riskvision.models.registry import register_model

__all__ = [
    "VIDEO_RECIPES",
    "TorchvisionVideoNet",
    "VideoRecipe",
    "mc3_18",
    "mvit_v1_b",
    "mvit_v2_s",
    "r2plus1d_18",
    "r3d_18",
    "s3d",
    "swin3d_b",
    "swin3d_s",
    "swin3d_t",
]

PREFIX = "model."
TORCHVISION = "torchvision"


@dataclass(frozen=True)
class VideoRecipe:
    """What one architecture and its torchvision Kinetics-400 weights take (``tests/models/test_torchvision_video.py``
    checks every field against torchvision's weights meta and transforms).

    ``clip_len``: frames per clip the weights were evaluated with (the meta's ``clip_len``); ``min_frames``: the
    shortest clip the architecture runs (``min_temporal_size``); ``fixed_shape``: it runs ``clip_len`` frames of
    ``crop x crop`` only (MViT: its positional tables are sized at build time); ``crop``: the transforms' crop;
    ``normalization``: the riskvision preset with the transforms' mean/std; ``classifier``: the head's keys.
    """

    clip_len: int
    min_frames: int
    crop: int
    normalization: str
    classifier: tuple[str, str]
    fixed_shape: bool = False


_RESNET = dict(crop=112, normalization="kinetics-torchvision", classifier=("fc.weight", "fc.bias"))
_MVIT = dict(
    clip_len=16,
    min_frames=16,
    crop=224,
    normalization="kinetics-mvit",
    classifier=("head.1.weight", "head.1.bias"),
    fixed_shape=True,
)
_SWIN = dict(clip_len=32, min_frames=1, crop=224, normalization="imagenet", classifier=("head.weight", "head.bias"))

#: torchvision name -> its recipe.
VIDEO_RECIPES: dict[str, VideoRecipe] = {
    "r3d_18": VideoRecipe(clip_len=16, min_frames=1, **_RESNET),
    "mc3_18": VideoRecipe(clip_len=16, min_frames=1, **_RESNET),
    "r2plus1d_18": VideoRecipe(clip_len=16, min_frames=1, **_RESNET),
    "s3d": VideoRecipe(
        clip_len=128,
        min_frames=14,
        crop=224,
        normalization="kinetics-torchvision",
        classifier=("classifier.1.weight", "classifier.1.bias"),
    ),
    "mvit_v1_b": VideoRecipe(**_MVIT),
    "mvit_v2_s": VideoRecipe(**_MVIT),
    "swin3d_t": VideoRecipe(**_SWIN),
    "swin3d_s": VideoRecipe(**_SWIN),
    "swin3d_b": VideoRecipe(**_SWIN),
}


class TorchvisionVideoNet(ClipNet):
    """A torchvision video classifier: ``video [B, T, C, H, W]`` (normalised) -> logits ``[B, num_outputs]``.

    Args:
        arch: a torchvision video model name (:data:`VIDEO_RECIPES`).
        num_outputs: logits per clip (``task.num_outputs``); torchvision's ``num_classes``.
        kwargs: more arguments of torchvision's builder (e.g. ``dropout`` of the swin3d/MViT heads,
            ``stochastic_depth_prob``).

    ``min_frames``: the shortest clip the architecture runs (MViT: exactly 16 frames of 224x224).
    """

    def __init__(self, arch: str, num_outputs: int, **kwargs: Any) -> None:
        super().__init__()
        self.arch = arch
        self.recipe = _recipe(arch)
        self.min_frames = self.recipe.min_frames
        self.default_normalization = self.recipe.normalization
        self.model = torchvision.models.get_model_builder(arch)(weights=None, num_classes=num_outputs, **kwargs)

    def forward(self, video: Tensor) -> Tensor:
        """``video [B, T, C, H, W]`` -> logits ``[B, num_outputs]`` (torchvision's model on ``[B, C, T, H, W]``)."""
        t, (h, w) = video.shape[1], video.shape[-2:]
        if t < self.min_frames or (self.recipe.fixed_shape and (t, h, w) != self._fixed_shape()):
            wanted = (
                f"exactly {self.recipe.clip_len} frames of {self.recipe.crop}x{self.recipe.crop}"
                if self.recipe.fixed_shape
                else f"at least min_frames={self.min_frames} frames"
            )
            fix = (
                f"model.inputs.num_frames={self.recipe.clip_len} model.inputs.frame_size={self.recipe.crop}"
                if self.recipe.fixed_shape
                else f"model.inputs.num_frames={self.min_frames} or more"
            )
            raise ValueError(f"{self.arch} takes clips of {wanted}; got {t} frames of {h}x{w}. Fix: {fix}")
        return self.model(video.permute(0, 2, 1, 3, 4))

    def _fixed_shape(self) -> tuple[int, int, int]:
        return self.recipe.clip_len, self.recipe.crop, self.recipe.crop

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """torchvision's Kinetics weights of ``config["arch"]`` from its cache, or a state dict file (see the module
        docstring), with the input preset (and, for MViT, the clip shape) they were made for.

        Raises:
            PretrainedUnavailable: not in torchvision's cache / no such file (nothing is downloaded).
        """
        arch = str(config["arch"])
        recipe = _recipe(arch)
        if str(source) == TORCHVISION or str(source).startswith(f"{TORCHVISION}:"):
            weights = _weights_enum(arch, str(source))
            path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
            if not path.is_file():
                raise PretrainedUnavailable(
                    f"torchvision weights {weights} for {arch} are not in torchvision's cache: {path} does not exist; "
                    f"riskvision never downloads. Fix: copy {weights.url} to {path} (or set TORCH_HOME), or "
                    "model.pretrained.source=<a local .pth of those weights>"
                )
            name = f"torchvision:{weights}"
        else:
            path, name = Path(source), str(source)
        state, _, notes = read_checkpoint(path)
        whole = any(key.startswith(PREFIX) for key in state)  # saved from this net, not from torchvision's builder
        prefix = "" if whole else PREFIX
        classifier = frozenset(PREFIX + key if whole else key for key in recipe.classifier)
        inputs = {"num_frames": recipe.clip_len, "frame_size": recipe.crop} if recipe.fixed_shape else {}
        return PretrainedWeights(
            name,
            TORCHVISION,
            recipe.normalization,
            state,
            prefix=prefix,
            notes=notes,
            classifier=classifier,
            inputs=inputs,
        )

    def pretrained_config(self) -> dict[str, Any]:
        return {"arch": self.arch}


def _recipe(arch: str) -> VideoRecipe:
    if arch not in VIDEO_RECIPES:
        raise ValueError(f"TorchvisionVideoNet arch={arch!r} is not one of {list(VIDEO_RECIPES)}")
    return VIDEO_RECIPES[arch]


def _weights_enum(arch: str, source: str) -> torchvision.models.WeightsEnum:
    """``"torchvision"`` -> the DEFAULT weights of ``arch``; ``"torchvision:<Enum>.<MEMBER>"`` -> that member, which
    must belong to ``arch``."""
    options = torchvision.models.get_model_weights(arch)
    if source == TORCHVISION:
        return options.DEFAULT
    name = source.split(":", 1)[1]
    members = [f"{options.__name__}.{member.name}" for member in options]
    if name not in members:
        raise ValueError(
            f"model.pretrained.source={source!r} names no weights of {arch}. Fix: one of "
            f"{', '.join(f'torchvision:{member}' for member in members)}, or torchvision (the default)"
        )
    return torchvision.models.get_weight(name)


def _builder(arch: str) -> Any:
    """The registered builder of ``arch``: ``builder(*, num_outputs, **kwargs) -> TorchvisionVideoNet``."""

    def build(*, num_outputs: int, **kwargs: Any) -> TorchvisionVideoNet:
        return TorchvisionVideoNet(arch, num_outputs=num_outputs, **kwargs)

    build.__name__ = build.__qualname__ = arch
    build.__doc__ = f"torchvision's ``{arch}`` as a ClipNet (:class:`TorchvisionVideoNet`)."
    build.__annotations__["return"] = TorchvisionVideoNet
    return register_model(arch)(build)


r3d_18 = _builder("r3d_18")
mc3_18 = _builder("mc3_18")
r2plus1d_18 = _builder("r2plus1d_18")
s3d = _builder("s3d")
mvit_v1_b = _builder("mvit_v1_b")
mvit_v2_s = _builder("mvit_v2_s")
swin3d_t = _builder("swin3d_t")
swin3d_s = _builder("swin3d_s")
swin3d_b = _builder("swin3d_b")
