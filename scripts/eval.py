"""Evaluate a checkpoint: per-window predictions (with shortcut probes), cost and metrics.json.

    python scripts/eval.py ckpt_path=logs/train/runs/X/checkpoints/last.ckpt hydra.run.dir=DIR
    python scripts/eval.py ckpt_path=... data=dota_bdd data.dota_root=/data/DoTA settings.split=val

Writes DIR/predictions.csv and DIR/metrics.json (see riskvision.evaluation).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from riskvision.evaluation.runner import evaluate_module, run_name  # noqa: E402
from riskvision.utils import CONFIG_KEY, instantiate_data, load_checkpoint  # noqa: E402


def run_config(stored: dict[str, Any], cfg: DictConfig) -> DictConfig:
    """The stored run config with the command line's ``data`` over it: a chosen ``data=`` group replaces
    the stored data config (its interpolations resolve against the stored model and paths); loose
    ``+data.*`` / ``+model.*`` / ``+paths.*`` keys are merged over the stored values."""
    run = OmegaConf.create(stored)
    data_group = HydraConfig.get().runtime.choices.get("data")
    for key in ("data", "model", "paths"):
        if cfg.get(key) is None:
            continue
        override = OmegaConf.to_container(cfg[key], resolve=False)
        run[key] = override if key == "data" and data_group not in (None, "null") else OmegaConf.merge(run[key], override)
    return run


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Rebuild module and datamodule from the checkpoint's config, load the weights, evaluate."""
    checkpoint = load_checkpoint(cfg.ckpt_path)
    run = run_config(checkpoint[CONFIG_KEY], cfg)
    module = hydra.utils.instantiate(run.model)
    module.load_state_dict(checkpoint["state_dict"])
    datamodule = instantiate_data(run.data)
    settings = hydra.utils.instantiate(cfg.settings)
    name = cfg.name or run_name(OmegaConf.to_container(run.model, resolve=True))
    extra = {"checkpoint": str(Path(cfg.ckpt_path).resolve()), "synthetic": bool(getattr(datamodule, "is_synthetic", False))}
    return evaluate_module(module, datamodule, HydraConfig.get().runtime.output_dir, settings, name, extra)


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval.yaml")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    evaluate(cfg)


if __name__ == "__main__":
    main()
