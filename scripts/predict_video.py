"""Run a trained checkpoint on your own dashcam videos and live sources: per-frame scores, a timeline, an overlay.

    python scripts/predict_video.py ckpt_path=RUN/checkpoints/last.ckpt videos=[a.mp4,b.mov] hydra.run.dir=OUT
    python scripts/predict_video.py ckpt_path=... videos=/path/to/folder overlay=true step=2 device=cuda
    python scripts/predict_video.py ckpt_path=... videos=rtsp://camera/stream format=jsonl
    python scripts/predict_video.py ckpt_path=... videos=frames/clip/images annotations=DoTA/annotations

Works with either model: the binary ``bilstm`` (P(crash)) and the 3-class ``resnet3d101`` (P(Normal),
P(Warning), P(Danger)); clip length, frame size, normalisation, target fps, classes and the tuned threshold
come from the checkpoint (``riskvision.inference.Predictor``), and so does the alarm: the policy and threshold of
its operating point, chosen on validation (``alarm=`` / ``alarm_threshold=`` replace them). Every source is
streamed through the engine
(``riskvision.inference.videos``: constant memory, a progress line with the real-time factor) into
``OUT/<name>.csv`` (or ``.jsonl``), ``OUT/<name>_timeline.png`` and, with ``overlay=true``,
``OUT/<name>_overlay.mp4`` (``riskvision.inference.outputs``). A bad source is reported, the others still run,
and the run exits non-zero at the end with the list.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch  # noqa: E402

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict_video.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Hydra entry point: score the sources into the run folder; exit 1 listing the sources that failed."""
    from riskvision.inference.predict_config import predict_from_config  # here, not at the top: --help stays fast

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    report = predict_from_config(cfg, out_dir)
    log.info(f"{report.table()}\nOutputs in {out_dir}")
    if report.failures:
        lines = "\n".join(f"  {source}: {message}" for source, message in report.failures)
        sys.exit(f"{len(report.failures)} source(s) failed ({len(report.results)} scored, in {out_dir}):\n{lines}")


if __name__ == "__main__":
    main()
