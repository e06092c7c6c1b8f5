"""Pretrained weights, the generic part: reading checkpoint files safely and loading tensors into a net.

Each net family reads its own sources next to its definition (``ClipNet.read_pretrained`` in
``resnet_bilstm.py`` and ``resnet3d.py``) into a :class:`PretrainedWeights`; :func:`load_weights` puts them
into a built net and says what it did (:class:`PretrainedReport`). The formats (``PretrainedWeights.format``):

- ``torchvision``: torchvision's DEFAULT ImageNet weights via its weights API and cache
  (``$TORCH_HOME/hub/checkpoints``), or a local torchvision ResNet ``.pth`` state dict;
- ``hara-2017``: Hara's 2017-18 release, e.g. ``resnet-101-kinetics.pth`` (``module.`` prefix, no
  ``num_batches_tracked``); ``hara-2020``: the 2020 release, e.g. ``r3d101_K_200ep.pth`` (plain keys);
- ``state_dict``: a bare state dict of the same net class.

Every file is read with ``torch.load(..., weights_only=True)``: a file carrying pickled code is refused
(``UnsafeCheckpointError``) and nothing in it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

from riskvision.checkpoints.reading import UnsafeCheckpointError, load_torch_file
from riskvision.models.base import CLASSIFIER_KEYS, ClipNet, PretrainedWeights

__all__ = [
    "ArchitectureMismatch",
    "PretrainedReport",
    "PretrainedUnavailable",
    "PretrainedWeights",
    "UnsafeCheckpointError",
    "WHERE_TO_GET",
    "load_pretrained",
    "load_weights",
    "read_checkpoint",
    "torchvision_state_dict",
]

MAX_LISTED = 8

WHERE_TO_GET = (
    "torchvision ImageNet ResNet weights are fetched by torchvision into $TORCH_HOME/hub/checkpoints "
    "(default ~/.cache/torch/hub/checkpoints; e.g. resnet18-f37072fd.pth from "
    "https://download.pytorch.org/models/) on a machine with network, or copied there by hand. "
    "Hara's Kinetics 3D-ResNets come from https://github.com/kenshohara/3D-ResNets-PyTorch: "
    "resnet-101-kinetics.pth (2017-18 release, shortcut B, 400 classes; linked from the CVPR2018 "
    "branch README), r3d101_K_200ep.pth (Kinetics-700) and r3d101_KM_200ep.pth (Kinetics-700 + "
    "Moments in Time) (2020 release, linked from the master README). See README.md (Models and pretrained weights)."
)


class PretrainedUnavailable(OSError):
    """The weights cannot be had here: the file does not exist, or torchvision's cache is empty
    and there is no network. The caller chooses between a warning + random init and an error."""


class ArchitectureMismatch(ValueError):
    """The weights do not fit the model outside its classifier (shapes or key sets differ)."""


@dataclass
class PretrainedReport:
    """What loading did. Keys are the model's ``state_dict`` names.

    ``loaded``: keys taken from the source. ``skipped``: source keys not used, with the reason
    (e.g. a classifier for another class count). ``missing``: model keys the source does not
    provide (left at their initialisation). ``normalization``: the input preset the weights expect.
    """

    source: str
    format: str
    normalization: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the run log."""
        skipped = "; ".join(f"{key}: {why}" for key, why in list(self.skipped.items())[:4])
        return (
            f"pretrained={self.source} format={self.format} normalization={self.normalization}: "
            f"{len(self.loaded)} tensors loaded, {len(self.skipped)} skipped"
            f"{f' ({skipped})' if skipped else ''}, {len(self.missing)} left at init"
        )


def load_pretrained(model: nn.Module, source: str | Path | None, *, strict_backbone: bool = True) -> PretrainedReport:
    """Read ``source`` with the model's family loader (``ClipNet.read_pretrained``), load it into ``model``
    in place and report what was loaded.

    Args:
        model: a ``riskvision.models.ClipNet`` (``ResNet3D``, ``ResNetBiLSTM``, ...).
        source: ``None`` (nothing loaded: random init), a name the family knows (``"torchvision"``) or
            a path to a checkpoint (see the module docstring).
        strict_backbone: every tensor outside the classifier must exist on both sides with equal
            shapes (else ``ArchitectureMismatch``). ``False`` loads what fits and reports the rest.

    Raises:
        PretrainedUnavailable: no such file, or torchvision weights neither cached nor downloadable.
        UnsafeCheckpointError: the file carries pickled code.
        ArchitectureMismatch: the weights belong to another architecture.
    """
    if not isinstance(model, ClipNet):
        raise TypeError(f"load_pretrained needs a riskvision.models.ClipNet, not {type(model).__name__}")
    if source is None:
        return PretrainedReport(
            source="none", format="none", normalization=model.default_normalization, missing=list(model.state_dict())
        )
    weights = type(model).read_pretrained(source, model.pretrained_config())
    return load_weights(model, weights, strict_backbone)


def load_weights(model: nn.Module, weights: PretrainedWeights, strict_backbone: bool = True) -> PretrainedReport:
    """Load ``weights`` (read by the model's family) into ``model`` in place; see :func:`load_pretrained`."""
    report = PretrainedReport(weights.source, weights.format, weights.normalization, notes=list(weights.notes))
    return _load_into(model, weights.state, report, strict_backbone, weights.prefix, weights.classifier)


