"""Test helpers shared by test folders: a checkpoint in the format train.py writes, and a small test video.

The checkpoints are built in-process from the composed training config (tiny nets, random weights, an
optional non-default tuned threshold; ``benchmarks.inference.make_checkpoint``): the resolved run
config under ``riskvision_cfg``, ``state_dict`` and ``hyper_parameters``. No training: readers of a checkpoint
only use these keys.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from benchmarks.inference import make_checkpoint as benchmark_checkpoint

BILSTM = ["model=bilstm", "model.inputs.frame_size=32", "model.inputs.num_frames=4", "model.net.hidden_size=8"]
R3D101 = ["model=resnet3d101", "model.inputs.frame_size=32", "model.net.widen_factor=0.125"]


class ScoreNet(torch.nn.Sequential):
    """Flatten -> Linear(in_features, num_outputs), a stand-in net for module tests (``_target_:
    tests.checkpoint_fakes.ScoreNet``): with weight 1 and bias 0, a clip ``[B, 1, 1, 1, 1]``'s logit is its single
    value. Built like every net, with the task's ``num_outputs``."""

    def __init__(self, num_outputs: int, in_features: int = 1) -> None:
        super().__init__(torch.nn.Flatten(), torch.nn.Linear(in_features, num_outputs))


def write_video(path: Path, seconds: float, fps: int, width: int, height: int, gop: int = 12) -> Path:
    """An H.264 MP4 of a bright rectangle moving right over a dark gradient (an ordinary GOP, not all-intra)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(gop), "preset": "ultrafast", "crf": "18"}
        background = np.linspace(20, 90, width, dtype=np.uint8)[None, :, None].repeat(height, 0).repeat(3, 2)
        for i in range(round(seconds * fps)):
            frame = background.copy()
            x = int(i * (width - 16) / max(1, seconds * fps - 1))
            frame[height // 3 : height // 3 + 12, x : x + 16] = (230, 200, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_checkpoint(
    folder: Path, overrides: list[str], threshold: Callable[[torch.nn.Module], float] | None = None
) -> Path:
    """A checkpoint as train.py writes it, for the composed train config with ``overrides`` (random weights);
    ``threshold(module)`` gives the binary "tuned" threshold (the default buffer is 0.5)."""
    return benchmark_checkpoint(folder, overrides, threshold, name="tiny.ckpt")
