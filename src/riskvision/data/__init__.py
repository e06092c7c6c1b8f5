"""The data layer: files -> records -> clip indices -> frames -> batch dicts.

Import the datamodule from :mod:`riskvision.data.datamodule` (it pulls in Lightning).
"""

from riskvision.data.labels import LabelPolicy
from riskvision.data.records import DataIssue, DataWarning, VideoRecord
from riskvision.data.sampling import ClipSampler, UniformSampler, WindowSampler
from riskvision.data.timebase import TargetVideo, to_target

__all__ = [
    "ClipSampler",
    "DataIssue",
    "DataWarning",
    "LabelPolicy",
    "TargetVideo",
    "UniformSampler",
    "VideoRecord",
    "WindowSampler",
    "to_target",
]
