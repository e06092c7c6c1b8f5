"""The contract every net of riskvision fulfils: :class:`ClipNet`, and :class:`FrameFeatureNet` for nets
whose per-frame work can be reused across overlapping windows.

A ClipNet maps a normalised float clip ``video [B, T, C, H, W]`` (the batch layout, ``riskvision.batch``) to
logits ``[B, K]``; a net that wants another layout permutes at its own entrance. It declares

- ``min_frames``: the shortest clip it can model (class attribute, or set per instance in ``__init__``);
- ``default_normalization``: the input preset (``riskvision.data.transforms.NORMALIZATION_PRESETS``) it
  expects when no pretrained weights say otherwise;
- its family's pretrained weights, next to the family: :meth:`ClipNet.read_pretrained` reads a source
  BEFORE any net is built (so the preset the weights imply is known first) and
  ``riskvision.models.pretrained.load_weights`` puts the tensors into a built net.

Adding a model is one file with a ClipNet subclass plus one ``conf/model/*.yaml``.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = ["CLASSIFIER_KEYS", "ClipNet", "FrameFeatureNet", "PretrainedWeights", "weights_digest"]

#: a torchvision ResNet's classifier keys: the default of :attr:`PretrainedWeights.classifier`
CLASSIFIER_KEYS = frozenset({"fc.weight", "fc.bias"})


@dataclass
class PretrainedWeights:
    """A pretrained source, read (before any net is built).

    ``state``: its tensors, keyed relative to ``prefix`` (the part of the net they go into, e.g.
    ``backbone.``). ``normalization``: the input preset the weights expect. ``source``: what to call them
    in logs (a path, or torchvision's weights name). ``classifier``: the keys of the head (dropped when its width
    differs); ``inputs``: other input settings the weights fix (a fixed-size net's clip length and frame size).
    """

    source: str
    format: str
    normalization: str
    state: dict[str, Tensor]
    prefix: str = ""
    notes: list[str] = field(default_factory=list)
    #: the classifier's keys (relative to ``prefix``): skipped when the model's head has another width
    classifier: frozenset[str] = CLASSIFIER_KEYS
    #: more of ``model.inputs`` the weights fix (``num_frames``, ``frame_size``), set like ``normalization``
    inputs: dict[str, int] = field(default_factory=dict)


class ClipNet(nn.Module):
    """``video [B, T, C, H, W]`` (normalised float) -> logits ``[B, K]`` (see the module docstring)."""

    min_frames: int = 1
    default_normalization: ClassVar[str] = "imagenet"

    @abstractmethod
    def forward(self, video: Tensor) -> Tensor:
        """``video [B, T, C, H, W]`` -> logits ``[B, K]``."""

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """Read the pretrained ``source`` for a net of this family built with ``config`` (its constructor
        arguments), without building one: the tensors, where they go, their format and the input preset
        they expect. A family without public weights keeps this default, which refuses.

        Raises:
            riskvision.models.PretrainedUnavailable: the weights cannot be had here (no such file, no cache).
        """
        raise ValueError(
            f"{cls.__name__} has no pretrained-weights loader (source={str(source)!r}); "
            "set model.pretrained.source=null to start from random initialisation"
        )

    def pretrained_config(self) -> dict[str, Any]:
        """The constructor arguments :meth:`read_pretrained` needs to read weights for this instance."""
        return {}


class FrameFeatureNet(ClipNet):
    """A ClipNet that runs a per-frame network, then a sequence model over the frames' features:
    ``forward(video) == forward_sequence(forward_features(video))``. Inference runs the per-frame part once
    per frame and reuses its features in every window that holds the frame."""

    @abstractmethod
    def forward_features(self, video: Tensor) -> Tensor:
        """Per-frame features: ``video [B, T, C, H, W]`` -> ``[B, T, D]``."""

    @abstractmethod
    def forward_sequence(self, features: Tensor) -> Tensor:
        """Logits ``[B, K]`` from (possibly cached) per-frame features ``[B, T, D]``."""

    def forward(self, video: Tensor) -> Tensor:
        """``video [B, T, C, H, W]`` -> logits ``[B, K]``."""
        return self.forward_sequence(self.forward_features(video))

    def feature_identity(self) -> dict[str, Any] | None:
        """What the per-frame features depend on when training cannot change them (a frozen per-frame network):
        a name and a digest of its weights (``weights_sha256``), the key of a feature cache; ``None`` (this
        default) when the features train."""
        return None


def weights_digest(module: nn.Module) -> str:
    """SHA-256 (hex) of a module's state: every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        value = value.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
