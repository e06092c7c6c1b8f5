"""The offline reference the streaming engine and riskvision-predict are tested against: a video decoded whole onto
the target rate (``timebase.to_target`` + ``VideoFileReader``, the training readers), then the window ending at
every ``step``-th target frame scored with the whole net, or with a ``FrameFeatureNet``'s backbone once per frame
(``Predictor.cache_features``). It shares no code with ``inference.stream``; ``scripts/eval.py``'s per-frame
scoring is checked against the stream in tests/evaluation/test_eval_script.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from riskvision.data.readers import VideoFileReader, probe_video
from riskvision.data.records import VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import to_target
from riskvision.data.transforms import Normalize
from riskvision.inference.predictor import Predictor


def decode_video(path: Path, size: tuple[int, int], target_fps: float) -> torch.Tensor:
    """Every target-rate frame of ``path``, resized to ``size`` (H, W): uint8 ``[N, 3, H, W]``."""
    native_fps, num_frames = probe_video(path)
    record = VideoRecord(
        video_id=path.stem, source="user", path=path, kind="video", native_fps=native_fps, num_frames=num_frames
    )
    target = to_target(record, target_fps)
    return VideoFileReader(size).read(record, target.native_indices(list(range(target.num_frames)))).frames


@torch.no_grad()
def score_windows(predictor: Predictor, frames: torch.Tensor, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(ends [W], values)`` of the window ending at every ``step``-th frame of ``frames`` (uint8 ``[N, 3, H, W]``):
    the task's probability columns (``[W]`` binary, ``[W, K]`` for K classes)."""
    sampler = WindowSampler(predictor.num_frames, eval_step=step)
    n = len(frames)
    ends = list(sampler.eval_anchors(n))
    windows = torch.tensor([sampler.frames(n, end) for end in ends], dtype=torch.long)  # [W, T]
    normalize = Normalize(predictor.normalization)
    module, device, size = predictor.module.eval(), predictor.device, predictor.batch_size
    batches = [windows[a : a + size] for a in range(0, len(windows), size)]
    if predictor.cache_features:
        features = module.net.forward_features(normalize(frames).to(device)[None])[0]  # [N, D]
        out = [
            predictor.task.table_values(module.net.forward_sequence(features[batch.to(device)])) for batch in batches
        ]
    else:
        out = [predictor.task.table_values(module(normalize(frames[batch]).to(device))) for batch in batches]
    return np.asarray(ends, dtype=np.int64), np.concatenate(out)
