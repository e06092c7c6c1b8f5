"""VideoMAE (Tong et al. 2022) and V-JEPA 2 (Assran et al. 2025) video classifiers from a LOCAL transformers folder
(optional extra ``pip install riskvision[hf]``): ``model=videomae`` / ``model=vjepa2``.

A folder is untrusted input, like a checkpoint: it holds ``config.json`` (the architecture), ``*.safetensors`` (the
weights) and ``preprocessor_config.json`` (the input mean/std and size). It is read as JSON and safetensors only:

- a config naming remote code (``auto_map``) is refused: no code from the folder is ever imported, and nothing is
  fetched from a hub (``trust_remote_code`` is never passed; the config class is chosen from ``model_type`` here);
- pickled weights (``*.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``) are refused: only safetensors are read.

:class:`HFVideoNet` holds transformers' ``...ForVideoClassification`` as ``model`` (its keys under ``model.``) built
from the folder's config with ``num_labels=num_outputs``; it takes the batch layout ``[B, T, C, H, W]`` as is
(transformers' video models take ``pixel_values`` in that layout). ``read_pretrained(folder)`` reads the weights and
the preset (``preprocessor_config.json``'s mean/std); a net with fixed position tables (VideoMAE) also fixes
``model.inputs.num_frames`` / ``frame_size`` (the config's ``num_frames`` / ``image_size``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from riskvision.models.base import ClipNet
from riskvision.models.pretrained import PretrainedUnavailable, PretrainedWeights
from riskvision.models.registry import register_model

__all__ = ["HF_FAMILIES", "HFVideoNet", "UnsafeModelFolder", "read_folder_config", "videomae", "vjepa2"]

PREFIX = "model."
PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
#: model_type -> (the transformers classification class, the pixel argument name, the classifier's keys)
HF_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "videomae": ("VideoMAEForVideoClassification", "pixel_values", ("classifier.weight", "classifier.bias")),
    "vjepa2": ("VJEPA2ForVideoClassification", "pixel_values_videos", ("classifier.weight", "classifier.bias")),
}
#: (mean, std) of a preprocessor -> riskvision's preset of the same values (riskvision.data.transforms; a test checks)
PRESETS_BY_MEAN_STD = {
    ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)): "imagenet",
    ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)): "kinetics-mvit",
}
FIX_FOLDER = (
    "Fix: a folder written by transformers' save_pretrained(..., safe_serialization=True): config.json, "
    "*.safetensors, preprocessor_config.json"
)


class UnsafeModelFolder(ValueError):
    """A transformers folder that would run code (remote code, pickled weights) or is not a model folder."""


class HFVideoNet(ClipNet):
    """A transformers video classifier from a local folder: ``video [B, T, C, H, W]`` -> logits ``[B, num_outputs]``.

    Args:
        folder: the local transformers folder (see the module docstring); only its ``config.json`` is read here.
        num_outputs: logits per clip (``task.num_outputs``); transformers' ``num_labels``.
        family: the ``model_type`` the folder must hold (``videomae`` | ``vjepa2``); ``None`` accepts either.
    """

    def __init__(self, folder: str, num_outputs: int, family: str | None = None) -> None:
        super().__init__()
        transformers = _transformers()
        self.folder = str(folder)
        config, self.family = read_folder_config(Path(folder), family)
        config.num_labels = int(num_outputs)
        class_name, self.pixel_argument, _ = HF_FAMILIES[self.family]
        self.model = getattr(transformers, class_name)(config)
        self.min_frames = int(getattr(config, "tubelet_size", 1) or 1)

    def forward(self, video: Tensor) -> Tensor:
        """``video [B, T, C, H, W]`` (normalised) -> logits ``[B, num_outputs]``."""
        if video.shape[1] < self.min_frames:
            raise ValueError(
                f"{self.family} takes clips of at least min_frames={self.min_frames} frames; got "
                f"{video.shape[1]}. Fix: model.inputs.num_frames={self.min_frames} or more"
            )
        return self.model(**{self.pixel_argument: video}).logits

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """The safetensors weights of the folder ``source`` (usually the net's own ``folder``), the preset of its
        preprocessor and, for VideoMAE, its clip shape."""
        folder = Path(source)
        hf_config, family = read_folder_config(folder, config.get("family"))
        model_class = getattr(_transformers(), HF_FAMILIES[family][0])
        # transformers' own reader maps the file's keys to today's module names (e.g. VideoMAE's q_bias); checked
        # folder, safetensors only, no hub, no remote code
        model = model_class.from_pretrained(
            str(folder), config=hf_config, local_files_only=True, use_safetensors=True, trust_remote_code=False
        )
        state = dict(model.state_dict())
        files = sorted(folder.glob("*.safetensors"))
        inputs = {}
        if family == "videomae":  # fixed position tables: its clip shape
            inputs = {"num_frames": int(hf_config.num_frames), "frame_size": int(hf_config.image_size)}
        return PretrainedWeights(
            str(folder),
            f"transformers-{family}",
            _preset(folder),
            state,
            prefix=PREFIX,
            notes=[f"read {', '.join(p.name for p in files)} (safetensors)"],
            classifier=frozenset(HF_FAMILIES[family][2]),
            inputs=inputs,
        )

    def pretrained_config(self) -> dict[str, Any]:
        return {"folder": self.folder, "family": self.family}


def read_folder_config(folder: Path, family: str | None = None) -> tuple[Any, str]:
    """The transformers config of a local ``folder`` and its family, after the safety checks of the module docstring.

    Raises:
        PretrainedUnavailable: no such folder.
        UnsafeModelFolder: no config.json, remote code, pickled weights only, or another model type.
    """
    if not folder.is_dir():
        raise PretrainedUnavailable(f"transformers folder {folder} does not exist. {FIX_FOLDER}")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UnsafeModelFolder(f"{folder} has no config.json. {FIX_FOLDER}")
    values = json.loads(config_file.read_text())
    if "auto_map" in values:
        raise UnsafeModelFolder(
            f"{config_file} names remote code (auto_map: {values['auto_map']}); riskvision never "
            "runs code from a model folder. Fix: a folder of a model transformers itself has "
            f"({', '.join(HF_FAMILIES)})"
        )
    pickled = sorted(p.name for pattern in PICKLED for p in folder.glob(pattern))
    if not any(folder.glob("*.safetensors")):
        found = (
            f"pickled weights ({', '.join(pickled)}), which are refused: loading them can run code"
            if pickled
            else "no weights"
        )
        raise UnsafeModelFolder(f"{folder} holds {found}. {FIX_FOLDER}")
    model_type = values.get("model_type")
    wanted = [family] if family else list(HF_FAMILIES)
    if model_type not in wanted:
        raise UnsafeModelFolder(
            f"{config_file}: model_type={model_type!r}, expected {' or '.join(wanted)}. Fix: "
            f"model.net.folder=<a {' or '.join(wanted)} folder>"
        )
    transformers = _transformers()
    config_class = getattr(transformers, HF_FAMILIES[model_type][0]).config_class
    values.pop("architectures", None)
    return config_class.from_dict(values), model_type


def _preset(folder: Path) -> str:
    """riskvision's preset of the folder's ``preprocessor_config.json`` mean/std."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        raise UnsafeModelFolder(f"{folder} has no preprocessor_config.json (the input mean/std). {FIX_FOLDER}")
    values = json.loads(path.read_text())
    key = (
        tuple(round(float(v), 4) for v in values.get("image_mean", ())),
        tuple(round(float(v), 4) for v in values.get("image_std", ())),
    )
    if key not in PRESETS_BY_MEAN_STD:
        raise UnsafeModelFolder(
            f"{path}: image_mean={list(key[0])} image_std={list(key[1])} match no riskvision "
            "normalisation preset. Fix: add the preset to riskvision.data.transforms."
            "NORMALIZATION_PRESETS and to riskvision.models.hf_video.PRESETS_BY_MEAN_STD"
        )
    return PRESETS_BY_MEAN_STD[key]


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise ImportError("VideoMAE / V-JEPA 2 need the optional extra: pip install 'riskvision[hf]'") from error
    return transformers


@register_model("videomae")
def videomae(*, num_outputs: int, **kwargs: Any) -> HFVideoNet:
    """VideoMAE from a local transformers folder (``folder=...``; :class:`HFVideoNet`)."""
    return HFVideoNet(num_outputs=num_outputs, family="videomae", **kwargs)


@register_model("vjepa2")
def vjepa2(*, num_outputs: int, **kwargs: Any) -> HFVideoNet:
    """V-JEPA 2 from a local transformers folder (``folder=...``; :class:`HFVideoNet`)."""
    return HFVideoNet(num_outputs=num_outputs, family="vjepa2", **kwargs)
