"""``scripts/eval.py``'s sliding scoring of the bilstm at the seed settings (64 frames of 224x224, step 1), in one run:
the backbone once per frame (``settings.per_frame=true``: ``VideoWindowsDataset`` + ``predict_table_per_frame``)
vs the whole net on every window (``per_frame=false``: ``scoring_dataloader`` + ``predict_table``).

    rows = run(threads=2)            # prints a markdown table; every figure is measured in this run

The net is ``conf/model/bilstm.yaml`` with random weights (``benchmarks.inference.seed_overrides``), the data the
synthetic set at ``size`` pixels (resized to 224 by the readers, as eval.py does), with the configured loader
workers. Windows/s of each path (the whole-net path on its first ``batches`` batches only: about 0.3 windows/s
here), their ratio, and the max |P(crash)| difference on the windows both scored.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from benchmarks.inference import CONF, seed_overrides
from riskvision.data.sources.synthetic import ensure_synthetic
from riskvision.evaluation.predict import predict_table, predict_table_per_frame

__all__ = ["run"]

FULL = {"videos": 4, "seconds": 8, "size": (320, 192), "batches": 1, "extra": {}}
QUICK = {
    "videos": 2,
    "seconds": 2,
    "size": (48, 32),
    "batches": 1,
    "extra": {"model.inputs.frame_size": 32, "model.inputs.num_frames": 8, "model.net.hidden_size": 8},
}


def _build(folder: Path, sizes: dict):
    """(module, datamodule after setup, the split eval.py scores: test)."""
    width, height = sizes["size"]
    synthetic = {
        "num_crash": sizes["videos"],
        "num_normal": sizes["videos"],
        "width": width,
        "height": height,
        "crash_seconds": [sizes["seconds"], sizes["seconds"]],
        "normal_seconds": [sizes["seconds"], sizes["seconds"]],
    }
    ensure_synthetic(folder / "synthetic", seed=0, **synthetic)
    data = [
        f"data.synthetic.root={folder / 'synthetic'}",
        "data.synthetic.seed=0",
        *[f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in synthetic.items()],
    ]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train.yaml", overrides=seed_overrides("bilstm", sizes["extra"]) + data)
    finally:
        GlobalHydra.instance().clear()
    torch.manual_seed(0)
    module = hydra.utils.instantiate(cfg.model).eval()
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    return module, datamodule, "test"


def run(quick: bool = False, threads: int = 2) -> list[tuple]:
    """Both paths on the same windows; prints the table and returns its rows."""
    sizes = QUICK if quick else FULL
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        module, datamodule, split = _build(Path(tmp), sizes)
        num_frames = int(module.hparams["inputs"]["num_frames"])
        task = module.task
        begin = time.perf_counter()
        fast = predict_table_per_frame(
            module.net, datamodule.video_scoring_dataloader(split, num_frames), task, datamodule.normalizer
        )
        fast_s = time.perf_counter() - begin
        loader = datamodule.scoring_dataloader(split, num_frames)
        begin = time.perf_counter()
        slow = predict_table(module, itertools.islice(loader, sizes["batches"]), task)
        slow_s = time.perf_counter() - begin
    fast_wps, slow_wps = len(fast) / fast_s, len(slow) / slow_s
    diff = float(np.abs(fast["prob_crash"].to_numpy()[: len(slow)] - slow["prob_crash"].to_numpy()).max())
    frames = f"{num_frames}-frame windows of {datamodule.frame_size[0]}x{datamodule.frame_size[1]}, step 1"
    rows = [
        (
            f"eval.py sliding, backbone once per frame ({frames}; {len(fast)} windows of "
            f"{fast['video_id'].nunique()} videos)",
            fast_wps,
            f"**{fast_wps / slow_wps:.1f}x** the whole net per window (target >= 20x)",
            f"max abs dP vs whole net {diff:.1e} on the {len(slow)} windows both scored",
        ),
        (
            f"eval.py sliding, whole net on every window ({len(slow)} windows)",
            slow_wps,
            "1.0x",
            f"loader workers {datamodule.num_workers}",
        ),
    ]
    print(f"\nSUMMARY ({threads} threads; windows/s; every figure measured in this run)")
    print("\n| measurement | windows/s | result | notes |\n|---|---:|---|---|")
    for name, speed, result, notes in rows:
        print(f"| {name} | {speed:.2f} | {result} | {notes} |")
    return rows
