"""``scripts/predict_video.py``'s composed config (``conf/predict_video.yaml``) -> checked settings -> the typed
configs of :func:`riskvision.inference.videos.predict_videos` -> its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig

from riskvision.alarm import AlarmPolicy, PolicyError
from riskvision.inference.config import AlarmConfig, InputConfig, OutputConfig, RuntimeConfig
from riskvision.inference.settings import check_predict_settings
from riskvision.inference.videos import PredictReport, predict_videos

__all__ = ["predict_from_config"]


def _policy(alarm: DictConfig | None) -> AlarmPolicy | None:
    """The alarm policy of ``alarm=`` (``None``: the checkpoint's); a bad value is its ``PolicyError`` (one line naming
    the key), not Hydra's instantiation traceback."""
    try:
        return hydra.utils.instantiate(alarm) if alarm else None
    except InstantiationException as error:
        if isinstance(error.__cause__, PolicyError):
            raise error.__cause__ from None
        raise


def _checked_videos(cfg: DictConfig) -> Any:
    """``cfg.videos`` as plain data, after :func:`check_predict_settings` accepted every setting (one line naming the
    key and the fix otherwise)."""
    videos = list(cfg.videos) if isinstance(cfg.videos, ListConfig) else cfg.videos
    alarm = cfg.get("alarm") or {}
    policy_values = {
        f"alarm.{part}.{key}": value
        for part in ("smoothing", "rule")
        for key, value in (alarm.get(part) or {}).items()
        if key != "_target_"
    }
    keys = ("step", "batch_size", "device", "backend", "precision", "threads", "format", "overlay_short_side")
    check_predict_settings(
        {
            "videos": videos,
            **{key: cfg[key] for key in keys},
            "frames_fps": cfg.frames_fps,
            "alarm_threshold": cfg.alarm_threshold,
            **policy_values,
        }
    )
    return videos


def predict_from_config(cfg: DictConfig, out_dir: Path) -> PredictReport:
    """Check ``cfg`` and score its ``videos`` with ``cfg.ckpt_path`` into ``out_dir`` (:func:`predict_videos`)."""
    videos = _checked_videos(cfg)
    return predict_videos(
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
