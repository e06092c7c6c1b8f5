"""Running trained models on video: a checkpoint rebuilt (:class:`Predictor`), windows scored with per-frame
reuse (:mod:`.scoring`), per-frame tables, timelines and overlays (:mod:`.outputs`), whole files
(:func:`predict_videos`), and live streams (:class:`.stream.StreamEngine`: frames pushed with their timestamps,
results in constant memory). Data flows ``frames -> inference -> outputs``.
"""

from riskvision.inference.predictor import Predictor
from riskvision.inference.stream import StreamEngine, StreamResult
from riskvision.inference.videos import PredictReport, predict_videos

__all__ = ["PredictReport", "Predictor", "StreamEngine", "StreamResult", "predict_videos"]
