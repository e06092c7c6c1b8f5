"""Check a data configuration: clips per split/source/class, risk-label counts and data problems.

    python scripts/check_data.py                                  # the synthetic data
    python scripts/check_data.py data=dota_bdd data.dota_root=/data/DoTA data.bdd_root=/data/bdd100k
    python scripts/check_data.py ... verify_videos=true           # also decode every video to its end (slow)
    python scripts/check_data.py ... verify_cache=null            # decode every frame file again (no cache)

Problems (``riskvision.data.check``): missing or unreadable frames/videos, anomaly spans beyond the frames,
label-count mismatches, ids in two splits, empty splits, clips with no readable frame, videos whose decoded
frame count differs from the stated one. Exit code 1 when one of them is fatal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch


@hydra.main(version_base="1.3", config_path=str(Path(__file__).resolve().parents[1] / "conf"), config_name="check_data")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Build the data config's datamodule, check it, print the report; exit 1 on a fatal problem."""
    from riskvision.data.check import check, print_report  # here, not at the top: --help stays fast
    from riskvision.utils import check_data_settings

    check_data_settings(cfg.data)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    summary, problems = check(
        datamodule, frames=cfg.verify_frames, videos=cfg.verify_videos, frames_cache=cfg.get("verify_cache")
    )
    print_report(summary, problems, cfg.max_listed)
    if any(p.fatal for p in problems):
        sys.exit(1)


if __name__ == "__main__":
    main()
