"""Compare evaluated runs side by side: comparison.md (metrics x runs, CIs, paired differences) + PNG figures.

    python scripts/compare.py runs=[logs/eval/runs/A,logs/eval/runs/B] hydra.run.dir=OUT
    python scripts/compare.py runs=logs/train/multiruns/2026-01-01_12-00-00 hydra.run.dir=OUT
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig

from riskvision.evaluation.report import Run, find_runs, load_runs, write_report


def log_to_wandb(cfg: DictConfig, runs: list[Run], outputs: dict[str, Path], out_dir: Path) -> None:
    """One wandb run holding the comparison table and every figure (offline unless told otherwise)."""
    import pandas as pd
    import wandb

    table = pd.read_csv(out_dir / "comparison.csv")
    run = wandb.init(project=cfg.wandb.project, name=cfg.wandb.name, mode=cfg.wandb.mode, dir=str(out_dir),
                     job_type="compare", config={"runs": [str(r.folder) for r in runs]})
    try:
        run.log({"comparison": wandb.Table(dataframe=table.astype(str)),
                 **{name: wandb.Image(str(path)) for name, path in outputs.items() if path.suffix == ".png"}})
    finally:
        run.finish()


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare.yaml")
def main(cfg: DictConfig) -> None:
    """Find and load the runs, write the report into the Hydra run folder, optionally log it to wandb."""
    paths = list(cfg.runs) if isinstance(cfg.runs, ListConfig) else [cfg.runs]
    runs = load_runs(find_runs(paths))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    outputs = write_report(runs, out_dir, cfg.n_boot, cfg.seed)
    print(outputs["comparison"].read_text())
    if cfg.wandb.enabled:
        log_to_wandb(cfg, runs, outputs, out_dir)


if __name__ == "__main__":
    main()
