"""Running trained models on video: a checkpoint rebuilt (:class:`Predictor`), frame sources (:mod:`.sources`:
files, frame folders, cameras, URLs, pipes), the streaming engine (:class:`.stream.StreamEngine`: frames pushed
with their timestamps, results in constant memory), results files, timelines and overlays written as frames are
scored (:mod:`.outputs`), whole runs over many sources (:func:`predict_videos`, its settings the typed configs of
:mod:`.config`), ONNX export (:mod:`.export`).
Data flows ``frames -> inference -> outputs``.
"""

from riskvision.inference.config import AlarmConfig, InputConfig, OutputConfig, RunCommand, RuntimeConfig
from riskvision.inference.predictor import Predictor
from riskvision.inference.stream import StreamEngine, StreamResult
from riskvision.inference.videos import PredictReport, predict_videos

__all__ = [
    "AlarmConfig",
    "InputConfig",
    "OutputConfig",
    "PredictReport",
    "Predictor",
    "RunCommand",
    "RuntimeConfig",
    "StreamEngine",
    "StreamResult",
    "predict_videos",
]
