"""Export a trained checkpoint for onnxruntime (``riskvision.inference.export``).

    python scripts/export.py ckpt_path=RUN/checkpoints/last.ckpt hydra.run.dir=OUT    # format=onnx opset=17

Writes ``OUT/model.onnx`` (+ ``backbone.onnx`` and ``head.onnx`` for the bilstm) and ``OUT/preprocessing.json``;
``riskvision.inference.onnx_backend.OnnxBackend(OUT)`` runs them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch  # noqa: E402

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="export.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Hydra entry point: export ``ckpt_path`` into the run folder."""
    from riskvision.inference.export import export_checkpoint  # here, not at the top: --help stays fast

    report = export_checkpoint(
        cfg.ckpt_path, HydraConfig.get().runtime.output_dir, cfg.format, cfg.opset, list(cfg.trusted_targets)
    )
    log.info(report.describe())


if __name__ == "__main__":
    main()