def torchvision_state_dict(arch: str) -> tuple[dict[str, Tensor], str]:
    """The DEFAULT torchvision weights of ``arch`` via the weights API (cache first, then
    download): the state dict and the weights' name (e.g. ``ResNet18_Weights.IMAGENET1K_V1``)."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        state = weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except OSError as error:
        raise PretrainedUnavailable(
            f"torchvision weights {weights} for {arch} are not cached at {cache} and could not be "
            f"downloaded from {weights.url} ({error}). Copy the file to {cache} or run once with "
            f"network. {WHERE_TO_GET}"
        ) from error
    return state, f"torchvision:{weights}"


def read_checkpoint(path: Path) -> tuple[dict[str, Tensor], str, list[str]]:
    """Read a checkpoint safely and map its keys to plain module names.

    Returns ``(state_dict, format, notes)``: a leading ``module.`` (nn.DataParallel) is removed;
    a Hara-style ``{'arch', 'state_dict', ...}`` dict is ``hara-2017`` when its state dict lacks
    ``num_batches_tracked`` (saved by torch <= 0.3) and ``hara-2020`` otherwise; a bare state
    dict is ``state_dict``.
    """
    if not path.is_file():
        raise PretrainedUnavailable(f"pretrained weights file {path} does not exist. {WHERE_TO_GET}")
    obj = load_torch_file(
        path, "Fix: model.pretrained.source=<a torchvision or Hara .pth file>, or null for random init"
    )
    hara = isinstance(obj, Mapping) and "state_dict" in obj and "arch" in obj
    state = obj["state_dict"] if isinstance(obj, Mapping) and "state_dict" in obj else obj
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no state dict (a mapping of names to tensors)")
    notes = [f"read {path} with torch.load(weights_only=True)"]
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
        notes.append("removed the 'module.' prefix (nn.DataParallel)")
    has_counters = any(key.endswith("num_batches_tracked") for key in state)
    fmt = ("hara-2020" if has_counters else "hara-2017") if hara else "state_dict"
    return dict(state), fmt, notes


def _load_into(
    model: nn.Module,
    state: Mapping[str, Tensor],
    report: PretrainedReport,
    strict: bool,
    prefix: str = "",
    classifier_keys: frozenset[str] = CLASSIFIER_KEYS,
) -> PretrainedReport:
    """Load ``state`` (keys relative to ``prefix``) into ``model`` with ``strict=True`` after
    deciding per key; the classifier is skipped when it is absent or has another shape."""
    own = model.state_dict()
    state = {prefix + key: value for key, value in state.items()}
    target = [key for key in own if key.startswith(prefix)]
    counters = [k for k in target if k.endswith("num_batches_tracked") and k not in state]
    if counters:
        report.notes.append(f"{len(counters)} BatchNorm num_batches_tracked counters set to 0")
        state.update({key: torch.zeros_like(own[key]) for key in counters})

    classifier = {prefix + key for key in classifier_keys}
    unexpected = [key for key in state if key not in own and key not in classifier]
    mismatched = {
        key: f"{tuple(value.shape)} in the file, {tuple(own[key].shape)} in the model"
        for key, value in state.items()
        if key in own and value.shape != own[key].shape
    }
    absent = [key for key in target if key not in state and key not in classifier]
    backbone_mismatch = {k: v for k, v in mismatched.items() if k not in classifier}
    if strict and (unexpected or backbone_mismatch or absent):
        message = _mismatch_message(report.source, backbone_mismatch, unexpected, absent)
        raise ArchitectureMismatch(message)

    for key in classifier & state.keys() - own.keys():
        report.skipped[key] = "classifier of the source; the model has none (its fc is removed)"
    for key, shapes in mismatched.items():
        what = "classifier with another class count" if key in classifier else "shape differs"
        report.skipped[key] = f"{what}: {shapes}"
    for key in unexpected:
        report.skipped[key] = "the model has no such tensor"

    usable = {k: v for k, v in state.items() if k in own and k not in report.skipped}
    model.load_state_dict({**own, **usable}, strict=True)
    report.loaded = [key for key in own if key in usable and key not in counters]
    report.missing = [key for key in own if key not in usable]
    return report


def _mismatch_message(source: str, mismatched: dict[str, str], unexpected: list[str], absent: list[str]) -> str:
    parts = [f"{source} does not fit the model outside its classifier"]
    for title, keys in (
        ("shape mismatches", [f"{key}: {shapes}" for key, shapes in mismatched.items()]),
        ("in the file but not in the model", unexpected),
        ("in the model but not in the file", absent),
    ):
        if keys:
            listed = ", ".join(keys[:MAX_LISTED])
            more = f" (+{len(keys) - MAX_LISTED} more)" if len(keys) > MAX_LISTED else ""
            parts.append(f"{len(keys)} {title}: {listed}{more}")
    parts.append(
        "the file holds another architecture (for a ResNet3D check depth / shortcut_type / widen_factor; "
        "for a torchvision video net, its name)"
    )
    return "; ".join(parts)
