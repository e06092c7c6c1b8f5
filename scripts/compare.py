"""Compare evaluated runs side by side: comparison.md (metrics x runs, CIs, paired differences) + PNG figures.

    python scripts/compare.py runs=[logs/eval/runs/A,logs/eval/runs/B] hydra.run.dir=OUT
    python scripts/compare.py runs=logs/train/multiruns/2026-01-01_12-00-00 hydra.run.dir=OUT
    python scripts/compare.py runs=logs/train/multiruns/2026-01-01_12-00-00 reference=bilstm   (A = that run)
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig

from riskvision.evaluation.report import find_runs, load_runs, log_to_wandb, reference_first, write_report
from riskvision.evaluation.summary import headline
from riskvision.utils.run_folder import exits_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Find and load the runs, write the report into the Hydra run folder, optionally log it to wandb."""
    paths = list(cfg.runs) if isinstance(cfg.runs, ListConfig) else [cfg.runs]
    runs = reference_first(load_runs(find_runs(paths)), cfg.get("reference"))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    outputs = write_report(runs, out_dir, cfg.n_boot, cfg.seed)
    print(outputs["comparison"].read_text())
    print("\n".join(["Headline metrics:", *(f"  {headline(run.metrics)}" for run in runs),
                     f"Report: {outputs['comparison']}"]))
    if cfg.wandb.enabled:
        log_to_wandb(runs, outputs, out_dir, cfg.wandb.project, cfg.wandb.name, cfg.wandb.mode)


if __name__ == "__main__":
    main()
