"""Compare evaluated runs side by side: comparison.md (metrics x runs, CIs, paired differences) + PNG figures.

python scripts/compare.py runs=[logs/eval/runs/A,logs/eval/runs/B] hydra.run.dir=OUT
python scripts/compare.py runs=logs/train/multiruns/2026-01-01_12-00-00 hydra.run.dir=OUT
python scripts/compare.py runs=[A,B] review.enabled=true review.videos=[data/synthetic]   # + OUT/review/
python scripts/compare.py runs=logs/train/multiruns/2026-01-01_12-00-00 reference=bilstm   (A = that run)
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Find and load the runs, write the report into the Hydra run folder, optionally log it to wandb."""
    from riskvision.evaluation.report import (  # --help stays fast
        find_runs,
        load_runs,
        log_to_wandb,
        reference_first,
        write_report,
    )
    from riskvision.evaluation.review import review_settings, write_review
    from riskvision.evaluation.summary import headline

    paths = list(cfg.runs) if isinstance(cfg.runs, ListConfig) else [cfg.runs]
    runs = reference_first(load_runs(find_runs(paths)), cfg.get("reference"))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    review = write_review(runs, out_dir / "review", review_settings(cfg.review)) if cfg.review.enabled else None
    outputs = write_report(runs, out_dir, cfg.n_boot, cfg.seed, review)
    log.info(outputs["comparison"].read_text())  # the console and compare.log (Hydra's job log) alike
    log.info(
        "\n".join(
            ["Headline metrics:", *(f"  {headline(run.metrics)}" for run in runs), f"Report: {outputs['comparison']}"]
        )
    )
    if cfg.wandb.enabled:
        wandb_dir = log_to_wandb(runs, outputs, out_dir, cfg.wandb.project, cfg.wandb.name, cfg.wandb.mode)
        log.info(
            f"Comparison table and figures logged to the {cfg.wandb.mode} wandb run {wandb_dir}"
            + (f" (upload: wandb sync {wandb_dir})" if cfg.wandb.mode == "offline" else "")
        )


if __name__ == "__main__":
    main()
