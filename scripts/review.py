"""The review page of evaluated runs: every scored video, the runs side by side, its clip and timelines.

    python scripts/review.py runs=[logs/eval/runs/A,logs/eval/runs/B] videos=[data/synthetic] hydra.run.dir=OUT
    python scripts/review.py runs=[logs/eval/on_ccd] data=ccd data.root=/data/CarCrash    # the data config's videos

Writes OUT/review/index.html (+ data.js, series/, clips/), which opens from disk in any browser
(``riskvision.evaluation.review.build_review``; docs/review.md).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))  # paths.data_dir of data=<group>

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, ListConfig  # noqa: E402

from riskvision.evaluation.review import build_review, review_settings  # noqa: E402
from riskvision.utils.run_folder import exits_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="review.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Find and load the runs, write the page into the Hydra run folder's ``review/``."""
    paths = list(cfg.runs) if isinstance(cfg.runs, ListConfig) else [cfg.runs]
    index = build_review(paths, Path(HydraConfig.get().runtime.output_dir) / "review", review_settings(cfg))
    print(f"Review page: {index.resolve()} (open it in a browser; no server needed)")


if __name__ == "__main__":
    main()
