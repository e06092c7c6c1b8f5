"""Test helpers shared by test folders: a checkpoint in the format train.py writes, and a small test video.

The checkpoints are built in-process from the composed training config (tiny nets, random weights, an
optional non-default tuned threshold): the resolved run config under ``riskvision_cfg``, ``state_dict`` and
``hyper_parameters``. No training: readers of a checkpoint only use these keys.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from riskvision.utils import CONFIG_KEY

ROOT = Path(__file__).resolve().parents[1]
BILSTM = ["model=bilstm", "model.inputs.frame_size=32", "model.inputs.num_frames=4", "model.net.hidden_size=8"]
R3D101 = ["model=resnet3d101", "model.inputs.frame_size=32", "model.net.widen_factor=0.125"]


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
            frame[height // 3: height // 3 + 12, x: x + 16] = (230, 200, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_checkpoint(folder: Path, overrides: list[str],
                    threshold: Callable[[torch.nn.Module], float] | None = None) -> Path:
    """A checkpoint as train.py writes it, for the composed train config with ``overrides`` (random weights);
    ``threshold(module)`` gives the binary "tuned" threshold (the default buffer is 0.5)."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("train.yaml", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(folder)
            cfg.hydra.job.num = 0
            cfg.paths.root_dir, cfg.paths.log_dir, cfg.paths.data_dir = str(ROOT), str(folder), str(folder / "data")
        HydraConfig().set_config(cfg)
        torch.manual_seed(0)
        module = hydra.utils.instantiate(cfg.model)
        if threshold is not None:
            module.threshold.fill_(threshold(module))
        with open_dict(cfg):
            del cfg["hydra"]
        stored = OmegaConf.to_container(cfg, resolve=True)
    finally:
        GlobalHydra.instance().clear()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), CONFIG_KEY: stored}, path)
    return path
