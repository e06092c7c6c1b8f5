"""Running trained models on video: a checkpoint rebuilt (:class:`Predictor`), windows scored with per-frame
reuse (:mod:`.scoring`), per-frame tables, timelines and overlays (:mod:`.outputs`), whole files
(:func:`predict_videos`). Data flows ``frames -> inference -> outputs``.
"""

from riskvision.inference.predictor import Predictor
from riskvision.inference.videos import PredictReport, predict_videos

__all__ = ["PredictReport", "Predictor", "predict_videos"]
