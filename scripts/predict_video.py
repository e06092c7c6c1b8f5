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
from typing import Any

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, ListConfig  # noqa: E402

from riskvision.utils.run_folder import exits_on_user_error  # light: --help does not import torch  # noqa: E402

log = logging.getLogger(__name__)


def _policy(alarm: DictConfig | None) -> Any:
    """The alarm policy of ``alarm=`` (``None``: the checkpoint's); a bad value is its ``PolicyError`` (one line naming
    the key), not Hydra's instantiation traceback."""
    from hydra.errors import InstantiationException

    from riskvision.alarm import PolicyError

    try:
        return hydra.utils.instantiate(alarm) if alarm else None
    except InstantiationException as error:
        if isinstance(error.__cause__, PolicyError):
            raise error.__cause__ from None
        raise


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict_video.yaml")
@exits_on_user_error
def main(cfg: DictConfig) -> None:
    """Hydra entry point: score the sources into the run folder; exit 1 listing the sources that failed."""
    from riskvision.inference import (
        AlarmConfig,
        InputConfig,
        OutputConfig,
        RuntimeConfig,
        predict_videos,
    )  # here, not at the top: --help stays fast
    from riskvision.inference.settings import check_predict_settings

    videos = list(cfg.videos) if isinstance(cfg.videos, ListConfig) else cfg.videos
    alarm = cfg.get("alarm") or {}
    policy_values = {
        f"alarm.{part}.{key}": value
        for part in ("smoothing", "rule")
        for key, value in (alarm.get(part) or {}).items()
        if key != "_target_"
    }
    check_predict_settings(
        {
            "videos": videos,
            "step": cfg.step,
            "batch_size": cfg.batch_size,
            "device": cfg.device,
            "backend": cfg.backend,
            "precision": cfg.precision,
            "threads": cfg.threads,
            "format": cfg.format,
            "overlay_short_side": cfg.overlay_short_side,
            "frames_fps": cfg.frames_fps,
            "alarm_threshold": cfg.alarm_threshold,
            **policy_values,
        }
    )
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    report = predict_videos(
        cfg.ckpt_path,
        videos,
        out_dir,
        step=cfg.step,
        runtime=RuntimeConfig(
            device=cfg.device,
            batch_size=cfg.batch_size,
            backend=cfg.backend,
            precision=cfg.precision,
            export_dir=cfg.export_dir,
            threads=cfg.threads,
            trusted_targets=list(cfg.trusted_targets),
        ),
        outputs=OutputConfig(
            fmt=cfg.format, timeline=cfg.timeline, overlay=cfg.overlay, overlay_short_side=cfg.overlay_short_side
        ),
        alarm=AlarmConfig(policy=_policy(cfg.get("alarm")), threshold=cfg.alarm_threshold),
        inputs=InputConfig(frames_fps=cfg.frames_fps, annotations=cfg.annotations),
    )
    log.info(f"{report.table()}\nOutputs in {out_dir}")
    if report.failures:
        lines = "\n".join(f"  {source}: {message}" for source, message in report.failures)
        sys.exit(f"{len(report.failures)} source(s) failed ({len(report.results)} scored, in {out_dir}):\n{lines}")


if __name__ == "__main__":
    main()
