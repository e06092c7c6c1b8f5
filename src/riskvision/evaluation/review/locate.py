"""Where each video of a data config lives: the records its sources build (``data=<group>``, as train.py and eval.py
take it). For data sets whose record ids are not their file names (CCD's ``crash_000001``, DAD's
``training_positive_000123``), and for the annotated alert times (Nexar's) that predictions tables do not carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["VideoLocation", "locate_videos"]


@dataclass(frozen=True)
class VideoLocation:
    """A record's ``path`` (its video file or frame folder) and annotated alert time ``alert_s`` (seconds, ``None``:
    none)."""

    path: Path
    alert_s: float | None = None


def locate_videos(data: Mapping[str, Any]) -> dict[str, VideoLocation]:
    """``video_id -> VideoLocation`` of every record built by the sources of ``data`` (a run config's ``data`` node:
    its sources are built, ``riskvision.data.datasets.record_sources``; a source that generates its files, the
    synthetic one, prepares them first)."""
    from riskvision.data.datasets import record_sources  # the data layer and Hydra only when a data config is given

    issues: list = []
    located: dict[str, VideoLocation] = {}
    for source in record_sources(data).values():
        if not source.active:
            continue
        source.prepare()
        for record in source.build(issues):
            alert = None if record.alert_start is None else record.alert_start / record.native_fps
            located.setdefault(record.video_id, VideoLocation(Path(record.path), alert))
    return located
