"""Scoring a decoded video: the window ending at every ``step``-th target-rate frame.

Exactly ``scripts/eval.py``'s ``sliding`` mode: for every ``step``-th target-rate frame ``t`` (``0, step,
2*step, ...``), the window of ``num_frames`` CONSECUTIVE target-rate frames ending at ``t``
(``riskvision.data.sampling.WindowSampler``, the sampler ``RiskDataModule.scoring_dataloader`` uses); a
window that would start before frame 0 repeats frame 0, so the first frames get a score too. NOTE for the
bilstm: its training sampler is ``uniform`` (``num_frames`` frames spread over the WHOLE clip, e.g. 64
frames over a 5-10 s DoTA clip), while here it sees ``num_frames`` consecutive frames at the target rate
(64 frames = 6.4 s at 10 fps): its per-frame scores answer "is a crash happening in the last
num_frames/target_fps seconds" under a different temporal spacing than it was trained on; compare them with
eval.py's sliding predictions, not with its clip-level test metrics.

A ``FrameFeatureNet`` (the ResNet-BiLSTM: a per-frame ResNet, then an LSTM over the window) runs its
per-frame part once per frame and the sequence part once per window (``Predictor.cache_features``): the
same numbers as the full forward on every window (the backbone is per-frame and in eval mode),
``num_frames`` times less backbone work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from riskvision.data.sampling import WindowSampler
from riskvision.data.transforms import Normalize
from riskvision.inference.predictor import Predictor

__all__ = ["score_windows"]


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@torch.no_grad()
def score_windows(predictor: Predictor, frames: torch.Tensor, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Score the window ending at every ``step``-th frame of ``frames`` (uint8 ``[N, 3, H, W]``).

    Returns ``(ends, values)``: target-rate end frames ``[W]`` and the values of the task's probability
    columns (``Task.column_values``: ``[W]`` P(crash) for binary, ``[W, K]`` for K classes).
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    sampler = WindowSampler(predictor.num_frames, eval_step=int(step))
    n = len(frames)
    ends = list(sampler.eval_anchors(n))
    windows = torch.tensor([sampler.frames(n, end) for end in ends], dtype=torch.long)  # [W, T]
    normalize = Normalize(predictor.normalization)
    module, device = predictor.module.eval(), predictor.device
    out = []
    if predictor.cache_features:
        net = module.net
        chunk = predictor.batch_size * predictor.num_frames  # as many frames as one batch of windows
        needed = torch.unique(windows)  # the frames some window uses (all of them unless step > num_frames)
        position = torch.zeros(n, dtype=torch.long)
        position[needed] = torch.arange(len(needed))
        features = torch.cat([net.forward_features(normalize(frames[needed[a:a + chunk]]).to(device)[None])[0]
                              for a in range(0, len(needed), chunk)])  # [F, D]: the backbone once per frame
        for batch in _batches(windows, predictor.batch_size):
            out.append(predictor.task.table_values(net.forward_sequence(features[position[batch].to(device)])))
    else:
        for batch in _batches(windows, predictor.batch_size):
            out.append(predictor.task.table_values(module(normalize(frames[batch]).to(device))))
    return np.asarray(ends, dtype=np.int64), np.concatenate(out)
