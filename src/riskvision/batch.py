"""The batch: every key, its dtype and its shape, defined once for the whole project.

The data layer produces it (``riskvision.data.dataset.ClipDataset`` makes one item per clip; the
DataLoader's default collate stacks items into a batch); everything above it (the module, evaluation,
inference) reads it. Shapes are of a collated batch of ``B`` clips of ``T`` frames; every frame index is
a TARGET-rate index (docs/architecture.md, "Frame-rate convention"), so a time in seconds is
``index / fps``. A net that wants another layout than ``[B, T, C, H, W]`` permutes at its own entrance.

No torch here (dtypes are named as strings), so the numpy/pandas evaluation modules can import the
schema without pulling in torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FEATURES",
    "FIELDS",
    "LABEL_KEYS",
    "METADATA_KEYS",
    "REPLACED",
    "VIDEO",
    "Field",
    "field",
    "without_replaced",
]


@dataclass(frozen=True)
class Field:
    """One batch key: ``dtype`` (``float32``, ``int64``, ``bool`` or ``str``), ``shape`` of the collated
    batch (a string: ``[B]``, ``[B, T, C, H, W]``; ``list[B]`` for strings) and what it holds."""

    key: str
    dtype: str
    shape: str
    meaning: str


FIELDS: tuple[Field, ...] = (
    Field(
        "video", "float32", "[B, T, C, H, W]", "normalised clip (preset imagenet, kinetics or activitynet), C = 3 RGB"
    ),
    Field(
        "features",
        "float32",
        "[B, T, D]",
        "per-frame features of a frozen backbone read from the feature cache "
        "(riskvision.data.feature_cache), in place of video when model.feature_cache.enabled=true",
    ),
    Field("crash", "int64", "[B]", "0/1 crash label from the LabelPolicy"),
    Field("risk", "int64", "[B]", "0 Normal / 1 Warning / 2 Danger of the window's last frame"),
    Field("video_id", "str", "list[B]", "clip id"),
    Field("source", "str", "list[B]", "the record source's label: dota / bdd (synthetic trees use the same names)"),
    Field("end_frame", "int64", "[B]", "target-rate index of the window's last frame"),
    Field("category", "str", "list[B]", "accident category (lateral, ...; normal for videos without anomaly)"),
    Field("ego", "bool", "[B]", "ego vehicle involved"),
    Field("night", "bool", "[B]", "night video"),
    Field("fps", "float32", "[B]", "target frame rate, frames per second"),
    Field("num_frames", "int64", "[B]", "video length in target-rate frames"),
    Field("anomaly_start", "int64", "[B]", "first target-rate frame of the anomaly, -1 when there is none"),
    Field("anomaly_end", "int64", "[B]", "target-rate frame after the anomaly (exclusive), -1 when there is none"),
    Field(
        "substituted",
        "int64",
        "[B]",
        "frames of the clip that were unreadable and replaced by the nearest "
        "readable frame (log the sum per epoch; works with any num_workers)",
    ),
    Field(
        "replaced",
        "bool",
        "[B]",
        "the sample stands in for a clip whose video is unreadable: it is the first clip "
        "of the next readable video (a real clip, labels and metadata its own). Training learns from it; "
        "validation, test and evaluation drop it (without_replaced), so no evaluated number counts a clip twice",
    ),
)

#: The clip tensor's key.
VIDEO = "video"
#: The key of cached per-frame features (in place of ``video``).
FEATURES = "features"
#: The key flagging stand-in samples (see :func:`without_replaced`).
REPLACED = "replaced"
#: The label keys a task can learn (``tasks.BinaryCrash`` reads ``crash``, ``tasks.RiskLevels`` ``risk``).
LABEL_KEYS = ("crash", "risk")
#: Keys besides ``video`` (or ``features``), ``substituted`` and ``replaced``: the clip's labels and the
#: metadata that evaluation keeps per window (the columns of its predictions table, in this order).
METADATA_KEYS = (
    "video_id",
    "source",
    "category",
    "ego",
    "night",
    "end_frame",
    "fps",
    "num_frames",
    "anomaly_start",
    "anomaly_end",
    "crash",
    "risk",
)


def field(key: str) -> Field:
    """The :class:`Field` of ``key``; a ``KeyError`` listing the keys for an unknown one."""
    for entry in FIELDS:
        if entry.key == key:
            return entry
    raise KeyError(f"{key!r} is not a batch key; the batch holds {[f.key for f in FIELDS]}")


def without_replaced(batch: Mapping[str, Any]) -> dict[str, Any]:
    """``batch`` without its samples flagged ``replaced`` (every key cut alike: tensors ``[B, ...]`` ->
    ``[B', ...]``, string lists ``list[B]`` -> ``list[B']``); a batch with no ``replaced`` key (one made by
    hand) is kept whole. ``B'`` may be 0.

    The rule of the project: what is evaluated (validation and test metrics and loss, predictions tables)
    counts each clip once, so it ignores the stand-ins of dropped clips; training keeps them.
    """
    flags = batch.get(REPLACED)
    if flags is None or not flags.any():
        return dict(batch)
    keep = ~flags
    rows = keep.tolist()
    return {
        key: [v for v, k in zip(value, rows) if k] if isinstance(value, list) else value[keep]
        for key, value in batch.items()
    }
