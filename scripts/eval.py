"""Evaluate a checkpoint: per-window predictions (with shortcut probes), cost and metrics.json.

    python scripts/eval.py ckpt_path=logs/train/runs/X/checkpoints/last.ckpt hydra.run.dir=DIR
    python scripts/eval.py ckpt_path=... data=dota_bdd data.dota_root=/data/DoTA settings.split=val

Writes DIR/predictions.parquet and DIR/metrics.json (``riskvision.evaluation.runner.evaluate_checkpoint``).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Hydra entry point: the command line's data / model / paths go over the checkpoint's stored config."""
    from riskvision.evaluation.runner import evaluate_checkpoint  # here, not at the top: --help stays fast

    runtime = HydraConfig.get().runtime
    settings = hydra.utils.instantiate(cfg.settings)
    evaluate_checkpoint(
        cfg.ckpt_path,
        cfg,
        runtime.choices.get("data"),
        settings,
        runtime.output_dir,
        cfg.name,
        list(cfg.trusted_targets),
        store=bool(cfg.store_operating_point),
    )


if __name__ == "__main__":
    main()
